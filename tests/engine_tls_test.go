package tests

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	mrand "math/rand"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// engineSite serves htdocs over TLS on 127.0.0.1 and in plain HTTP with
// h2c on 127.0.0.2, both with httpd's own engines, with a CGI script
// that answers late and a large file.
type engineSite struct {
	srv   *Server
	roots *x509.CertPool
	tls   string // the TLS listener's address
	h2c   string // the h2c listener's address
	big   []byte
}

func newEngineSite(t *testing.T) *engineSite {
	t.Helper()
	h := NewHarness(t)
	// The large-file test measures streaming by the server's RSS. The
	// default floor of the heap's growth between collections
	// (internal/heapfloor) would let 16 MiB of garbage count as much
	// as a file read whole; GOGC turns it off.
	h.Env = []string{"GOGC=100"}
	s := &engineSite{roots: h2WriteCert(t, h)}
	s.big = make([]byte, 20<<20)
	mrand.New(mrand.NewSource(2)).Read(s.big)
	h.Write("htdocs/index.html", "index\n", 0o644)
	h.Write("htdocs/big.bin", string(s.big), 0o644)
	h.Write("cgi-bin/late", "#!/bin/sh\nsleep 0.3\nprintf 'Content-Type: text/plain\\r\\n\\r\\nlate answer\\n'\n", 0o755)
	h.Write("cgi-bin/port", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%s %s' \"$SERVER_PORT\" \"$SERVER_PROTOCOL\"\n", 0o755)
	s.srv = h.Start(`
log {
  access = "off"
  level  = "debug"
}
vhost "localhost" {
  default       = true
  listen        = ["https://127.0.0.1:0"]
  document_root = "htdocs"
  tls {
    cert = "cert.pem"
    key  = "key.pem"
  }
  script_alias "/cgi-bin/" {
    path = "cgi-bin"
  }
}
vhost "h2c.localhost" {
  default       = true
  listen        = ["127.0.0.2:0"]
  h2c           = true
  document_root = "htdocs"
}
`)
	s.tls, s.h2c = s.srv.Addrs["127.0.0.1:0"], s.srv.Addrs["127.0.0.2:0"]
	if s.tls == "" || s.h2c == "" {
		t.Fatalf("listeners: %v", s.srv.Addrs)
	}
	return s
}

// dialTLS opens a TLS connection offering protos by ALPN.
func (s *engineSite) dialTLS(t *testing.T, protos ...string) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.tls,
		&tls.Config{ServerName: "localhost", RootCAs: s.roots, NextProtos: protos})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}

