package errorpages

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"httpd/internal/testutil"
	"httpd/registry"
)

// decode decodes error_pages = src inside a block, as the core hands it
// over.
func decode(t testing.TB, src string) (*Module, []string) {
	t.Helper()
	m := new(Module)
	b := testutil.ParseBlock(t, "vhost {\n  error_pages = "+src+"\n}\n")
	var got []string
	for _, d := range m.Decode(b, &registry.DecodeContext{ServerRoot: "/srv"}) {
		got = append(got, fmt.Sprintf("%d:%d %s: %s", d.Subject.Start.Line, d.Subject.Start.Column, d.Summary, d.Detail))
	}
	return m, got
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		want  []string       // "line:col summary" prefixes, in order
		pages map[int]string // status → page, for valid configs
		none  []int          // statuses with no page
		desc  string         // Describe, when set
	}{
		{"status and class", `{ "404" = "/errors/404.html", "5xx" = "/errors/5xx.html" }`, nil,
			map[int]string{404: "/errors/404.html", 500: "/errors/5xx.html", 502: "/errors/5xx.html", 599: "/errors/5xx.html"},
			[]int{400, 403, 410, 399, 600}, "404 -> /errors/404.html, 5xx -> /errors/5xx.html"},
		{"exact wins over class, either order", `{ "503" = "/busy.html", "5xx" = "/5xx.html", "4XX" = "/4xx.html", "410" = "/gone.html" }`, nil,
			map[int]string{503: "/busy.html", 500: "/5xx.html", 410: "/gone.html", 404: "/4xx.html", 400: "/4xx.html"}, nil,
			"503 -> /busy.html, 5xx -> /5xx.html, 4xx -> /4xx.html, 410 -> /gone.html"},
		{"number key, query", `{ 404 = "/index.php?page=missing" }`, nil, map[int]string{404: "/index.php?page=missing"}, []int{500}, ""},
		{"empty map", `{}`, nil, nil, []int{404, 500}, ""},
		{"status out of range", `{ "302" = "/x.html", "600" = "/y.html" }`,
			[]string{"2:19 Invalid error_pages key: 302 is not an error status", "2:38 Invalid error_pages key: 600 is not an error status"}, nil, nil, ""},
		{"bad keys", `{ "3xx" = "/a", "abc" = "/b", "40x" = "/c", " 404" = "/d" }`,
			[]string{`2:19 Invalid error_pages key: "3xx" is not an error class`, `2:33 Invalid error_pages key: "abc" is not a status`,
				`2:47 Invalid error_pages key: "40x" is not a status`, `2:61 Invalid error_pages key: " 404" is not a status`}, nil, nil, ""},
		{"duplicate", `{ "5xx" = "/a", "5XX" = "/b" }`, []string{`2:33 Duplicate error_pages key: "5XX" already has a page at test.hcl:2:19`}, nil, nil, ""},
		{"bad values", `{ "404" = "errors/404.html", "500" = "https://example.com/", "502" = "//x/y", "503" = "/a/../b", "504" = "/a b" }`,
			[]string{`2:27 Invalid error page: "errors/404.html" does not start with "/"`, `2:54 Invalid error page: "https://example.com/" is a URL`,
				`2:86 Invalid error page: "//x/y" starts with "//"`, `2:103 Invalid error page: "/a/../b" holds "." or ".." segments`,
				`2:122 Invalid error page: "/a b" holds a fragment`}, nil, nil, ""},
		{"value not a string", `{ "404" = ["/a"] }`, []string{"2:27 Invalid error_pages value"}, nil, nil, ""},
		{"not a map", `["/a"]`, []string{"2:17 Invalid value for error_pages: error_pages must be a map written out"}, nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, got := decode(t, tt.src)
			if len(got) != len(tt.want) {
				t.Fatalf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("diagnostic %d: %q, want prefix %q", i, got[i], tt.want[i])
				}
			}
			for s, want := range tt.pages {
				if p := m.PageFor(s); p != want {
					t.Errorf("PageFor(%d) = %q, want %q", s, p, want)
				}
			}
			for _, s := range tt.none {
				if p := m.PageFor(s); p != "" {
					t.Errorf("PageFor(%d) = %q, want none", s, p)
				}
			}
			if tt.desc != "" && m.Describe() != tt.desc {
				t.Errorf("Describe() = %q, want %q", m.Describe(), tt.desc)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		key           string
		status, class int
		ok            bool
	}{
		{"404", 404, 0, true}, {"400", 400, 0, true}, {"599", 599, 0, true}, {"4xx", 0, 4, true}, {"5XX", 0, 5, true},
		{"5xX", 0, 5, true}, {"399", 0, 0, false}, {"600", 0, 0, false}, {"3xx", 0, 0, false}, {"6xx", 0, 0, false},
		{"", 0, 0, false}, {"4040", 0, 0, false}, {"40", 0, 0, false}, {"+40", 0, 0, false}, {"x04", 0, 0, false},
		{"4x4", 0, 0, false}, {"४०४", 0, 0, false},
	}
	for _, tt := range tests {
		s, c, err := ParseKey(tt.key)
		if (err == nil) != tt.ok || s != tt.status || c != tt.class {
			t.Errorf("ParseKey(%q) = %d, %d, %v; want %d, %d, ok %v", tt.key, s, c, err, tt.status, tt.class, tt.ok)
		}
	}
}

