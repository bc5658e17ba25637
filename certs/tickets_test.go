package certs

import (
	"context"
	"testing"
	"time"
)

// TestLocalTicketKeys: a new key every rotation, newest first, at most
// keep kept, none older than keep rotations, and the refresh due when the
// newest is.
func TestLocalTicketKeys(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := &LocalTicketKeys{Now: func() time.Time { return now }}
	ctx := context.Background()
	get := func() ([][32]byte, time.Duration) {
		t.Helper()
		keys, refresh, err := l.TicketKeys(ctx, time.Hour, 3)
		if err != nil {
			t.Fatal(err)
		}
		return keys, refresh
	}
	first, refresh := get()
	if len(first) != 1 || first[0] == ([32]byte{}) || refresh != time.Hour {
		t.Fatalf("first call: %d keys, refresh %s", len(first), refresh)
	}
	now = now.Add(30 * time.Minute)
	if again, refresh := get(); len(again) != 1 || again[0] != first[0] || refresh != 30*time.Minute {
		t.Fatalf("before the rotation is due: %d keys, refresh %s", len(again), refresh)
	}
	var history [][32]byte
	history = append(history, first[0])
	for i := 2; i <= 4; i++ {
		now = now.Add(time.Hour)
		keys, refresh := get()
		history = append(history, keys[0])
		if refresh != time.Hour {
			t.Errorf("rotation %d: refresh %s", i, refresh)
		}
		want := min(i, 3)
		if len(keys) != want {
			t.Fatalf("rotation %d: %d keys, want %d", i, len(keys), want)
		}
		for j, k := range keys {
			if k != history[len(history)-1-j] {
				t.Errorf("rotation %d: key %d is not the one made %d rotations ago", i, j, j)
			}
		}
	}
	// After a long pause every old key is out of the window.
	now = now.Add(10 * time.Hour)
	keys, _ := get()
	if len(keys) != 1 || keys[0] == history[len(history)-1] {
		t.Errorf("after a pause: %d keys, want one new key", len(keys))
	}
	if _, _, err := l.TicketKeys(ctx, 0, 3); err == nil {
		t.Error("a zero rotation is accepted")
	}
}
