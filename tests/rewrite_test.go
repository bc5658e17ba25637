package tests

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRewrite runs httpd with internal and redirecting rewrites in front
// of static files and a loop that must end in a 500.
func TestRewrite(t *testing.T) {
	h := NewHarness(t)
	h.Write("htdocs/new/page.txt", "new page\n", 0o644)
	h.Write("htdocs/posts/7.txt", "post seven\n", 0o644)
	srv := h.Start(`server {
  listen = ["127.0.0.1:0"]
}
vhost "r.test" {
  default       = true
  document_root = "htdocs"
  rewrite "^/post/([0-9]+)$" { to = "/posts/$1.txt" }
  rewrite "^/old/(.*)$" {
    to     = "/new/$1"
    status = 301
  }
  rewrite "^/a$" { to = "/b" }
  rewrite "^/b$" { to = "/a" }
}`)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		path     string
		status   int
		body     string
		location string
	}{
		{"/post/7", 200, "post seven\n", ""},
		{"/new/page.txt", 200, "new page\n", ""},
		{"/old/page.txt", 301, "", "/new/page.txt"},
		{"/a", 500, "500 Internal Server Error", ""},
		{"/post/x", 404, "404 Not Found", ""},
	}
	for _, tc := range tests {
		resp, err := client.Get(srv.URL(tc.path))
		if err != nil {
			t.Fatalf("GET %s: %v", tc.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.body) {
			t.Errorf("GET %s = %d %q, want %d with %q", tc.path, resp.StatusCode, b, tc.status, tc.body)
		}
		if got := resp.Header.Get("Location"); got != tc.location {
			t.Errorf("GET %s: Location %q, want %q", tc.path, got, tc.location)
		}
	}
	srv.WaitStderr("loop", 5*time.Second)
}
