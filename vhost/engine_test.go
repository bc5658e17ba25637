package vhost_test

import (
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestTLSHandshakeOffTheAcceptLoop: clients that connect and stall in
// the TLS handshake neither hold up other clients nor stay past
// read_header_timeout, and get nothing written to them.
func TestTLSHandshakeOffTheAcceptLoop(t *testing.T) {
	ts := newTLSServer(t)
	ts.writeCert("a", "a.test", "www.a.test", "*.wild.a.test")
	ts.start("server {\n  limits {\n    read_header_timeout = \"2s\"\n  }\n}\n" + sniConfig)
	addr := ts.addr("127.0.0.1:0")
	var stalled []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		stalled = append(stalled, c)
	}
	// One sends the start of a record and stops.
	if _, err := stalled[0].Write([]byte{0x16, 0x03, 0x01, 0x02}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, body := get(t, ts.client("b.test", false), "https://"+addr+"/", "b.test")
	if resp.StatusCode != 200 || !strings.Contains(body, "vhost=b.test") {
		t.Errorf("with stalled handshakes: %d %q", resp.StatusCode, body)
	}
	// Behind a handshake done on the accept loop, it would have waited
	// for the first stalled one to time out.
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("a request waited %v behind stalled handshakes", d)
	}
	for i, c := range stalled {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil || len(b) > 0 {
			t.Errorf("stalled handshake %d: read %q, %v; want a close and nothing", i, b, err)
		}
	}
}

// TestTLSBadRequestLog: over TLS the HTTP/1.1 engine refuses the same
// requests as on plain TCP (CL+TE, 408, 431, …), with the same answers
// and log lines.
func TestTLSBadRequestLog(t *testing.T) {
	ts := newTLSServer(t)
	ts.writeCert("a", "a.test", "w.test")
	ts.start(`server {
  limits {
    read_header_timeout = "300ms"
    max_header_bytes    = "1KiB"
  }
}
vhost "w.test" {
  listen = ["https://127.0.0.1:0"]
  tls {
    cert = "a.crt"
    key  = "a.key"
  }
  tls_echo {}
}`)
	addr := ts.addr("127.0.0.1:0")
	checkBadRequests(t, func() (net.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
			&tls.Config{ServerName: "w.test", RootCAs: ts.roots, NextProtos: []string{"http/1.1"}})
	}, ts.log)
}
