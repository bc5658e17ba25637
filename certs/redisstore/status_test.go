package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"httpd/certs"
	"httpd/certs/redisstore"
	"httpd/certs/redisstore/redistest"
)

// waitStatus asks s for its status until ok says it is the one wanted,
// within 10 seconds: a status older than two seconds starts a probe of
// Redis whose result the next call shows.
func waitStatus(t *testing.T, s *redisstore.Storage, what string, ok func(certs.StorageStatus) bool) certs.StorageStatus {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := s.StorageStatus()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("storage status is not %s within 10s: %+v", what, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStorageStatus: the status shows the address and prefix (never the
// password), whether Redis answers and since when, the last error (kept
// once Redis answers again) and the last write; a Redis killed with no
// command under way shows as unreachable through the status's own probe.
func TestStorageStatus(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{TCP: true, Password: "status-secret"})
	s, _ := newStore(t, srv, redisstore.Options{Prefix: "status"})
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	st := s.StorageStatus()
	if st.Kind != "redis" || st.Address != srv.Address || st.Prefix != "status" || !st.Healthy || st.Since.IsZero() ||
		st.LastError != "" || !st.LastWrite.IsZero() {
		t.Errorf("after Ping: %+v", st)
	}
	if strings.Contains(st.Address, "status-secret") {
		t.Errorf("the address shows the password: %s", st.Address)
	}
	before := time.Now()
	if err := s.Store(ctx, "a/b", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if st := s.StorageStatus(); st.LastWrite.Before(before) {
		t.Errorf("last write %s, before the write at %s", st.LastWrite, before)
	}
	upSince := s.StorageStatus().Since

	srv.Kill()
	down := waitStatus(t, s, "unreachable", func(st certs.StorageStatus) bool { return !st.Healthy })
	if down.LastError == "" || down.LastErrorAt.IsZero() || !down.Since.After(upSince) {
		t.Errorf("with Redis down: %+v", down)
	}

	srv.Start()
	up := waitStatus(t, s, "reachable again", func(st certs.StorageStatus) bool { return st.Healthy })
	if up.LastError != down.LastError || !up.Since.After(down.Since) {
		t.Errorf("after Redis came back: %+v (down: %+v)", up, down)
	}
}

// TestTicketStatus: the shared keys' status says where they come from,
// when the key encrypting now started, and the last failure.
func TestTicketStatus(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	s, _ := newStore(t, srv, redisstore.Options{})
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	tk := &redisstore.TicketKeys{S: s, Now: clk.Now}
	if got := tk.TicketStatus(); got.Source != certs.TicketSourceShared || !got.LastRotation.IsZero() || got.LastError != "" {
		t.Errorf("before any key: %+v", got)
	}
	ctx := context.Background()
	first := clk.Now()
	if _, _, err := tk.TicketKeys(ctx, time.Hour, 3); err != nil {
		t.Fatal(err)
	}
	if got := tk.TicketStatus(); !got.LastRotation.Equal(first) || got.LastError != "" {
		t.Errorf("after the first keys: %+v, want last rotation %s", got, first)
	}
	clk.add(90 * time.Minute)
	if _, _, err := tk.TicketKeys(ctx, time.Hour, 3); err != nil {
		t.Fatal(err)
	}
	if got, want := tk.TicketStatus().LastRotation, first.Add(time.Hour); !got.Equal(want) {
		t.Errorf("after a rotation: last rotation %s, want %s (when the next key took over)", got, want)
	}
	srv.Kill()
	if _, _, err := tk.TicketKeys(ctx, time.Hour, 3); err == nil {
		t.Fatal("TicketKeys with Redis down: no error")
	}
	if got := tk.TicketStatus(); got.LastError == "" || !got.LastRotation.Equal(first.Add(time.Hour)) {
		t.Errorf("with Redis down: %+v", got)
	}
}
