package tests

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestServeCGI: `httpd serve DIR -cgi` runs scripts under /cgi-bin/ and
// /htbin/ as CGIHTTPServer does, serves the rest as files, and never
// serves a script's source.
func TestServeCGI(t *testing.T) {
	t.Parallel()
	h := NewHarness(t)
	h.Write("site/index.html", "<p>home</p>\n", 0o644)
	h.Write("site/cgi-bin/hello.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\necho \"cgi $REQUEST_METHOD $SCRIPT_NAME $PATH_INFO $QUERY_STRING\"\n", 0o755)
	h.Write("site/htbin/post.sh", "#!/bin/sh\nprintf 'Status: 201 Created\\r\\nContent-Type: text/plain\\r\\n\\r\\n'\ncat\n", 0o755)
	port := freePort(t)
	// The flag after the folder, as SPEC §1 allows.
	h.StartArgs("serve", "site", "-cgi", "-b", "127.0.0.1", "-p", strconv.Itoa(port))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	tests := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"index", "GET", "/", "", 200, "<p>home</p>\n"},
		{"cgi-bin script", "GET", "/cgi-bin/hello.sh/x/y?q=1", "", 200, "cgi GET /cgi-bin/hello.sh /x/y q=1\n"},
		{"htbin script with body", "POST", "/htbin/post.sh", "posted", 201, "posted"},
		{"missing script", "GET", "/cgi-bin/nope.sh", "", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, base+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %q", resp.StatusCode, tt.status, b)
			}
			if tt.want != "" && string(b) != tt.want {
				t.Errorf("body %q, want %q", b, tt.want)
			}
			if strings.Contains(string(b), "#!/bin/sh") {
				t.Errorf("script source served: %q", b)
			}
		})
	}
}
