package alias

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"httpd/internal/testutil"
	"httpd/registry"
)

// newTree makes a server root with an icons directory, a single file and
// a secret next to them.
func newTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range map[string]string{
		"icons/a.png":         "png",
		"icons/text.txt":      "0123456789",
		"icons/sub/b.gif":     "gif",
		"icons/.hidden":       "hidden",
		"icons/.well-known/x": "known",
		"pages/index.html":    "<h1>pages</h1>",
		"fav.ico":             "ico",
		"secret.txt":          "secret",
		"htdocs/index.html":   "docroot",
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../secret.txt", filepath.Join(root, "icons", "out.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.png", filepath.Join(root, "icons", "in.png")); err != nil {
		t.Fatal(err)
	}
	return root
}

// next stands for the rest of the vhost: it names itself in the body.
var next = registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	fmt.Fprint(w, "next")
	return nil
})

// newHandler runs the whole lifecycle on src and returns the stage as an
// http.Handler that writes returned errors as their status.
func newHandler(t *testing.T, root, src string) (*Module, http.Handler) {
	t.Helper()
	dc := &registry.DecodeContext{ServerRoot: root, DocumentRoot: filepath.Join(root, "htdocs"), VHost: "test"}
	m := new(Module)
	if diags := m.Decode(testutil.ParseBlock(t, src), dc); diags.HasErrors() {
		t.Fatalf("decode: %s", diags.Error())
	}
	if diags := m.Validate(dc); diags.HasErrors() {
		t.Fatalf("validate: %s", diags.Error())
	}
	if err := m.Provision(context.Background(), &registry.Env{Logger: slog.New(slog.DiscardHandler), VHost: "test", ServerRoot: root}); err != nil {
		t.Fatalf("provision: %v", err)
	}
	t.Cleanup(func() { m.Cleanup() })
	stage := testutil.Mounted(m.prefix, m.Wrap(next), next)
	return m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := stage.ServeHTTP(w, r); err != nil {
			w.Header().Set("X-Test-Error", err.Error())
			w.WriteHeader(registry.StatusOf(err))
		}
	})
}

