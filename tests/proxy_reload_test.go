package tests

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// reloadUpstream is a Go upstream that counts the connections opened to
// it, names itself in X-Upstream with the X-Gen it was sent, and while
// broken closes each connection without answering.
type reloadUpstream struct {
	*httptest.Server
	conns  atomic.Int32
	broken atomic.Bool
}

func newReloadUpstream(t *testing.T, name string) *reloadUpstream {
	u := &reloadUpstream{}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u.broken.Load() {
			c, _, _ := http.NewResponseController(w).Hijack()
			c.Close()
			return
		}
		fmt.Fprintf(w, "%s %s", name, r.Header.Get("X-Gen"))
	}))
	u.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.conns.Add(1)
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

// TestProxyReloadKeepsUpstreamState: a SIGHUP whose config keeps the same
// upstreams keeps their health (one taken out by passive health stays
// out) and their kept connections (no new connection to the other).
func TestProxyReloadKeepsUpstreamState(t *testing.T) {
	a, b := newReloadUpstream(t, "a"), newReloadUpstream(t, "b")
	config := func(gen string) string {
		return proxyConfig("", fmt.Sprintf(`  reverse_proxy "/" {
    to           = [%q, %q]
    lb_policy    = "first"
    max_fails    = 1
    fail_timeout = "1h"
    header_up    = { "X-Gen" = %q }
  }`, a.URL, b.URL, gen))
	}
	h := NewHarness(t)
	h.Write("htdocs/.keep", "", 0o644)
	s := h.Start(config("1"))
	client := &http.Client{Timeout: 10 * time.Second}

	if status, body := getBody(t, client, s.URL("/x")); status != 200 || body != "a 1" {
		t.Fatalf("a healthy: %d %q", status, body)
	}
	a.broken.Store(true)
	if status, _ := getBody(t, client, s.URL("/x")); status != http.StatusBadGateway {
		t.Fatalf("a broken: %d, want 502", status)
	}
	s.WaitStderr("upstream out of rotation", 5*time.Second)
	for range 3 {
		if status, body := getBody(t, client, s.URL("/x")); status != 200 || body != "b 1" {
			t.Fatalf("a out, b serves: %d %q", status, body)
		}
	}
	if n := b.conns.Load(); n != 1 {
		t.Fatalf("%d connections to b for three requests in a row, want 1", n)
	}

	a.broken.Store(false)
	h.Write("httpd.hcl", config("2"), 0o644)
	s.Signal(syscall.SIGHUP)
	s.WaitStderr("config reloaded", 10*time.Second)
	for range 3 {
		if status, body := getBody(t, client, s.URL("/x")); status != 200 || body != "b 2" {
			t.Fatalf("after the reload a is still out and b serves the new config: got %d %q, want \"b 2\"", status, body)
		}
	}
	if n := b.conns.Load(); n != 1 {
		t.Errorf("%d connections to b after the reload, want the one kept before it", n)
	}
	if n := a.conns.Load(); n != 2 {
		t.Errorf("%d connections to a, want 2 (none after the reload: it is out)", n)
	}
}
