package tests

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCGINotFoundLoggedAtInfo: every reason for a CGI 404 reaches the
// error log at level info, while a missing static file does not.
func TestCGINotFoundLoggedAtInfo(t *testing.T) {
	h := NewHarness(t)
	h.Write("htdocs/index.html", "home\n", 0o644)
	h.Write("cgi-bin/ok.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nok'\n", 0o755)
	if err := os.Symlink("nowhere", filepath.Join(h.Dir, "cgi-bin", "dangling")); err != nil {
		t.Fatal(err)
	}
	h.Write("bin/prog.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nok'\n", 0o755)
	srv := h.Start(`
server {
  listen = ["127.0.0.1:0"]
}
log {
  access = "off"
  level  = "info"
}
vhost "localhost" {
  default       = true
  document_root = "htdocs"
  script_alias "/cgi-bin/" { path = "cgi-bin" }
  script_alias "/prog/" { program = "bin/prog.sh" }
}
`)
	tests := []struct{ target, why string }{
		{"/cgi-bin/missing.sh", "no such script"},
		{"/cgi-bin/dangling", "broken symlink"},
		{"/cgi-bin/.hidden", "dot-files are not run"},
		{"/cgi-bin/%2e%2e/httpd.hcl", "dot segment"},
		{"/cgi-bin/ok.sh%2fx", "encoded slash"},
		{"/prog/a/%2e%2e/b", "dot segment"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			resp, _ := doRequest(t, http.DefaultClient, mustNewRequest(t, "GET", srv.URL(tt.target), nil))
			if resp.StatusCode != 404 {
				t.Fatalf("status %d, want 404", resp.StatusCode)
			}
			deadline := time.Now().Add(5 * time.Second)
			for !hasInfoLine(srv.Stderr(), tt.target, tt.why) {
				if time.Now().After(deadline) {
					t.Fatalf("no info line for %s saying %q:\n%s", tt.target, tt.why, srv.Stderr())
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	// A static miss stays at debug: scanners must not flood the log.
	resp, _ := doRequest(t, http.DefaultClient, mustNewRequest(t, "GET", srv.URL("/missing.html"), nil))
	resp2, _ := doRequest(t, http.DefaultClient, mustNewRequest(t, "GET", srv.URL("/prog/fine"), nil))
	if resp.StatusCode != 404 || resp2.StatusCode != 200 {
		t.Fatalf("static miss %d, program %d", resp.StatusCode, resp2.StatusCode)
	}
	srv.Stop()
	if strings.Contains(srv.Stderr(), "/missing.html") {
		t.Errorf("a static 404 was logged at info:\n%s", srv.Stderr())
	}
}

// hasInfoLine reports whether log holds an info line of a CGI 404 for
// uri that says why.
func hasInfoLine(log, uri, why string) bool {
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "level=INFO") && strings.Contains(line, "uri="+uri+" ") && strings.Contains(line, why) {
			return true
		}
	}
	return false
}
