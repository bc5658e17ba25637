package redirect

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"httpd/internal/testutil"
	"httpd/registry"
)

// next stands for the rest of the pipeline.
var next = registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	fmt.Fprint(w, "next")
	return nil
})

func newHandler(t *testing.T, src string) http.Handler {
	t.Helper()
	m := new(Module)
	if diags := m.Decode(testutil.ParseBlock(t, src), &registry.DecodeContext{ServerRoot: "/srv"}); diags.HasErrors() {
		t.Fatalf("decode: %s", diags.Error())
	}
	if err := m.Provision(context.Background(), &registry.Env{}); err != nil {
		t.Fatal(err)
	}
	stage := m.Wrap(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := stage.ServeHTTP(w, r); err != nil {
			w.WriteHeader(registry.StatusOf(err))
		}
	})
}

func TestRedirect(t *testing.T) {
	old := `redirect "/old" {
		to     = "https://example.com/new"
		status = 301
	}`
	slashes := `redirect "/old/" { to = "/new/" }`
	withQuery := `redirect "/old" { to = "https://example.com/n?src=old#top" }`
	hostOnly := `redirect "/old/" { to = "https://example.com" }`
	toRoot := `redirect "/old" { to = "/" }`
	everything := `redirect "/" {
		to     = "https://www.example.com/"
		status = 308
	}`
	gone := `redirect "/gone" { status = 410 }`
	spaced := `redirect "/a b" { to = "/c%20d" }`

	tests := []struct {
		name, block, method, target string
		status                      int
		loc                         string // "" means absent
		body                        string // part of the body
	}{
		{name: "exact", block: old, target: "/old", status: 301, loc: "https://example.com/new"},
		{name: "below", block: old, target: "/old/a/b.html", status: 301, loc: "https://example.com/new/a/b.html"},
		{name: "query kept", block: old, target: "/old/a?x=1&y=%20", status: 301, loc: "https://example.com/new/a?x=1&y=%20"},
		{name: "escaped rest kept", block: old, target: "/old/a%20b/c%2Fd", status: 301, loc: "https://example.com/new/a%20b/c%2Fd"},
		{name: "utf-8 rest", block: old, target: "/old/h%C3%A9", status: 301, loc: "https://example.com/new/h%C3%A9"},
		{name: "body links", block: old, target: "/old", status: 301, loc: "https://example.com/new", body: `<a href="https://example.com/new">Moved Permanently</a>`},
		{name: "head has no body", block: old, method: "HEAD", target: "/old", status: 301, loc: "https://example.com/new"},
		{name: "post redirected too", block: old, method: "POST", target: "/old", status: 301, loc: "https://example.com/new"},
		{name: "other name", block: old, target: "/older", status: 200, body: "next"},
		{name: "other path", block: old, target: "/", status: 200, body: "next"},
		{name: "dot segment", block: old, target: "/old/../admin", status: 200, body: "next"},
		{name: "encoded dot segment", block: old, target: "/old/%2e%2e/admin", status: 200, body: "next"},
		{name: "slash prefix", block: slashes, target: "/old/", status: 302, loc: "/new/"},
		{name: "slash prefix below", block: slashes, target: "/old/x/y?q", status: 302, loc: "/new/x/y?q"},
		{name: "slash prefix bare", block: slashes, target: "/old", status: 200, body: "next"},
		{name: "slash prefix extra slashes", block: slashes, target: "/old//evil.example/", status: 302, loc: "/new/evil.example/"},
		{name: "target query and fragment", block: withQuery, target: "/old/x?y=2", status: 302, loc: "https://example.com/n/x?src=old&y=2#top"},
		{name: "target query only", block: withQuery, target: "/old", status: 302, loc: "https://example.com/n?src=old#top"},
		{name: "host only target keeps host", block: hostOnly, target: "/old/.evil.example", status: 302, loc: "https://example.com/.evil.example"},
		{name: "root target cannot become another host", block: toRoot, target: "/old//evil.example", status: 302, loc: "/evil.example"},
		{name: "root target", block: toRoot, target: "/old/a", status: 302, loc: "/a"},
		{name: "everything", block: everything, target: "/x/y?z", status: 308, loc: "https://www.example.com/x/y?z"},
		{name: "everything root", block: everything, target: "/", status: 308, loc: "https://www.example.com/"},
		{name: "gone", block: gone, target: "/gone/page", status: 410},
		{name: "gone exact", block: gone, target: "/gone", status: 410},
		{name: "not gone", block: gone, target: "/gonex", status: 200, body: "next"},
		{name: "prefix with space", block: spaced, target: "/a%20b/x", status: 302, loc: "/c%20d/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(t, tt.block)
			method := tt.method
			if method == "" {
				method = "GET"
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(method, tt.target, nil))
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}
			if got := w.Header().Get("Location"); got != tt.loc {
				t.Errorf("Location %q, want %q", got, tt.loc)
			}
			if !strings.Contains(w.Body.String(), tt.body) {
				t.Errorf("body %q, want it to hold %q", w.Body.String(), tt.body)
			}
			if method == "HEAD" && w.Body.Len() != 0 {
				t.Errorf("HEAD body %q", w.Body.String())
			}
		})
	}
}

