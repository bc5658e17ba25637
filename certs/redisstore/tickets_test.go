package redisstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"httpd/certs/redisstore"
	"httpd/certs/redisstore/redistest"
)

// clock is a settable clock shared by the servers of a test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestTicketKeysShared(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	ctx := context.Background()
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	const rotation, keep = time.Hour, 3
	var fleet []*redisstore.TicketKeys
	for range 3 {
		s, _ := newStore(t, srv, redisstore.Options{LockPoll: 10 * time.Millisecond})
		fleet = append(fleet, &redisstore.TicketKeys{S: s, Now: clk.Now})
	}
	get := func(i int) ([][32]byte, time.Duration) {
		t.Helper()
		keys, refresh, err := fleet[i].TicketKeys(ctx, rotation, keep)
		if err != nil {
			t.Fatal(err)
		}
		return keys, refresh
	}

	// The first server makes the set; the others read the same.
	k0, refresh := get(0)
	if len(k0) != 2 {
		t.Fatalf("first keys: %d, want the current and the next", len(k0))
	}
	if refresh != 5*time.Minute {
		t.Errorf("refresh = %s, want the poll interval (the next key starts in an hour)", refresh)
	}
	for i := 1; i < 3; i++ {
		if k, _ := get(i); !equalKeys(k, k0) {
			t.Fatalf("server %d got other keys than server 0", i)
		}
	}
	// All at once, on an empty Redis: one set for all.
	if reply, _ := srv.Do("DEL", "httpd:tickets"); reply != ":1" {
		t.Fatalf("DEL = %s", reply)
	}
	sets := make([][][32]byte, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sets[i], _, _ = fleet[i].TicketKeys(ctx, rotation, keep)
		}()
	}
	wg.Wait()
	for i := 1; i < 3; i++ {
		if len(sets[i]) == 0 || !equalKeys(sets[i], sets[0]) {
			t.Fatalf("concurrent first rotation: server %d got other keys than server 0", i)
		}
	}
	k0 = sets[0]

	// Just before the rotation nothing changes; the refresh falls due
	// when the next key starts.
	clk.add(rotation - time.Minute)
	if k, refresh := get(1); !equalKeys(k, k0) || refresh != time.Minute {
		t.Fatalf("before rotation: same keys %v, refresh %s (want 1m)", equalKeys(k, k0), refresh)
	}
	// At the rotation the next key, which every server already had,
	// encrypts; the former current still decrypts; a new next appears.
	clk.add(time.Minute)
	k1, _ := get(2)
	if k1[0] != k0[1] {
		t.Fatal("after rotation the current key is not the former next one")
	}
	if len(k1) != 3 || k1[2] != k0[0] {
		t.Fatalf("after rotation: %d keys, the former current kept: %v", len(k1), len(k1) == 3 && k1[2] == k0[0])
	}
	for i := range 2 {
		if k, _ := get(i); !equalKeys(k, k1) {
			t.Fatalf("server %d did not pick up the rotation", i)
		}
	}
	// Many rotations later, at most keep+1 keys, and the oldest go.
	for range 5 {
		clk.add(rotation)
		get(0)
	}
	k6, _ := get(1)
	if len(k6) != keep+1 {
		t.Errorf("after many rotations %d keys, want %d", len(k6), keep+1)
	}
	for _, k := range k6 {
		if k == k0[0] {
			t.Error("a key older than keep rotations is still used")
		}
	}
	// A fleet down for longer than the window starts afresh.
	clk.add(10 * rotation)
	if k, _ := get(2); len(k) != 2 {
		t.Errorf("after a long pause %d keys, want a fresh current and next", len(k))
	}
}

func equalKeys(a, b [][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
