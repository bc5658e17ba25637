package fileserver

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExplain checks Explain against what Serve answers for the same
// requests: status, and a sentence naming the file.
func TestExplain(t *testing.T) {
	root := t.TempDir()
	for name, body := range map[string]string{
		"a.txt": "hello", "dir/index.html": "<p>", "list/x.txt": "x", ".secret": "s", "noread.txt": "n",
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(root, "out")); err != nil {
		t.Fatal(err)
	}
	opts := Options{Index: DefaultIndex}
	browse := Options{Index: DefaultIndex, Browse: true}
	tests := []struct {
		name   string
		method string
		target string
		opts   Options
		status int
		says   string
	}{
		{"file", "GET", "/a.txt", opts, 200, "serves the file " + root + "/a.txt (5 bytes, text/plain"},
		{"head", "HEAD", "/a.txt", opts, 200, "serves the file"},
		{"options", "OPTIONS", "/a.txt", opts, 204, "answers OPTIONS with 204"},
		{"post", "POST", "/a.txt", opts, 405, "405 Method Not Allowed"},
		{"missing", "GET", "/nope", opts, 404, "does not exist"},
		{"index", "GET", "/dir/", opts, 200, "serves the file " + root + "/dir/index.html"},
		{"dir without slash", "GET", "/dir", opts, 301, "redirects to /dir/"},
		{"listing", "GET", "/list/", browse, 200, "lists its entries"},
		{"no listing", "GET", "/list/", opts, 403, "browse is off"},
		{"file with slash", "GET", "/a.txt/", opts, 404, "it is a file"},
		{"dotfile", "GET", "/.secret", opts, 404, "dotfiles is off"},
		{"dotfile allowed", "GET", "/.secret", Options{Dotfiles: true}, 200, "serves the file"},
		{"dot segment", "GET", "/x/../a.txt", opts, 404, "refuses the path"},
		{"encoded slash", "GET", "/a%2Fb", opts, 404, "encoded slash"},
		{"symlink out", "GET", "/out", opts, 404, "cannot be reached below"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, nil)
			if tc.name == "dot segment" {
				r.URL.Path = "/x/../a.txt"
			}
			e := Explain(root, tc.opts, r, r.URL.Path)
			if e.Status != tc.status || !e.Ends || !strings.Contains(e.Says, tc.says) {
				t.Errorf("Explain %s %s = %d %q (ends %v); want %d and %q", tc.method, tc.target, e.Status, e.Says, e.Ends, tc.status, tc.says)
			}
			// Serve agrees on the status.
			s, err := New(root, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			w := httptest.NewRecorder()
			err = s.Serve(w, r, r.URL.Path)
			got := w.Code
			if err != nil {
				got = statusOf(err)
			}
			if got != tc.status {
				t.Errorf("Serve %s %s = %d, Explain says %d", tc.method, tc.target, got, tc.status)
			}
		})
	}
	t.Run("single file", func(t *testing.T) {
		file := filepath.Join(root, "a.txt")
		if e := Explain(file, opts, httptest.NewRequest("GET", "/x", nil), ""); e.Status != 200 {
			t.Errorf("the file itself: %+v", e)
		}
		if e := Explain(file, opts, httptest.NewRequest("GET", "/x/y", nil), "/y"); e.Status != 404 || !strings.Contains(e.Says, "only the one file") {
			t.Errorf("below the file: %+v", e)
		}
	})
}
