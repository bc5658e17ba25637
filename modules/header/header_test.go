package header

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"httpd/internal/gateway/gatewaytest"
	"httpd/internal/testutil"
	"httpd/registry"
)

// decode decodes src, which must be valid.
func decode(t *testing.T, src string) *Module {
	t.Helper()
	m := new(Module)
	if diags := m.Decode(testutil.ParseBlock(t, src), &registry.DecodeContext{ServerRoot: "/srv"}); diags.HasErrors() {
		t.Fatalf("decode: %s", diags.Error())
	}
	if err := m.Provision(context.Background(), &registry.Env{}); err != nil {
		t.Fatal(err)
	}
	return m
}

// pipeline wraps next in the stages of blocks, the first outermost, as a
// vhost does.
func pipeline(t *testing.T, next registry.Handler, blocks ...string) http.Handler {
	t.Helper()
	h := next
	for i := len(blocks) - 1; i >= 0; i-- {
		h = decode(t, blocks[i]).Wrap(h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h.ServeHTTP(w, r); err != nil {
			w.WriteHeader(registry.StatusOf(err))
		}
	})
}

// content stands for the rest of the pipeline: it sets X-Powered-By and
// Link, then answers as the path says.
var content = registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("X-Powered-By", "PHP")
	w.Header().Set("Link", "</a.js>; rel=preload")
	switch r.URL.Path {
	case "/missing":
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "404")
	case "/silent":
	case "/readfrom":
		w.(io.ReaderFrom).ReadFrom(strings.NewReader("file"))
	case "/flush":
		w.(http.Flusher).Flush()
		io.WriteString(w, "late")
	default:
		io.WriteString(w, "body")
	}
	return nil
})