// TestEngineTLS checks HTTP/1.1 and HTTP/2 over the TLS listener, which
// does the handshake itself and hands the connection to the engine ALPN
// picked.
func TestEngineTLS(t *testing.T) {
	s := newEngineSite(t)

	t.Run("ALPN", func(t *testing.T) {
		for _, tt := range []struct {
			offer []string
			proto string
		}{
			{[]string{"h2", "http/1.1"}, "HTTP/2.0"},
			{[]string{"http/1.1"}, "HTTP/1.1"},
			{nil, "HTTP/1.1"},
		} {
			var protos http.Protocols
			protos.SetHTTP1(true)
			protos.SetHTTP2(len(tt.offer) > 1)
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
				Protocols:       &protos,
				TLSClientConfig: &tls.Config{ServerName: "localhost", RootCAs: s.roots, NextProtos: tt.offer},
			}}
			resp, err := c.Get("https://" + s.tls + "/index.html")
			if err != nil {
				t.Fatalf("%v: %v", tt.offer, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Proto != tt.proto || string(body) != "index\n" {
				t.Errorf("offering %v: %s %q, want %s", tt.offer, resp.Proto, body, tt.proto)
			}
		}
	})

	t.Run("SERVER_PORT", func(t *testing.T) {
		// Both engines give handlers the local address, which CGI
		// scripts see as SERVER_PORT, whatever the Host says.
		_, port, _ := net.SplitHostPort(s.tls)
		for _, h2 := range []bool{true, false} {
			var protos http.Protocols
			protos.SetHTTP1(!h2)
			protos.SetHTTP2(h2)
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
				Protocols:       &protos,
				TLSClientConfig: &tls.Config{ServerName: "localhost", RootCAs: s.roots},
			}}
			req, _ := http.NewRequest("GET", "https://"+s.tls+"/cgi-bin/port", nil)
			req.Host = "localhost"
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := port + " " + resp.Proto; string(body) != want {
				t.Errorf("%s: script saw %q, want %q", resp.Proto, body, want)
			}
		}
	})

	t.Run("keep-alive", func(t *testing.T) {
		c := s.dialTLS(t, "http/1.1")
		if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
			t.Fatalf("ALPN chose %q", p)
		}
		br := bufio.NewReader(c)
		for i := range 3 {
			if _, err := io.WriteString(c, "GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
				t.Fatalf("request %d: %v", i+1, err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("answer %d: %v", i+1, err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(body) != "index\n" || resp.Close {
				t.Errorf("answer %d on one connection: %d %q close=%v", i+1, resp.StatusCode, body, resp.Close)
			}
		}
	})

	t.Run("OPTIONS *", func(t *testing.T) {
		c := s.dialTLS(t, "http/1.1")
		if _, err := io.WriteString(c, "OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.ContentLength != 0 {
			t.Errorf("OPTIONS *: %d, length %d", resp.StatusCode, resp.ContentLength)
		}
	})

	t.Run("half-closed CGI", func(t *testing.T) {
		// close_notify is TLS's half-close: the client has sent all it
		// will, and still reads the answer (SPEC §9).
		c := s.dialTLS(t, "http/1.1")
		if _, err := io.WriteString(c, "GET /cgi-bin/late HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "late answer\n" {
			t.Errorf("got %d %q (%v), want the script's 200", resp.StatusCode, body, err)
		}
		if st := s.srv.Stderr(); strings.Contains(st, "status=499") {
			t.Errorf("a half-closed client was taken for gone:\n%s", st)
		}
	})

	t.Run("CL+TE", func(t *testing.T) {
		c := s.dialTLS(t, "http/1.1")
		if _, err := io.WriteString(c, "POST /index.html HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(c) // the server closes after its answer
		if !bytes.HasPrefix(b, []byte("HTTP/1.1 400 ")) {
			t.Errorf("got %q, want 400 and close", b)
		}
	})

	t.Run("large file", func(t *testing.T) {
		before := vmRSS(t, s.srv.Pid())
		c := s.dialTLS(t, "http/1.1")
		if _, err := io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		// Read slowly at first, so that a server that read the whole file
		// into memory before sending would be caught holding it.
		h := sha256.New()
		first := make([]byte, 1<<20)
		if _, err := io.ReadFull(resp.Body, first); err != nil {
			t.Fatal(err)
		}
		h.Write(first)
		mid := vmRSS(t, s.srv.Pid())
		n, err := io.Copy(h, resp.Body)
		if err != nil || n+int64(len(first)) != int64(len(s.big)) {
			t.Fatalf("read %d bytes (%v), want %d", n+int64(len(first)), err, len(s.big))
		}
		if want := sha256.Sum256(s.big); !bytes.Equal(h.Sum(nil), want[:]) {
			t.Error("the file arrived changed")
		}
		after := vmRSS(t, s.srv.Pid())
		t.Logf("server RSS: %d KiB before, %d KiB after 1 MiB of 20, %d KiB after", before>>10, mid>>10, after>>10)
		// Streaming costs the server a few hundred KiB; under -race the
		// shadow memory and the looser pools make that about 12 MiB. A
		// server that read the file whole would grow by all of its 20
		// MiB, and more under -race.
		limit := int64(8 << 20)
		if raceEnabled {
			limit = 20 << 20
		}
		if grew := max(mid, after) - before; grew >= limit {
			t.Errorf("server RSS grew %d MiB serving a 20 MiB file over TLS", grew>>20)
		}
		// While the client has read 1 MiB and TCP holds the server back,
		// a server that read the file before sending it holds all of it.
		if grew := mid - before; grew >= 8<<20 {
			t.Errorf("server RSS grew %d MiB by the first MiB of a 20 MiB file over TLS", grew>>20)
		}
	})
}

// vmRSS is a process's resident memory, from /proc.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestEngineH2C checks h2c on a plain listener: prior knowledge, and the
// HTTP/1.1 Upgrade; both reach httpd's HTTP/2 engine through vhost/h1.
func TestEngineH2C(t *testing.T) {
	s := newEngineSite(t)

	t.Run("prior knowledge", func(t *testing.T) {
		var h2cOnly http.Protocols
		h2cOnly.SetUnencryptedHTTP2(true)
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Protocols: &h2cOnly}}
		resp, err := c.Get("http://" + s.h2c + "/index.html")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Proto != "HTTP/2.0" || string(body) != "index\n" {
			t.Errorf("%s %q", resp.Proto, body)
		}
	})

	t.Run("upgrade", func(t *testing.T) {
		c, err := net.DialTimeout("tcp", s.h2c, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		// HTTP2-Settings: SETTINGS_MAX_CONCURRENT_STREAMS = 100.
		if _, err := io.WriteString(c, "GET /index.html HTTP/1.1\r\nHost: h2c.localhost\r\n"+
			"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "h2c" {
			t.Fatalf("upgrade answered %d %v", resp.StatusCode, resp.Header)
		}
		if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
			t.Fatal(err)
		}
		fr := http2.NewFramer(c, br)
		fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
		if err := fr.WriteSettings(); err != nil {
			t.Fatal(err)
		}
		var status string
		var body []byte
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("reading stream 1: %v (status %q, body %q)", err, status, body)
			}
			if f.Header().StreamID != 1 {
				continue
			}
			switch f := f.(type) {
			case *http2.MetaHeadersFrame:
				status = f.PseudoValue("status")
			case *http2.DataFrame:
				body = append(body, f.Data()...)
			case *http2.RSTStreamFrame:
				t.Fatalf("stream 1 reset: %v", f.ErrCode)
			}
			if f.Header().Flags.Has(http2.FlagDataEndStream) {
				break
			}
		}
		if status != "200" || string(body) != "index\n" {
			t.Errorf("stream 1: status %q body %q", status, body)
		}
	})

	t.Run("HTTP/1.1", func(t *testing.T) {
		resp, err := http.Get("http://" + s.h2c + "/index.html")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Proto != "HTTP/1.1" || string(body) != "index\n" {
			t.Errorf("%s %q", resp.Proto, body)
		}
	})
}
