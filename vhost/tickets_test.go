package vhost_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"httpd/certs"
)

// firstTicket is a client session cache that keeps the first session the
// server gives for a name and ignores later ones, so a test can offer
// the same ticket again after the server has rotated its keys.
type firstTicket struct {
	mu sync.Mutex
	m  map[string]*tls.ClientSessionState
}

func (c *firstTicket) Get(key string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[key]
	return s, ok
}

func (c *firstTicket) Put(key string, s *tls.ClientSessionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*tls.ClientSessionState{}
	}
	if _, ok := c.m[key]; !ok && s != nil {
		c.m[key] = s
	}
}

// testClock is a clock tests move by hand.
type testClock struct{ ns atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// resumes connects to addr with the session cache and reports whether the
// handshake resumed a session. It sends a request and reads the answer,
// so a TLS 1.3 ticket sent after the handshake reaches the cache.
func resumes(t *testing.T, ts *tlsServer, addr string, version uint16, cache tls.ClientSessionCache) bool {
	t.Helper()
	cfg := &tls.Config{
		ServerName:         "a.test",
		RootCAs:            ts.roots,
		MinVersion:         version,
		MaxVersion:         version,
		NextProtos:         []string{"http/1.1"},
		ClientSessionCache: cache,
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(conn)
	if err != nil || !strings.Contains(string(body), "vhost=a.test") {
		t.Fatalf("answer: %q %v", body, err)
	}
	st := conn.ConnectionState()
	if st.Version != version {
		t.Fatalf("version %x, want %x", st.Version, version)
	}
	return st.DidResume
}

const ticketsConfig = `
vhost "a.test" {
  listen = ["https://127.0.0.1:0"]
  tls {
    cert = "a.crt"
    key  = "a.key"
  }
  tls_echo {}
}
`

// TestTLSResumption: a client resumes its session with a ticket on TLS
// 1.3 and 1.2, also after a reload, which keeps the keys.
func TestTLSResumption(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version uint16
	}{
		{"tls1.3", tls.VersionTLS13},
		{"tls1.2", tls.VersionTLS12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTLSServer(t)
			ts.writeCert("a", "a.test")
			ts.start(ticketsConfig)
			addr := ts.addr("127.0.0.1:0")
			cache := tls.NewLRUClientSessionCache(8)
			if resumes(t, ts, addr, tc.version, cache) {
				t.Fatal("the first connection resumed")
			}
			if !resumes(t, ts, addr, tc.version, cache) {
				t.Fatal("the second connection did not resume")
			}
			if err := ts.srv.Reload(context.Background(), ts.config(ticketsConfig), nil); err != nil {
				t.Fatal(err)
			}
			if !resumes(t, ts, addr, tc.version, cache) {
				t.Fatal("no resumption after a reload")
			}
			// A listener opened by the reload shares the keys.
			two := strings.Replace(ticketsConfig, `"https://127.0.0.1:0"`, `"https://127.0.0.1:0", "https://[::1]:0"`, 1)
			if err := ts.srv.Reload(context.Background(), ts.config(two), nil); err != nil {
				t.Skipf("no IPv6 loopback: %v", err)
			}
			if !resumes(t, ts, ts.addr("[::1]:0"), tc.version, cache) {
				t.Fatal("a listener opened by a reload does not resume sessions of the first one")
			}
		})
	}
}

// TestTLSTicketRotation: a ticket resumes while its key is among those
// kept after rotations, and not once the key has left the window.
func TestTLSTicketRotation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version uint16
	}{
		{"tls1.3", tls.VersionTLS13},
		{"tls1.2", tls.VersionTLS12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTLSServer(t)
			ts.writeCert("a", "a.test")
			clock := &testClock{}
			clock.Advance(time.Hour)
			ts.srv.TicketKeys = &certs.LocalTicketKeys{Now: clock.Now}
			ts.start(strings.Replace(ticketsConfig, "vhost", `server {
  tls { ticket_rotation = "1h" }
}
vhost`, 1))
			addr := ts.addr("127.0.0.1:0")
			old := &firstTicket{}
			if resumes(t, ts, addr, tc.version, old) {
				t.Fatal("the first connection resumed")
			}
			// Keys are kept for 3 rotations: two rotations later the
			// first key still decrypts.
			for i := range certs.TicketKeysKept - 1 {
				clock.Advance(time.Hour + time.Minute)
				if err := ts.srv.RefreshTicketKeys(context.Background()); err != nil {
					t.Fatal(err)
				}
				if !resumes(t, ts, addr, tc.version, old) {
					t.Fatalf("no resumption after %d rotations", i+1)
				}
			}
			// New tickets use the newest key.
			fresh := tls.NewLRUClientSessionCache(8)
			resumes(t, ts, addr, tc.version, fresh)
			clock.Advance(time.Hour + time.Minute)
			if err := ts.srv.RefreshTicketKeys(context.Background()); err != nil {
				t.Fatal(err)
			}
			if resumes(t, ts, addr, tc.version, old) {
				t.Fatal("a ticket whose key left the window resumed")
			}
			if !resumes(t, ts, addr, tc.version, fresh) {
				t.Fatal("a ticket of the newest key did not resume after one more rotation")
			}
		})
	}
}

// TestTLSSessionTicketsOff: with session_tickets = false no session
// resumes.
func TestTLSSessionTicketsOff(t *testing.T) {
	ts := newTLSServer(t)
	ts.writeCert("a", "a.test")
	ts.start(strings.Replace(ticketsConfig, "vhost", `server {
  tls { session_tickets = false }
}
vhost`, 1))
	addr := ts.addr("127.0.0.1:0")
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		cache := tls.NewLRUClientSessionCache(8)
		resumes(t, ts, addr, v, cache)
		if resumes(t, ts, addr, v, cache) {
			t.Errorf("version %x resumed with session tickets off", v)
		}
	}
}