func TestAlias(t *testing.T) {
	root := newTree(t)
	dirSlash := `alias "/icons/" { path = "icons/" }`
	dirNoSlash := `alias "/icons" { path = "icons" }`
	browse := `alias "/icons/" {
		path   = "icons"
		browse = true
	}`
	file := `alias "/favicon.ico" { path = "fav.ico" }`
	fileSlash := `alias "/fav/" { path = "fav.ico" }`
	pages := `alias "/pages" { path = "pages/" }`
	dots := `alias "/icons/" {
		path     = "icons"
		dotfiles = true
	}`

	tests := []struct {
		name, block, method, target string
		hdr                         map[string]string
		status                      int
		body                        string // exact unless "*"
		wantHdr                     map[string]string
	}{
		{name: "file", block: dirSlash, target: "/icons/a.png", status: 200, body: "png", wantHdr: map[string]string{"Content-Type": "image/png", "Accept-Ranges": "bytes"}},
		{name: "head", block: dirSlash, method: "HEAD", target: "/icons/a.png", status: 200, body: "", wantHdr: map[string]string{"Content-Length": "3"}},
		{name: "post", block: dirSlash, method: "POST", target: "/icons/a.png", status: 405, body: "", wantHdr: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{name: "options", block: dirSlash, method: "OPTIONS", target: "/icons/a.png", status: 204, body: "", wantHdr: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{name: "options missing runs next", block: dirSlash, method: "OPTIONS", target: "/icons/nope.png", status: 200, body: "next"},
		{name: "options single file", block: file, method: "OPTIONS", target: "/favicon.ico", status: 204, body: "", wantHdr: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{name: "options below a single file", block: file, method: "OPTIONS", target: "/favicon.ico/x", status: 200, body: "next"},
		{name: "nested", block: dirSlash, target: "/icons/sub/b.gif", status: 200, body: "gif", wantHdr: map[string]string{"Content-Type": "image/gif"}},
		{name: "range", block: dirSlash, target: "/icons/text.txt", hdr: map[string]string{"Range": "bytes=2-4"}, status: 206, body: "234"},
		{name: "dir redirect", block: dirSlash, target: "/icons/sub?x=1", status: 301, body: "*", wantHdr: map[string]string{"Location": "/icons/sub/?x=1"}},
		{name: "dir without index", block: dirSlash, target: "/icons/", status: 403, body: ""},
		{name: "missing runs next", block: dirSlash, target: "/icons/nope.png", status: 200, body: "next"},
		{name: "outside prefix runs next", block: dirSlash, target: "/iconsx/a.png", status: 200, body: "next"},
		{name: "prefix without slash: bare", block: dirNoSlash, target: "/icons", status: 301, body: "*", wantHdr: map[string]string{"Location": "/icons/"}},
		{name: "prefix without slash: file", block: dirNoSlash, target: "/icons/a.png", status: 200, body: "png"},
		{name: "prefix without slash: other name", block: dirNoSlash, target: "/iconsa.png", status: 200, body: "next"},
		{name: "index", block: pages, target: "/pages/", status: 200, body: "<h1>pages</h1>"},
		{name: "index redirect", block: pages, target: "/pages", status: 301, body: "*", wantHdr: map[string]string{"Location": "/pages/"}},
		{name: "listing", block: browse, target: "/icons/", status: 200, body: "*", wantHdr: map[string]string{"Content-Type": "text/html; charset=utf-8"}},
		{name: "single file", block: file, target: "/favicon.ico", status: 200, body: "ico", wantHdr: map[string]string{"Content-Type": "image/x-icon"}},
		{name: "below a single file", block: file, target: "/favicon.ico/x", status: 200, body: "next"},
		{name: "single file at slash prefix", block: fileSlash, target: "/fav/", status: 200, body: "ico"},
		{name: "below single file at slash prefix", block: fileSlash, target: "/fav/x", status: 200, body: "next"},
		{name: "dot-file", block: dirSlash, target: "/icons/.hidden", status: 404, body: ""},
		{name: "dot-file allowed", block: dots, target: "/icons/.hidden", status: 200, body: "hidden"},
		{name: "well-known at the top of path", block: dirSlash, target: "/icons/.well-known/x", status: 200, body: "known"},
		{name: "symlink inside", block: dirSlash, target: "/icons/in.png", status: 200, body: "png"},
		{name: "symlink out", block: dirSlash, target: "/icons/out.txt", status: 404, body: ""},
		{name: "dotdot", block: dirSlash, target: "/icons/../secret.txt", status: 404, body: ""},
		{name: "encoded dotdot", block: dirSlash, target: "/icons/%2e%2e/secret.txt", status: 404, body: ""},
		{name: "encoded slash", block: dirSlash, target: "/icons/..%2fsecret.txt", status: 404, body: ""},
		{name: "backslash", block: dirSlash, target: "/icons/..\\secret.txt", status: 404, body: ""},
		{name: "nul", block: dirSlash, target: "/icons/a.png%00", status: 404, body: ""},
		{name: "dotdot at bare prefix", block: dirNoSlash, target: "/icons/../secret.txt", status: 404, body: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, h := newHandler(t, root, tt.block)
			method := tt.method
			if method == "" {
				method = "GET"
			}
			r := httptest.NewRequest(method, tt.target, nil)
			for k, v := range tt.hdr {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, tt.status, w.Header().Get("X-Test-Error"))
			}
			if tt.body != "*" && w.Body.String() != tt.body {
				t.Errorf("body %q, want %q", w.Body.String(), tt.body)
			}
			for k, v := range tt.wantHdr {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if strings.Contains(w.Body.String(), "secret") {
				t.Errorf("leaked: %q", w.Body.String())
			}
		})
	}
}

func TestListingTitle(t *testing.T) {
	root := newTree(t)
	_, h := newHandler(t, root, `alias "/icons/" {
		path   = "icons"
		browse = true
	}`)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/icons/sub/", nil))
	for _, want := range []string{"<title>Index of /icons/sub/</title>", `href="./b.gif"`, `href="../"`} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("listing lacks %q:\n%s", want, w.Body.String())
		}
	}
}