// FuzzParseKey: a key is accepted only as a status from 400 to 599 or
// as the class 4xx or 5xx, and a decoded map built from it agrees.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"404", "5xx", "4XX", "600", "3xx", "", "४०४", "40x", "0404", "4\x00x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		status, class, err := ParseKey(key)
		if err != nil {
			if status != 0 || class != 0 || err.Error() == "" {
				t.Fatalf("ParseKey(%q) = %d, %d, %v", key, status, class, err)
			}
			return
		}
		switch {
		case status != 0 && (status < 400 || status > 599 || class != 0 || fmt.Sprint(status) != key):
			t.Fatalf("ParseKey(%q) = status %d, class %d", key, status, class)
		case status == 0 && (class != 4 && class != 5 || strings.ToLower(key) != fmt.Sprintf("%dxx", class)):
			t.Fatalf("ParseKey(%q) = class %d", key, class)
		}
		m, diags := decode(t, fmt.Sprintf("{ %q = \"/e.html\" }", key))
		if len(diags) != 0 {
			t.Fatalf("decode of key %q: %v", key, diags)
		}
		probe := status
		if probe == 0 {
			probe = class*100 + 3
		}
		if m.PageFor(probe) != "/e.html" {
			t.Fatalf("key %q: no page for %d", key, probe)
		}
	})
}

func TestCheckPath(t *testing.T) {
	for _, ok := range []string{"/", "/errors/404.html", "/e?x=1&y=/a", "/a.b/c..d"} {
		if why := CheckPath(ok); why != "" {
			t.Errorf("CheckPath(%q) = %q", ok, why)
		}
	}
	for _, bad := range []string{"", "e.html", "//host/e", "/a/./b", "/..", "/a#b", "/a\\b", "http://x/", "/a\nb"} {
		if CheckPath(bad) == "" {
			t.Errorf("CheckPath(%q) accepted", bad)
		}
	}
}

// site is a vhost in miniature: the stage in front of routes, with
// Env.Pipeline running the stage again, and the vhost's answer to
// errors.
type site struct {
	h      http.Handler
	log    *bytes.Buffer
	served []string // paths the pipeline saw, with their method
}

func newSite(t *testing.T, src string, routes map[string]registry.HandlerFunc) *site {
	t.Helper()
	m, diags := decode(t, src)
	if len(diags) > 0 {
		t.Fatalf("decode: %v", diags)
	}
	s := &site{log: &bytes.Buffer{}}
	var stage registry.Handler
	env := &registry.Env{
		Logger: slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug})).With("vhost", "example.com"),
		Pipeline: registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			return stage.ServeHTTP(w, r)
		}),
	}
	if err := m.Provision(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	stage = m.Wrap(registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		s.served = append(s.served, r.Method+" "+r.URL.RequestURI())
		if h, ok := routes[r.URL.Path]; ok {
			return h(w, r)
		}
		return registry.Error(http.StatusNotFound, errors.New("no such file"))
	}))
	s.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := stage.ServeHTTP(w, r); err != nil {
			for k := range w.Header() {
				if k != "Www-Authenticate" && k != "Vary" {
					w.Header().Del(k)
				}
			}
			w.WriteHeader(registry.StatusOf(err))
			fmt.Fprintf(w, "built-in %d", registry.StatusOf(err))
		}
	})
	return s
}

func pageOf(body string) registry.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Etag", `"abc"`)
		w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			fmt.Fprint(w, body)
		}
		return nil
	}
}

func fail(status int) registry.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return registry.Errorf(status, "failed with %d", status)
	}
}

