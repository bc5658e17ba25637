package static

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"httpd/internal/fileserver"
	"httpd/internal/testutil"
	"httpd/registry"
)

func TestDecodeTryFiles(t *testing.T) {
	dc := &registry.DecodeContext{ServerRoot: "/srv", DocumentRoot: "/srv/htdocs", VHost: "test"}
	tests := []struct {
		name string
		src  string
		want *fileserver.TryFiles
		diag string
	}{
		{name: "none", src: `static {}`},
		{name: "spa", src: `static { try_files = ["{path}", "{path}/", "/index.html"] }`,
			want: &fileserver.TryFiles{Tries: []string{"{path}", "{path}/"}, Fallback: "/index.html"}},
		{name: "status", src: `static { try_files = ["{path}.html", "=404"] }`,
			want: &fileserver.TryFiles{Tries: []string{"{path}.html"}, Status: 404}},
		{name: "one entry", src: `static { try_files = ["/index.html"] }`, diag: "test.hcl:1:22: Invalid try_files; try_files needs at least two entries"},
		{name: "dot dot", src: `static { try_files = ["{path}", "/../etc/passwd"] }`, diag: `"/../etc/passwd" holds a "." or ".." segment`},
		{name: "relative", src: `static { try_files = ["{path}", "index.html"] }`, diag: `"index.html" does not start with "/" or "{path}"`},
		{name: "other placeholder", src: `static { try_files = ["/{uri}", "/index.html"] }`, diag: `placeholder other than {path}`},
		{name: "bad status", src: `static { try_files = ["{path}", "=200"] }`, diag: `"=200" is not "=" and a 4xx or 5xx status`},
		{name: "status not last", src: `static { try_files = ["=404", "/index.html"] }`, diag: `"=404" does not start with "/"`},
		{name: "query", src: `static { try_files = ["{path}", "/index.php?q={path}"] }`, diag: `holds a backslash, NUL, "?" or "#"`},
		{name: "not a list", src: `static { try_files = "{path}" }`, diag: "Invalid value for try_files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := new(Module)
			got := strings.Join(diagStrings(m.Decode(testutil.ParseBlock(t, tt.src), dc)), "\n")
			if tt.diag == "" && got != "" || !strings.Contains(got, tt.diag) {
				t.Fatalf("diagnostics %q, want %q", got, tt.diag)
			}
			if tt.diag != "" {
				return
			}
			if (m.try == nil) != (tt.want == nil) {
				t.Fatalf("try_files %+v, want %+v", m.try, tt.want)
			}
			if m.try != nil && (!slices.Equal(m.try.Tries, tt.want.Tries) || m.try.Fallback != tt.want.Fallback || m.try.Status != tt.want.Status) {
				t.Errorf("try_files %+v, want %+v", m.try, tt.want)
			}
		})
	}
}

func TestTryFiles(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	for name, body := range map[string]string{
		"index.html":      "app",
		"main.js":         "js",
		"docs/index.html": "docs",
		"about.html":      "about page",
		".env":            "secret",
		"empty/.keep":     "",
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.html"), []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.html"), filepath.Join(root, "out.html")); err != nil {
		t.Fatal(err)
	}
	serve := func(t *testing.T, src string) http.Handler {
		m := new(Module)
		dc := &registry.DecodeContext{DocumentRoot: root, VHost: "test"}
		if diags := m.Decode(testutil.ParseBlock(t, src), dc); diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		if err := m.Provision(context.Background(), &registry.Env{DocumentRoot: root}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Cleanup() })
		h := m.Wrap(registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			return registry.Errorf(http.StatusNotFound, "next")
		}))
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := h.ServeHTTP(w, r); err != nil {
				w.WriteHeader(registry.StatusOf(err))
			}
		})
	}
	spa := serve(t, `static { try_files = ["{path}", "{path}/", "/index.html"] }`)
	html := serve(t, `static { try_files = ["{path}", "{path}.html", "=410"] }`)
	tests := []struct {
		name   string
		h      http.Handler
		method string
		path   string
		status int
		body   string
	}{
		{"file", spa, "GET", "/main.js", 200, "js"},
		{"root", spa, "GET", "/", 200, "app"},
		{"directory with index", spa, "GET", "/docs", 200, "docs"},
		{"directory slash", spa, "GET", "/docs/", 200, "docs"},
		{"directory without index", spa, "GET", "/empty", 200, "app"},
		{"route", spa, "GET", "/users/42/edit", 200, "app"},
		{"dotfile", spa, "GET", "/.env", 200, "app"},
		{"symlink out", spa, "GET", "/out.html", 200, "app"},
		{"head", spa, "HEAD", "/route", 200, ""},
		{"post", spa, "POST", "/route", 405, ""},
		{"html suffix", html, "GET", "/about", 200, "about page"},
		{"status fallback", html, "GET", "/nope", 410, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.body != "" && rec.Body.String() != tt.body {
				t.Errorf("body %q, want %q", rec.Body.String(), tt.body)
			}
		})
	}
}
