package tests

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestTryFiles serves a single-page app: files and directories as they
// are, every other path as /index.html, nothing outside document_root.
func TestTryFiles(t *testing.T) {
	h := NewHarness(t)
	h.Write("htdocs/index.html", "<div id=app></div>\n", 0o644)
	h.Write("htdocs/assets/app.js", "start()\n", 0o644)
	h.Write("htdocs/docs/index.html", "docs\n", 0o644)
	h.Write("htdocs/.env", "SECRET=1\n", 0o644)
	h.Write("secret.txt", "outside\n", 0o644)
	h.Write("cgi-bin/hi.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nfrom CGI\\n'\n", 0o755)
	srv := h.Start(`server {
  listen = ["127.0.0.1:0"]
}
log { access = "off" }
vhost "spa.test" {
  default       = true
  document_root = "htdocs"
  static { try_files = ["{path}", "{path}/", "/index.html"] }
  script_alias "/cgi-bin/" { path = "cgi-bin/" }
}`)
	app := "<div id=app></div>\n"
	tests := []struct {
		method, path string
		status       int
		body         string
		ctype        string
	}{
		{"GET", "/", 200, app, "text/html; charset=utf-8"},
		{"GET", "/assets/app.js", 200, "start()\n", "text/javascript; charset=utf-8"},
		{"GET", "/docs", 200, "docs\n", ""},
		{"GET", "/docs/", 200, "docs\n", ""},
		{"GET", "/users/42/edit", 200, app, "text/html; charset=utf-8"},
		{"GET", "/assets/missing.js", 200, app, ""},
		{"GET", "/.env", 200, app, ""},
		{"GET", "/../secret.txt", 200, app, ""},
		{"GET", "/%2e%2e/secret.txt", 200, app, ""},
		{"HEAD", "/some/route", 200, "", "text/html; charset=utf-8"},
		{"POST", "/some/route", 405, "", ""},
		{"GET", "/cgi-bin/hi.cgi", 200, "from CGI\n", ""}, // mounts come first
	}
	for _, tc := range tests {
		req, err := http.NewRequest(tc.method, srv.URL(tc.path), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
			continue
		}
		if tc.status == 200 && tc.method == "GET" && string(b) != tc.body {
			t.Errorf("%s %s: body %q, want %q", tc.method, tc.path, b, tc.body)
		}
		if strings.Contains(string(b), "outside") || strings.Contains(string(b), "SECRET") {
			t.Errorf("%s %s: served a file it must not: %q", tc.method, tc.path, b)
		}
		if tc.ctype != "" && resp.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("%s %s: Content-Type %q, want %q", tc.method, tc.path, resp.Header.Get("Content-Type"), tc.ctype)
		}
	}

	// A bad entry is reported with its place in the file.
	h.Write("bad.hcl", `vhost "x" {
  document_root = "htdocs"
  static { try_files = ["{path}", "/../etc/passwd"] }
}
`, 0o644)
	_, stderr, code := h.Run("-t", "-f", "bad.hcl")
	if code != 1 || !strings.Contains(stderr, "bad.hcl:3:24: Invalid try_files") {
		t.Errorf("httpd -t: exit %d, stderr:\n%s", code, stderr)
	}
}
