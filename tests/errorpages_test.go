package tests

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// epRequest sends method path to the server with the Host header host
// and returns the response with its body.
func epRequest(t *testing.T, srv *Server, method, host, path, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL(path), rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", method, path, host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, string(b)
}

// TestErrorPages runs httpd with error_pages in front of static files,
// CGI scripts and a proxy whose upstream is down, and checks that the
// pages go out with the original status, that a gateway's own error body
// is kept, and that a page that fails falls back to the built-in page
// with one log line, without looping.
func TestErrorPages(t *testing.T) {
	t.Parallel()
	h := NewHarness(t)
	const page404 = "<h1>Not here</h1>\n"
	const page5xx = "<h1>Our fault</h1>\n"
	h.Write("htdocs/index.html", "home\n", 0o644)
	h.Write("htdocs/errors/404.html", page404, 0o644)
	h.Write("htdocs/errors/5xx.html", page5xx, 0o644)
	h.Write("htdocs/private/secret.txt", "secret\n", 0o644)
	// A script that dies without a header: the gateway fails (502).
	h.Write("cgi-bin/broken.sh", "#!/bin/sh\nexit 1\n", 0o755)
	// A script that answers 500 itself, with a body of its own.
	h.Write("cgi-bin/own500.sh", "#!/bin/sh\nprintf 'Status: 500 Internal Server Error\\r\\nContent-Type: text/plain\\r\\n\\r\\nthe script says sorry\\n'\n", 0o755)
	// A dynamic error page: it shows the request it got.
	h.Write("cgi-bin/errpage.sh", "#!/bin/sh\nprintf 'Content-Type: text/html\\r\\n\\r\\n<p>dynamic: %s %s</p>\\n' \"$REQUEST_METHOD\" \"$SCRIPT_NAME$PATH_INFO\"\n", 0o755)
	down := freePort(t)
	srv := h.Start(fmt.Sprintf(`
server {
  listen = ["127.0.0.1:0"]
}
log {
  access = "off"
  level  = "info"
}
vhost "e.test" {
  default       = true
  document_root = "htdocs"
  error_pages   = { "404" = "/errors/404.html", "5xx" = "/errors/5xx.html", "403" = "/errors/missing.html" }
  header "/" {
    set = { "X-Site" = "e" }
  }
  access "/private/" {
    allow = ["10.0.0.0/8"]
  }
  script_alias "/cgi-bin/" { path = "cgi-bin/" }
  reverse_proxy "/api/" { to = ["http://127.0.0.1:%d"] }
}
vhost "loop.test" {
  document_root = "htdocs"
  error_pages   = { "4xx" = "/errors/nope.html" }
}
vhost "dyn.test" {
  document_root = "htdocs"
  error_pages   = { "5xx" = "/cgi-bin/errpage.sh" }
  script_alias "/cgi-bin/" { path = "cgi-bin/" }
}
`, down))

	tests := []struct {
		name, method, host, path, body string
		status                         int
		want                           string            // the body
		headers                        map[string]string // "" for absent
		log                            string            // a line the error log must come to hold
	}{
		{"404 page", "GET", "e.test", "/missing.html", "", 404, page404,
			map[string]string{"Content-Type": "text/html; charset=utf-8", "X-Site": "e", "Content-Length": strconv.Itoa(len(page404)), "Etag": "", "Last-Modified": "", "Accept-Ranges": ""}, ""},
		{"HEAD", "HEAD", "e.test", "/missing.html", "", 404, "",
			map[string]string{"Content-Type": "text/html; charset=utf-8", "X-Site": "e", "Content-Length": strconv.Itoa(len(page404))}, ""},
		// static answers a POST with 405: the page is fetched with GET.
		{"POST", "POST", "e.test", "/cgi-bin/broken.sh", "a=1", 502, page5xx, nil, ""},
		{"page itself is untouched", "GET", "e.test", "/errors/404.html", "", 200, page404, map[string]string{"Accept-Ranges": "bytes"}, ""},
		{"5xx from a failing CGI", "GET", "e.test", "/cgi-bin/broken.sh", "", 502, page5xx, map[string]string{"X-Site": "e"},
			"cgi-bin/broken.sh"},
		{"502 from a proxy whose upstream is down", "GET", "e.test", "/api/x", "", 502, page5xx, nil, "reverse_proxy /api/"},
		{"a CGI's own error body is kept", "GET", "e.test", "/cgi-bin/own500.sh", "", 500, "the script says sorry\n",
			map[string]string{"Content-Type": "text/plain"}, ""},
		{"missing page: the built-in one", "GET", "e.test", "/private/secret.txt", "", 403, "403 Forbidden",
			map[string]string{"X-Site": "e", "Content-Type": "text/html; charset=utf-8"},
			`msg="error page failed, sent the built-in page" vhost=e.test module=error_pages page=/errors/missing.html status=403 uri=/private/secret.txt why="the page answered 404"`},
		{"a page that 404s does not loop", "GET", "loop.test", "/x", "", 404, "404 Not Found", nil,
			`vhost=loop.test module=error_pages page=/errors/nope.html status=404 uri=/x why="the page answered 404"`},
		{"dynamic page, as a GET", "POST", "dyn.test", "/cgi-bin/broken.sh", "a=1", 502, "<p>dynamic: GET /cgi-bin/errpage.sh</p>\n",
			map[string]string{"Content-Type": "text/html"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := epRequest(t, srv, tc.method, tc.host, tc.path, tc.body)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status == 404 && strings.Contains(tc.want, "Not Found") || tc.status == 403 {
				if !strings.Contains(body, tc.want) {
					t.Errorf("body %q lacks %q", body, tc.want)
				}
			} else if body != tc.want {
				t.Errorf("body %q, want %q", body, tc.want)
			}
			for k, v := range tc.headers {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tc.log != "" {
				srv.WaitStderr(tc.log, 10*time.Second)
			}
		})
	}
	out, stderr, code := h.Run("-S", "-f", "httpd.hcl")
	for _, want := range []string{
		"      header   header \"/\"                   header /: sets X-Site\n" +
			"      errors   error_pages                  404 -> /errors/404.html, 5xx -> /errors/5xx.html, 403 -> /errors/missing.html\n" +
			"      access   access \"/private/\"           ",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("-S (exit %d) lacks %q:\n%s%s", code, want, out, stderr)
		}
	}
	// One line per failed page, not one per re-entry.
	if n := strings.Count(srv.Stderr(), "page=/errors/nope.html"); n != 1 {
		t.Errorf("%d log lines about the looping page, want 1:\n%s", n, srv.Stderr())
	}
	if n := strings.Count(srv.Stderr(), "error page failed"); n != 2 {
		t.Errorf("%d lines say a page failed, want 2:\n%s", n, srv.Stderr())
	}
}
