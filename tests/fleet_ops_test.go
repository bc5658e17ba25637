package tests

import (
	"encoding/json"
	"net/http"
	"strings"
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