func TestServe(t *testing.T) {
	routes := map[string]registry.HandlerFunc{
		"/errors/404.html": pageOf("custom 404"),
		"/errors/5xx.html": pageOf("custom 5xx"),
		"/busy.html":       pageOf("busy"),
		"/ok":              pageOf("fine"),
		"/boom":            fail(500),
		"/bad-gateway":     fail(502),
		"/busy":            fail(503),
		"/forbidden":       fail(403),
		"/gone-client":     fail(registry.StatusClientClosed),
		"/auth": func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("WWW-Authenticate", `Basic realm="x"`)
			w.Header().Set("Vary", "Authorization")
			w.Header().Set("X-Stale", "1")
			return registry.Error(http.StatusUnauthorized, nil)
		},
		"/own-500": func(w http.ResponseWriter, r *http.Request) error {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, "the script's own page")
			return nil
		},
		"/half": func(w http.ResponseWriter, r *http.Request) error {
			fmt.Fprint(w, "partial")
			return errors.New("broke mid-body")
		},
		"/redirecting-page": func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Location", "/elsewhere")
			w.WriteHeader(http.StatusFound)
			fmt.Fprint(w, "moved")
			return nil
		},
		"/failing-page": fail(500),
		"/silent-page":  func(w http.ResponseWriter, r *http.Request) error { return nil },
		"/echo-headers": func(w http.ResponseWriter, r *http.Request) error {
			fmt.Fprintf(w, "range=%q inm=%q", r.Header.Get("Range"), r.Header.Get("If-None-Match"))
			return nil
		},
	}
	const cfg = `{ "404" = "/errors/404.html", "5xx" = "/errors/5xx.html", "503" = "/busy.html", "401" = "/errors/missing.html",
		"403" = "/redirecting-page", "410" = "/failing-page", "405" = "/silent-page", "400" = "/echo-headers" }`
	tests := []struct {
		name, method, path string
		header             http.Header
		status             int
		body               string
		headers            map[string]string // "" for absent
		log                string            // a line the error log must hold, "" for none at warn level
	}{
		{"404 page", "GET", "/nope", nil, 404, "custom 404", map[string]string{"Etag": "", "Last-Modified": "", "Content-Type": "text/html", "Content-Length": "10"}, ""},
		{"HEAD", "HEAD", "/nope", nil, 404, "", map[string]string{"Content-Length": "10"}, ""},
		{"POST gets a GET of the page", "POST", "/nope", nil, 404, "custom 404", nil, ""},
		{"class", "GET", "/boom", nil, 500, "custom 5xx", map[string]string{"Connection": "close"}, ""},
		{"class 502", "GET", "/bad-gateway", nil, 502, "custom 5xx", nil, ""},
		{"exact over class", "GET", "/busy", nil, 503, "busy", nil, ""},
		{"success untouched", "GET", "/ok", nil, 200, "fine", map[string]string{"Etag": `"abc"`}, ""},
		{"own error body kept", "GET", "/own-500", nil, 500, "the script's own page", nil, ""},
		{"client gone", "GET", "/gone-client", nil, 499, "built-in 499", nil, ""},
		{"missing page", "GET", "/auth", nil, 401, "built-in 401",
			map[string]string{"Www-Authenticate": `Basic realm="x"`, "Vary": "Authorization", "X-Stale": "", "Content-Type": ""},
			`msg="error page failed, sent the built-in page" vhost=example.com page=/errors/missing.html status=401 uri=/auth why="the page answered 404"`},
		{"redirecting page", "GET", "/forbidden", nil, 403, "built-in 403", map[string]string{"Location": ""}, `page=/redirecting-page status=403 uri=/forbidden why="the page answered 302 Found"`},
		{"failing page", "GET", "/gone", nil, 410, "built-in 410", nil, `page=/failing-page status=410 uri=/gone why="the page answered 500"`},
		{"page that sends nothing", "PUT", "/x", nil, 405, "built-in 405", nil, `why="the page sent nothing"`},
		{"page request is a plain GET", "GET", "/bad", http.Header{"Range": {"bytes=0-1"}, "If-None-Match": {`"abc"`}}, 400, `range="" inm=""`, nil, ""},
	}
	routes["/gone"] = fail(410)
	routes["/x"] = fail(405)
	routes["/bad"] = fail(400)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t, cfg, routes)
			r := httptest.NewRequest(tt.method, tt.path, strings.NewReader("body"))
			for k, v := range tt.header {
				r.Header[k] = v
			}
			w := httptest.NewRecorder()
			s.h.ServeHTTP(w, r)
			if w.Code != tt.status || w.Body.String() != tt.body {
				t.Errorf("got %d %q, want %d %q", w.Code, w.Body.String(), tt.status, tt.body)
			}
			for k, v := range tt.headers {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			warn := strings.Contains(s.log.String(), "level=WARN")
			if tt.log == "" && warn || tt.log != "" && !strings.Contains(s.log.String(), tt.log) {
				t.Errorf("log:\n%s\nwant: %q", s.log.String(), tt.log)
			}
			if n := strings.Count(s.log.String(), "level=WARN"); n > 1 {
				t.Errorf("%d warnings, want at most one", n)
			}
		})
	}
}

