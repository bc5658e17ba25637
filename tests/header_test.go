package tests

import (
	"net/http"
	"slices"
	"testing"
)

// TestHeader runs httpd with header blocks in front of static files and
// checks that set, add and remove reach the client, error pages
// included.
func TestHeader(t *testing.T) {
	h := NewHarness(t)
	h.Write("htdocs/hello.txt", "hello, world\n", 0o644)
	h.Write("htdocs/admin/page.txt", "admin\n", 0o644)
	srv := h.Start(`server {
  listen = ["127.0.0.1:0"]
}
vhost "h.test" {
  default       = true
  document_root = "htdocs"
  header "/admin/" {
    set = { "Strict-Transport-Security" = "max-age=0" }
    add = { "Cache-Control" = "no-store" }
  }
  header "/" {
    set    = { "Strict-Transport-Security" = "max-age=31536000" }
    add    = { "Link" = "</style.css>; rel=preload", "Cache-Control" = "public" }
    remove = ["Accept-Ranges"]
  }
}`)

	tests := []struct {
		path   string
		status int
		want   map[string][]string // nil value: absent
	}{
		{"/hello.txt", 200, map[string][]string{
			"Strict-Transport-Security": {"max-age=31536000"},
			"Link":                      {"</style.css>; rel=preload"},
			"Cache-Control":             {"public"},
			"Accept-Ranges":             nil,
			"Content-Type":              {"text/plain; charset=utf-8"},
		}},
		{"/missing.txt", 404, map[string][]string{
			"Strict-Transport-Security": {"max-age=31536000"},
			"Link":                      {"</style.css>; rel=preload"},
		}},
		{"/admin/page.txt", 200, map[string][]string{
			"Strict-Transport-Security": {"max-age=0"},
			"Cache-Control":             {"public", "no-store"},
			"Accept-Ranges":             nil,
		}},
	}
	for _, tc := range tests {
		resp, err := http.Get(srv.URL(tc.path))
		if err != nil {
			t.Fatalf("GET %s: %v", tc.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s: status %d, want %d", tc.path, resp.StatusCode, tc.status)
		}
		for name, want := range tc.want {
			if got := resp.Header.Values(name); !slices.Equal(got, want) {
				t.Errorf("GET %s: %s = %q, want %q", tc.path, name, got, want)
			}
		}
	}
}