func TestHeader(t *testing.T) {
	site := `header "/" {
		set    = { "Strict-Transport-Security" = "max-age=31536000" }
		add    = { "link" = "</style.css>; rel=preload" }
		remove = ["x-powered-by"]
	}`
	admin := `header "/admin/" {
		set    = { "Strict-Transport-Security" = "max-age=0", "Cache-Control" = "no-store" }
		remove = ["Link"]
	}`
	api := `header "/api" { add = { "X-Api" = "1" } }`

	tests := []struct {
		name   string
		blocks []string
		target string
		status int
		want   map[string][]string // nil value: absent
	}{
		{name: "all three", blocks: []string{site}, target: "/index.html", status: 200, want: map[string][]string{
			"Strict-Transport-Security": {"max-age=31536000"},
			"Link":                      {"</a.js>; rel=preload", "</style.css>; rel=preload"},
			"X-Powered-By":              nil,
		}},
		{name: "error status", blocks: []string{site}, target: "/missing", status: 404, want: map[string][]string{
			"Strict-Transport-Security": {"max-age=31536000"}, "X-Powered-By": nil,
		}},
		{name: "nothing written", blocks: []string{site}, target: "/silent", status: 200, want: map[string][]string{
			"Strict-Transport-Security": {"max-age=31536000"}, "X-Powered-By": nil,
		}},
		{name: "read from", blocks: []string{site}, target: "/readfrom", status: 200, want: map[string][]string{
			"Strict-Transport-Security": {"max-age=31536000"}, "X-Powered-By": nil,
		}},
		{name: "flush", blocks: []string{site}, target: "/flush", status: 200, want: map[string][]string{
			"Strict-Transport-Security": {"max-age=31536000"}, "X-Powered-By": nil,
		}},
		{name: "outside prefix", blocks: []string{admin}, target: "/administrator", status: 200, want: map[string][]string{
			"Strict-Transport-Security": nil, "Link": {"</a.js>; rel=preload"}, "X-Powered-By": {"PHP"},
		}},
		{name: "longer prefix last", blocks: []string{site, admin}, target: "/admin/x", status: 200, want: map[string][]string{
			"Strict-Transport-Security": {"max-age=0"}, "Cache-Control": {"no-store"}, "Link": nil, "X-Powered-By": nil,
		}},
		{name: "longer prefix last, whatever the order", blocks: []string{admin, site}, target: "/admin/x", status: 200, want: map[string][]string{
			"Strict-Transport-Security": {"max-age=0"}, "Cache-Control": {"no-store"}, "Link": nil, "X-Powered-By": nil,
		}},
		{name: "only matching blocks", blocks: []string{admin, site, api}, target: "/api/v1", status: 200, want: map[string][]string{
			"Strict-Transport-Security": {"max-age=31536000"}, "Cache-Control": nil, "X-Api": {"1"},
			"Link": {"</a.js>; rel=preload", "</style.css>; rel=preload"},
		}},
		{name: "inner block alone", blocks: []string{admin, api}, target: "/api", status: 200, want: map[string][]string{
			"X-Api": {"1"}, "Cache-Control": nil, "X-Powered-By": {"PHP"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := pipeline(t, content, tc.blocks...)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", tc.target, nil))
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d", rec.Code, tc.status)
			}
			for name, want := range tc.want {
				if got := rec.Result().Header.Values(name); !slices.Equal(got, want) {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestHeaderDecodeErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"bad set name", `header "/" { set = { "Bad Name" = "x" } }`, `test.hcl:1,20-40: Invalid header name in set`},
		{"bad add name", `header "/" { add = { "X:Y" = "x" } }`, `test.hcl:1,20-35: Invalid header name in add`},
		{"empty name", `header "/" { add = { "" = "x" } }`, `is empty`},
		{"value with newline", "header \"/\" {\n  set = { \"X-A\" = \"a\\r\\nInjected: 1\" }\n}", `test.hcl:2,9-39: Invalid header value in set`},
		{"bad remove name", "header \"/\" {\n\n    remove = [\"X(Y)\"]\n}", `test.hcl:3,14-22: Invalid header name in remove`},
		{"remove not a list", `header "/" { remove = { a = "b" } }`, `remove`},
		{"set not a map", `header "/" { set = ["a"] }`, `set`},
		{"unknown attribute", `header "/" { append = { "A" = "b" } }`, `Unsupported argument`},
		{"bad prefix", `header "nope" { set = { "A" = "b" } }`, `URL prefix`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := new(Module)
			diags := m.Decode(testutil.ParseBlock(t, tc.src), &registry.DecodeContext{})
			if !diags.HasErrors() {
				t.Fatalf("no error, want %q", tc.want)
			}
			if got := diags.Error(); !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHeaderEmptyBlockWarns(t *testing.T) {
	diags := new(Module).Decode(testutil.ParseBlock(t, `header "/" {}`), &registry.DecodeContext{})
	if diags.HasErrors() || len(diags) != 1 || !strings.Contains(diags[0].Summary, "Empty") {
		t.Errorf("diags = %v, want one warning", diags)
	}
}

// TestHeaderWriter checks that the writer passes ReadFrom through to the
// writer below, unwraps, and leaves a path outside the prefix alone.
func TestHeaderWriter(t *testing.T) {
	m := decode(t, `header "/in/" { set = { "X-A" = "1" } }`)
	var got http.ResponseWriter
	stage := m.Wrap(registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		got = w
		return nil
	}))
	base := &gatewaytest.TrackingWriter{ResponseWriter: httptest.NewRecorder()}

	stage.ServeHTTP(base, httptest.NewRequest("GET", "/out", nil))
	if got != http.ResponseWriter(base) {
		t.Errorf("outside the prefix the writer is %T, want the one given", got)
	}
	stage.ServeHTTP(base, httptest.NewRequest("GET", "/in/x", nil))
	u, ok := got.(interface{ Unwrap() http.ResponseWriter })
	if !ok || u.Unwrap() != http.ResponseWriter(base) {
		t.Errorf("writer %T does not unwrap to the one given", got)
	}

	rf := &readFromRecorder{ResponseRecorder: httptest.NewRecorder()}
	stage.ServeHTTP(rf, httptest.NewRequest("GET", "/in/x", nil))
	n, err := got.(io.ReaderFrom).ReadFrom(strings.NewReader("abc"))
	if n != 3 || err != nil || !rf.called || rf.Body.String() != "abc" || rf.Header().Get("X-A") != "1" {
		t.Errorf("ReadFrom = %d, %v; passed through %v, body %q, X-A %q", n, err, rf.called, rf.Body, rf.Header().Get("X-A"))
	}
}

// readFromRecorder is a ResponseRecorder with a ReadFrom of its own.
type readFromRecorder struct {
	*httptest.ResponseRecorder
	called bool
}

func (r *readFromRecorder) ReadFrom(src io.Reader) (int64, error) {
	r.called = true
	return io.Copy(r.ResponseRecorder, src)
}

func TestHeaderNoAllocOutsidePrefix(t *testing.T) {
	m := decode(t, `header "/in/" { set = { "X-A" = "1" } }`)
	stage := m.Wrap(registry.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil }))
	w, r := httptest.NewRecorder(), httptest.NewRequest("GET", "/out/x", nil)
	if n := testing.AllocsPerRun(100, func() { stage.ServeHTTP(w, r) }); n != 0 {
		t.Errorf("%v allocations outside the prefix, want 0", n)
	}
}

func TestHeaderDescribeExplain(t *testing.T) {
	m := decode(t, `header "/" {
		set    = { "Strict-Transport-Security" = "max-age=31536000" }
		add    = { "Link" = "</style.css>; rel=preload" }
		remove = ["X-Powered-By"]
	}`)
	if got, want := m.Describe(), "header /: removes X-Powered-By, sets Strict-Transport-Security and adds Link"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
	e := m.Explain(httptest.NewRequest("GET", "/a", nil), registry.Mount{})
	if e.Ends || e.Status != 0 || !strings.Contains(e.Says, "sets Strict-Transport-Security") {
		t.Errorf("Explain = %+v", e)
	}
	e = decode(t, `header "/x/" { add = { "A" = "b" } }`).Explain(httptest.NewRequest("GET", "/a", nil), registry.Mount{})
	if !strings.Contains(e.Says, "not under /x/") {
		t.Errorf("Explain outside = %+v", e)
	}
}