func TestDecodeValidate(t *testing.T) {
	root := newTree(t)
	tests := []struct {
		name, src string
		diag      string // part of the joined diagnostics; "" for none
		path      string // want m.path, relative to root
	}{
		{name: "relative dir", src: `alias "/icons/" { path = "icons/" }`, path: "icons"},
		{name: "absolute dir", src: fmt.Sprintf(`alias "/icons/" { path = %q }`, filepath.Join(root, "icons")), path: "icons"},
		{name: "file", src: `alias "/favicon.ico" { path = "fav.ico" }`, path: "fav.ico"},
		{name: "options", src: `alias "/icons/" {
			path          = "icons"
			index         = ["a.png"]
			browse        = true
			dotfiles      = true
			cache_control = "max-age=1"
		}`, path: "icons"},
		{name: "missing path", src: `alias "/icons/" {}`, diag: "Missing required argument"},
		{name: "empty path", src: `alias "/icons/" { path = "" }`, diag: "Invalid path"},
		{name: "path not a string", src: `alias "/icons/" { path = ["a"] }`, diag: "Invalid value for path"},
		{name: "misspelt attribute", src: `alias "/icons/" {
			path   = "icons"
			brwose = true
		}`, diag: `Did you mean "browse"?`},
		{name: "bad option", src: `alias "/icons/" {
			path  = "icons"
			index = ["../x"]
		}`, diag: "Invalid index file name"},
		{name: "path does not exist", src: `alias "/icons/" { path = "nope/" }`, diag: "test.hcl:1:26: Missing alias path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dc := &registry.DecodeContext{ServerRoot: root, VHost: "test"}
			m := new(Module)
			diags := m.Decode(testutil.ParseBlock(t, tt.src), dc)
			if !diags.HasErrors() {
				diags = append(diags, m.Validate(dc)...)
			}
			var got []string
			for _, d := range diags {
				pos := ""
				if d.Subject != nil {
					pos = fmt.Sprintf("%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
				}
				got = append(got, pos+d.Summary+": "+d.Detail)
			}
			joined := strings.Join(got, "\n")
			if tt.diag == "" {
				if joined != "" {
					t.Fatalf("diagnostics: %s", joined)
				}
				if want := filepath.Join(root, tt.path); m.path != want {
					t.Errorf("path %q, want %q", m.path, want)
				}
				if m.prefix != testutil.ParseBlock(t, tt.src).Labels[0] {
					t.Errorf("prefix %q", m.prefix)
				}
				return
			}
			if !strings.Contains(joined, tt.diag) {
				t.Errorf("diagnostics %q, want %q", joined, tt.diag)
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	root := newTree(t)
	m, _ := newHandler(t, root, `alias "/icons/" { path = "icons" }`)
	if got, want := m.Describe(), "alias /icons/ -> "+filepath.Join(root, "icons")+" (browse off)"; got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
	if err := m.Cleanup(); err != nil {
		t.Errorf("Cleanup: %v", err)
	}
	if err := new(Module).Cleanup(); err != nil {
		t.Errorf("Cleanup before Provision: %v", err)
	}
	// Provision fails cleanly when the path vanished after Validate.
	m2 := &Module{prefix: "/x/", path: filepath.Join(root, "gone")}
	if err := m2.Provision(context.Background(), &registry.Env{}); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Provision of a missing path: %v", err)
	}
}

func TestRegistered(t *testing.T) {
	info, ok := registry.Lookup("alias")
	if !ok {
		t.Fatal("alias is not registered")
	}
	if info.Phase != registry.PhaseMount || len(info.Labels) != 1 || info.Labels[0] != "url_prefix" {
		t.Errorf("info = %+v", info)
	}
}
