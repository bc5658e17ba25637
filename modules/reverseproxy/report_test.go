package reverseproxy

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestProxyReport follows the upstreams' counters and health through
// requests answered and refused.
func TestProxyReport(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer up.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	f := newFixture(t, "/", fmt.Sprintf(`to = [%q, %q]
lb_policy = "first"
max_fails = 1
fail_timeout = "1h"`, refused, up.URL))

	rep := f.m.Report()
	if rep.Kind != "reverse_proxy" || rep.Target != refused+", "+up.URL || len(rep.Upstreams) != 2 {
		t.Fatalf("report %+v", rep)
	}
	for _, u := range rep.Upstreams {
		if !u.Healthy || u.Requests != 0 || u.Failures != 0 {
			t.Errorf("before any request: %+v", u)
		}
	}
	for range 3 {
		if resp, body := f.get("/x"); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("GET /x = %d %q", resp.StatusCode, body)
		}
	}
	rep = f.m.Report()
	down, ok := rep.Upstreams[0], rep.Upstreams[1]
	// The refused one is tried first, fails once and is out; the other
	// takes all three.
	if down.Healthy || down.Requests != 1 || down.Failures != 1 || !strings.Contains(down.LastError, "refused") {
		t.Errorf("refusing upstream %+v, want out after one failure", down)
	}
	if !ok.Healthy || ok.Requests != 3 || ok.Failures != 0 || ok.Active != 0 || ok.LastError != "" {
		t.Errorf("answering upstream %+v, want 3 requests, none failed", ok)
	}
}