func TestStatuses(t *testing.T) {
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			h := newHandler(t, fmt.Sprintf(`redirect "/a" {
				to     = "/b"
				status = %d
			}`, status))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/a", nil))
			if w.Code != status || w.Header().Get("Location") != "/b" {
				t.Errorf("got %d %q", w.Code, w.Header().Get("Location"))
			}
		})
	}
	t.Run("default", func(t *testing.T) {
		w := httptest.NewRecorder()
		newHandler(t, `redirect "/a" { to = "/b" }`).ServeHTTP(w, httptest.NewRequest("GET", "/a", nil))
		if w.Code != DefaultStatus {
			t.Errorf("status %d, want %d", w.Code, DefaultStatus)
		}
	})
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, src string
		errs      []string // parts of the error diagnostics, in order
		warn      string   // part of a warning
		describe  string
	}{
		{name: "url", src: `redirect "/old" { to = "https://example.com/new" }`, describe: "redirect /old -> https://example.com/new (302)"},
		{name: "path", src: `redirect "/old" {
			to     = "/new"
			status = 308
		}`, describe: "redirect /old -> /new (308)"},
		{name: "gone", src: `redirect "/old" { status = 410 }`, describe: "redirect /old (410 gone)"},
		{name: "both slashes", src: `redirect "/old/" { to = "/new/" }`},
		{name: "missing to", src: `redirect "/old" {}`, errs: []string{"test.hcl:1:1: Missing required argument"}},
		{name: "to with 410", src: `redirect "/old" {
			to     = "/new"
			status = 410
		}`, errs: []string{"test.hcl:2:13: Unexpected argument to"}},
		{name: "relative to", src: `redirect "/old" { to = "new" }`, errs: []string{`test.hcl:1:24: Invalid redirect target; "new" is neither an absolute URL nor a path`}},
		{name: "scheme-relative to", src: `redirect "/old" { to = "//example.com/x" }`, errs: []string{"has no scheme"}},
		{name: "no host", src: `redirect "/old" { to = "mailto:a@example.com" }`, errs: []string{"has no host"}},
		{name: "space in to", src: `redirect "/old" { to = "/a b" }`, errs: []string{"holds spaces"}},
		{name: "newline in to", src: `redirect "/old" { to = "/a\r\nSet-Cookie: x" }`, errs: []string{"holds spaces, control characters"}},
		{name: "backslash in to", src: `redirect "/old" { to = "/\\evil.example" }`, errs: []string{"backslashes"}},
		{name: "bad status", src: `redirect "/old" {
			to     = "/new"
			status = 200
		}`, errs: []string{"test.hcl:3:13: Invalid value for status; 200 is not a redirect status"}},
		{name: "status out of range", src: `redirect "/old" {
			to     = "/new"
			status = 1000
		}`, errs: []string{"Invalid value for status"}},
		{name: "status not a number", src: `redirect "/old" {
			to     = "/new"
			status = "permanent"
		}`, errs: []string{"Invalid value for status"}},
		{name: "misspelt attribute", src: `redirect "/old" { too = "/new" }`, errs: []string{`Did you mean "to"?`, "Missing required argument"}},
		{name: "slash mismatch warns", src: `redirect "/old/" { to = "/new" }`, warn: `"/old/page" would go to "/newpage"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := new(Module)
			diags := m.Decode(testutil.ParseBlock(t, tt.src), &registry.DecodeContext{ServerRoot: "/srv"})
			var errs, warns []string
			for _, d := range diags {
				s := d.Summary + "; " + d.Detail
				if d.Subject != nil {
					s = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, s)
				}
				if d.Severity == hcl.DiagError {
					errs = append(errs, s)
				} else {
					warns = append(warns, s)
				}
			}
			if len(errs) != len(tt.errs) {
				t.Fatalf("errors %q, want %d matching %q", errs, len(tt.errs), tt.errs)
			}
			for i := range errs {
				if !strings.Contains(errs[i], tt.errs[i]) {
					t.Errorf("error %q, want it to contain %q", errs[i], tt.errs[i])
				}
			}
			if got := strings.Join(warns, "\n"); tt.warn == "" && got != "" || !strings.Contains(got, tt.warn) {
				t.Errorf("warnings %q, want %q", got, tt.warn)
			}
			if tt.describe != "" && m.Describe() != tt.describe {
				t.Errorf("Describe() = %q, want %q", m.Describe(), tt.describe)
			}
		})
	}
}

func TestRegistered(t *testing.T) {
	info, ok := registry.Lookup("redirect")
	if !ok {
		t.Fatal("redirect is not registered")
	}
	if info.Phase != registry.PhaseRedirect || len(info.Labels) != 1 || info.Labels[0] != "url_prefix" {
		t.Errorf("info = %+v", info)
	}
}