// TestServeLogsOriginal: the error a page stands for is still logged,
// at the level the vhost would use.
func TestServeLogsOriginal(t *testing.T) {
	s := newSite(t, `{ "5xx" = "/e.html" }`, map[string]registry.HandlerFunc{"/e.html": pageOf("e"), "/boom": fail(500)})
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, httptest.NewRequest("GET", "/boom", nil))
	if w.Code != 500 || !strings.Contains(s.log.String(), `level=ERROR msg="request failed"`) ||
		!strings.Contains(s.log.String(), `err="failed with 500" error_page=/e.html`) {
		t.Errorf("%d, log:\n%s", w.Code, s.log.String())
	}
}

// TestServeBegun: an error after the response began is the vhost's to
// handle: no page is appended.
func TestServeBegun(t *testing.T) {
	s := newSite(t, `{ "5xx" = "/e.html" }`, map[string]registry.HandlerFunc{
		"/e.html": pageOf("e"),
		"/half": func(w http.ResponseWriter, r *http.Request) error {
			fmt.Fprint(w, "partial")
			return errors.New("broke mid-body")
		},
	})
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, httptest.NewRequest("GET", "/half", nil))
	if got := w.Body.String(); got != "partialbuilt-in 500" {
		t.Errorf("body %q: the page was added to a begun response", got)
	}
	if strings.Contains(strings.Join(s.served, ","), "/e.html") {
		t.Errorf("the page was requested: %v", s.served)
	}
}

// TestServeLoop: a page reached only through re-entries past the limit
// is not served, and the loop is logged.
func TestServeLoop(t *testing.T) {
	s := newSite(t, `{ "404" = "/e.html" }`, map[string]registry.HandlerFunc{"/e.html": pageOf("e")})
	r := httptest.NewRequest("GET", "/nope", nil)
	for range registry.MaxReentries {
		r, _ = registry.Reentered(r)
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	if w.Code != 404 || w.Body.String() != "built-in 404" || !strings.Contains(s.log.String(), `why="loop: the request ran the pipeline 10 times"`) {
		t.Errorf("%d %q, log:\n%s", w.Code, w.Body.String(), s.log.String())
	}
}

// TestServeFlushAndReadFrom: the writers pass ReadFrom (sendfile) and
// Flush on, for stages and for pages.
func TestServeFlushAndReadFrom(t *testing.T) {
	readFrom := func(body string) registry.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) error {
			if err := http.NewResponseController(w).Flush(); err != nil {
				return err
			}
			rf, ok := w.(io.ReaderFrom)
			if !ok {
				return errors.New("no ReaderFrom")
			}
			_, err := rf.ReadFrom(strings.NewReader(body))
			return err
		}
	}
	s := newSite(t, `{ "404" = "/e.html" }`, map[string]registry.HandlerFunc{"/e.html": readFrom("streamed page"), "/stream": readFrom("streamed")})
	for path, want := range map[string]struct {
		status int
		body   string
	}{"/nope": {404, "streamed page"}, "/stream": {200, "streamed"}} {
		w := httptest.NewRecorder()
		s.h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != want.status || w.Body.String() != want.body || !w.Flushed {
			t.Errorf("%s: %d %q flushed %v", path, w.Code, w.Body.String(), w.Flushed)
		}
	}
}

// hijacker is a recorder whose connection can be taken over.
type hijacker struct{ *httptest.ResponseRecorder }

func (hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c1, c2 := net.Pipe()
	c2.Close()
	return c1, bufio.NewReadWriter(bufio.NewReader(c1), bufio.NewWriter(c1)), nil
}

// TestServeHijacked: a stage that took the connection over (a proxied
// WebSocket) and then failed gets no page.
func TestServeHijacked(t *testing.T) {
	s := newSite(t, `{ "5xx" = "/e.html" }`, map[string]registry.HandlerFunc{
		"/e.html": pageOf("e"),
		"/ws": func(w http.ResponseWriter, r *http.Request) error {
			c, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return err
			}
			c.Close()
			return errors.New("the pipe broke")
		},
	})
	w := hijacker{httptest.NewRecorder()}
	s.h.ServeHTTP(w, httptest.NewRequest("GET", "/ws", nil))
	if strings.Contains(strings.Join(s.served, ","), "/e.html") {
		t.Errorf("a page was served after a hijack: %v", s.served)
	}
}
