package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"httpd/certs"
	"httpd/certs/redisstore/redistest"
)

// fleetStatus reads the storage part of the status page's JSON.
type fleetStatus struct {
	Generation int                  `json:"generation"`
	Storage    *certs.StorageStatus `json:"storage"`
	Tickets    *certs.TicketStatus  `json:"session_tickets"`
}

func getFleetStatus(t *testing.T, c *http.Client, addr string) (fleetStatus, string) {
	t.Helper()
	resp, body := tlsGet(t, c, "https://"+addr+"/server-status?format=json")
	if resp.StatusCode != 200 {
		t.Fatalf("status page: %s\n%s", resp.Status, body)
	}
	var st fleetStatus
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("status page JSON: %v\n%s", err, body)
	}
	if st.Storage == nil || st.Tickets == nil {
		t.Fatalf("status page JSON without storage or session_tickets:\n%s", body)
	}
	return st, body
}

// waitFleetStatus reads the status page until ok, within 15 seconds.
func waitFleetStatus(t *testing.T, c *http.Client, addr, what string, ok func(fleetStatus) bool) fleetStatus {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, body := getFleetStatus(t, c, addr)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("the status page does not show %s within 15s:\n%s", what, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFleetStatusStorage: the status page shows Redis (address, prefix,
// no password) and its health: reachable, then unreachable once Redis is
// killed, then reachable again; and the session-ticket keys' source and
// last rotation. Every request meanwhile is answered.
func TestFleetStatusStorage(t *testing.T) {
	redis := redistest.Start(t, redistest.Options{TCP: true, Password: "status-secret"})
	hs, ss := startFleet(t, redis, 1)
	c := tlsClient(fleetRoots(t, hs), false)
	addr := ss[0].Addr

	st, body := getFleetStatus(t, c, addr)
	if st.Storage.Kind != "redis" || st.Storage.Address != redis.Address || st.Storage.Prefix != "fleet-test" || !st.Storage.Healthy {
		t.Errorf("storage with Redis up: %+v", st.Storage)
	}
	if st.Storage.LastWrite.IsZero() {
		t.Errorf("no last write, though the server stored the session-ticket keys and the CA root: %+v", st.Storage)
	}
	if st.Tickets.Source != certs.TicketSourceShared || st.Tickets.LastRotation.IsZero() {
		t.Errorf("session tickets: %+v", st.Tickets)
	}
	if strings.Contains(body, "status-secret") {
		t.Errorf("the status page shows the Redis password:\n%s", body)
	}
	resp, page := tlsGet(t, c, "https://"+addr+"/server-status")
	if resp.StatusCode != 200 || !strings.Contains(page, redis.Address) || !strings.Contains(page, "reachable") ||
		!strings.Contains(page, "shared storage") || strings.Contains(page, "status-secret") {
		t.Errorf("HTML status page with Redis up: %s\n%s", resp.Status, page)
	}

	redis.Kill()
	down := waitFleetStatus(t, c, addr, "Redis unreachable", func(st fleetStatus) bool { return !st.Storage.Healthy })
	if down.Storage.LastError == "" || down.Storage.Since.Before(st.Storage.Since) {
		t.Errorf("storage with Redis down: %+v", down.Storage)
	}
	if _, page := tlsGet(t, c, "https://"+addr+"/server-status"); !strings.Contains(page, "unreachable") {
		t.Errorf("HTML status page with Redis down does not say it is unreachable:\n%s", page)
	}

	redis.Start()
	up := waitFleetStatus(t, c, addr, "Redis reachable again", func(st fleetStatus) bool { return st.Storage.Healthy })
	if up.Storage.LastError != down.Storage.LastError || !up.Storage.Since.After(down.Storage.Since) {
		t.Errorf("storage after Redis came back: %+v (down: %+v)", up.Storage, down.Storage)
	}
	if resp, body := tlsGet(t, c, "https://"+addr+"/"); resp.StatusCode != 200 || body != "server 0\n" {
		t.Errorf("GET /: %s %q", resp.Status, body)
	}
}

// waitStderrCount waits until s's stderr holds substr n times, within 10 s.
func waitStderrCount(t *testing.T, s *Server, substr string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(s.Stderr(), substr) < n {
		if time.Now().After(deadline) {
			t.Fatalf("stderr holds %q %d times within 10s, want %d:\n%s", substr, strings.Count(s.Stderr(), substr), n, s.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFleetReloadStorage: a reload (SIGHUP) that changes the storage
// block applies the rest of the config, warns that the storage changes
// at the next restart only, naming what changed and the storage still in
// use, and the server goes on with that storage; a reload back to the
// running block does not warn.
func TestFleetReloadStorage(t *testing.T) {
	redis := redistest.Start(t, redistest.Options{TCP: true, Password: "reload-secret"})
	hs, ss := startFleet(t, redis, 1)
	h, s := hs[0], ss[0]
	c := tlsClient(fleetRoots(t, hs), false)
	const warn = "the storage block changed"
	reloads := 0
	reload := func(config string) {
		t.Helper()
		h.Write("httpd.hcl", config, 0o644)
		reloads++
		s.Signal(syscall.SIGHUP)
		waitStderrCount(t, s, "reload done", reloads)
	}

	orig := fleetConfig(redis)
	changed := strings.Replace(orig, `prefix   = "fleet-test"`, `prefix   = "fleet-other"`, 1)
	changed = strings.Replace(changed, `document_root = "htdocs"`, `document_root = "htdocs2"`, 1)
	h.Write("htdocs2/index.html", "after reload\n", 0o644)
	reload(changed)
	logs := s.Stderr()
	if strings.Count(logs, warn) != 1 || !strings.Contains(logs, "changed=prefix") ||
		!strings.Contains(logs, fmt.Sprintf(`running="redis %s prefix fleet-test"`, redis.Address)) {
		t.Errorf("no warning naming the prefix and the running storage:\n%s", logs)
	}
	// The rest of the config is applied; the storage is the one at start.
	if resp, body := tlsGet(t, c, "https://"+s.Addr+"/"); resp.StatusCode != 200 || body != "after reload\n" {
		t.Errorf("GET / after the reload: %s %q", resp.Status, body)
	}
	if st, _ := getFleetStatus(t, c, s.Addr); st.Storage.Prefix != "fleet-test" || st.Generation != 2 {
		t.Errorf("after the reload the status page shows prefix %q, generation %d; want the running fleet-test, generation 2", st.Storage.Prefix, st.Generation)
	}
	if n, err := redis.Do("EXISTS", "fleet-other:tickets"); err != nil || n != ":0" {
		t.Errorf("the new prefix is in use: EXISTS fleet-other:tickets = %s %v", n, err)
	}
	// Still not applied: a second reload warns again.
	reload(changed)
	if n := strings.Count(s.Stderr(), warn); n != 2 {
		t.Errorf("%d warnings after reloading the changed block twice, want 2", n)
	}
	// Back to the running block: no warning.
	reload(orig)
	if n := strings.Count(s.Stderr(), warn); n != 2 {
		t.Errorf("%d warnings after reloading the running block, want still 2:\n%s", n, s.Stderr())
	}
	if resp, body := tlsGet(t, c, "https://"+s.Addr+"/"); resp.StatusCode != 200 || body != "server 0\n" {
		t.Errorf("GET / after the reload back: %s %q", resp.Status, body)
	}
}
