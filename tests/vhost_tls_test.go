package tests

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingConn keeps every byte read from the connection.
type recordingConn struct {
	net.Conn
	mu   sync.Mutex
	read bytes.Buffer
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.read.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *recordingConn) bytesRead() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.read.Bytes())
}

// TestVHostTLSIdleBeforeFirstRequest: a TLS client that completes the
// handshake and then says nothing (a browser's pre-connect) past
// read_header_timeout sees the connection closed, with nothing written
// outside the TLS stream: no plaintext 408 its TLS layer would take for a
// broken record (SPEC §9).
func TestVHostTLSIdleBeforeFirstRequest(t *testing.T) {
	h := NewHarness(t)
	roots := h2WriteCert(t, h)
	h.Write("htdocs/index.html", "index\n", 0o644)
	srv := h.Start(`
server {
  listen = ["127.0.0.1:0"]
  limits {
    read_header_timeout = "300ms"
  }
}
log {
  access = "off"
  level  = "debug"
}
vhost "localhost" {
  default       = true
  document_root = "htdocs"
  tls {
    cert = "cert.pem"
    key  = "key.pem"
  }
}
`)
	for _, tc := range []struct {
		name, proto, send string
	}{
		{"http/1.1", "http/1.1", ""},
		{"h2", "h2", ""},
		// A head begun and not finished is a slow client: still nothing
		// written outside TLS.
		{"http/1.1 partial head", "http/1.1", "GET / HTTP/1.1\r\nHost: localhost\r\n"},
	} {
		proto := tc.proto
		t.Run(tc.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			rc := &recordingConn{Conn: nc}
			c := tls.Client(rc, &tls.Config{ServerName: "localhost", RootCAs: roots, NextProtos: []string{proto}})
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			if got := c.ConnectionState().NegotiatedProtocol; got != proto {
				t.Fatalf("ALPN chose %q, want %q", got, proto)
			}
			handshake := len(rc.bytesRead())
			if tc.send != "" {
				if _, err := io.WriteString(c, tc.send); err != nil {
					t.Fatal(err)
				}
			}
			// Read until the server closes: a clean EOF or a TLS alert
			// is fine, a record the TLS layer cannot parse is not.
			var readErr error
			for readErr == nil {
				_, readErr = c.Read(make([]byte, 4096))
			}
			after := rc.bytesRead()[handshake:]
			if bytes.Contains(after, []byte("HTTP/1.")) || bytes.Contains(after, []byte("408")) {
				t.Errorf("plaintext after the handshake: %q", after)
			}
			var ne net.Error
			if errors.As(readErr, &ne) && ne.Timeout() {
				t.Fatalf("the server did not close the connection: %v", readErr)
			}
			if readErr != io.EOF && !strings.Contains(readErr.Error(), "remote error") {
				t.Errorf("reading after the timeout: %v, want EOF or a TLS alert", readErr)
			}
			// A silent connection is no bad request.
			if tc.send == "" && strings.Contains(srv.Stderr(), "status=408") {
				t.Errorf("a connection that sent nothing was logged as a slow request:\n%s", srv.Stderr())
			}
		})
	}
}
