package tests

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// halfCloseSite serves /cgi-bin/late, a CGI script that answers only
// after a moment, long enough for the server to see the client's FIN
// before the script's headers.
func halfCloseSite(t *testing.T, engine string) *Server {
	t.Helper()
	h := NewHarness(t)
	h.Write("htdocs/index.html", "index\n", 0o644)
	h.Write("cgi-bin/late", "#!/bin/sh\nsleep 0.3\nprintf 'Content-Type: text/plain\\r\\n\\r\\nlate answer\\n'\n", 0o755)
	return h.Start(fmt.Sprintf(`
server {
  listen       = ["127.0.0.1:0"]
  http1_engine = %q
}
log {
  access = "stdout"
  error  = "stderr"
  level  = "debug"
}
vhost "localhost" {
  default       = true
  document_root = "htdocs"
  script_alias "/cgi-bin/" {
    path = "cgi-bin"
  }
}
`, engine))
}

// halfClosed sends req, shuts down the sending side at once, as
// `nc -N` does, and returns everything the server answers until it
// closes.
func halfClosed(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the answer: %v (got %q)", err, b)
	}
	return string(b)
}

// TestVHostHalfCloseCGI: a client that shuts down its sending side after
// a complete request still reads the script's answer (SPEC §9).
func TestVHostHalfCloseCGI(t *testing.T) {
	for _, engine := range []string{"native"} { // net/http cancels on a FIN itself
		t.Run(engine, func(t *testing.T) {
			srv := halfCloseSite(t, engine)
			for _, req := range []string{
				"GET /cgi-bin/late HTTP/1.0\r\n\r\n",
				"GET /cgi-bin/late HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
				"GET /cgi-bin/late HTTP/1.1\r\nHost: localhost\r\n\r\n",
			} {
				got := halfClosed(t, srv.Addr, req)
				if !strings.HasPrefix(got, "HTTP/1.") || !strings.Contains(got[:12], " 200") || !strings.Contains(got, "\r\n\r\n") || !strings.Contains(got[strings.Index(got, "\r\n\r\n"):], "late answer\n") {
					t.Errorf("%q: got %q, want a 200 with the script's body", req, got)
				}
			}
			srv.Stop() // every log line is written once it has exited
			// The access log (common format) records a gone client as 499;
			// the error log says "went away". A bare "499" would also match
			// the random digits of the test's temporary directory.
			if e, a := srv.Stderr(), srv.Stdout(); strings.Contains(e, "went away") || strings.Contains(e, "status=499") || strings.Contains(a, "\" 499 ") {
				t.Errorf("a half-closed client was taken for gone:\nerror log:\n%s\naccess log:\n%s", e, a)
			}
		})
	}
}
