package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"httpd/certs/redisstore"
	"httpd/certs/redisstore/redistest"
	"httpd/internal/testutil"
)

func newStore(t *testing.T, srv *redistest.Server, o redisstore.Options) (*redisstore.Storage, *testutil.SyncBuffer) {
	t.Helper()
	o.Address = srv.Address
	if o.Password == "" {
		o.Password = srv.Password
	}
	logs := &testutil.SyncBuffer{}
	s, err := redisstore.New(o, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, logs
}

func TestStoreLoadDeleteStat(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	s, _ := newStore(t, srv, redisstore.Options{Prefix: "fleet1"})
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	if _, err := s.Load(ctx, "certificates/ca/a.example/a.example.crt"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing key: %v, want fs.ErrNotExist", err)
	}
	files := map[string]string{
		"certificates/ca/a.example/a.example.crt":  "cert a",
		"certificates/ca/a.example/a.example.key":  "key a",
		"certificates/ca/a.example/a.example.json": "{}",
		"certificates/ca/b.example/b.example.crt":  "cert b",
		"acme/ca/users/me@x/me.json":               "user",
		"ocsp/a.example-0123":                      "\x00binary\xff",
	}
	for k, v := range files {
		if err := s.Store(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range files {
		got, err := s.Load(ctx, k)
		if err != nil || string(got) != v {
			t.Errorf("Load(%s) = %q, %v; want %q", k, got, err, v)
		}
	}
	// Overwrite.
	if err := s.Store(ctx, "ocsp/a.example-0123", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Load(ctx, "ocsp/a.example-0123"); string(got) != "new" {
		t.Errorf("after overwrite Load = %q", got)
	}
	// The prefix keeps keys apart: another prefix sees nothing.
	other, _ := newStore(t, srv, redisstore.Options{Prefix: "fleet2"})
	if other.Exists(ctx, "ocsp/a.example-0123") {
		t.Error("a key of prefix fleet1 exists under fleet2")
	}
	if n, err := srv.Do("EXISTS", "fleet1:f:ocsp/a.example-0123"); err != nil || n != ":1" {
		t.Errorf("raw key fleet1:f:ocsp/a.example-0123: %q %v", n, err)
	}

	tests := []struct {
		name      string
		key       string
		exists    bool
		terminal  bool
		size      int64
		wantNoEnt bool
	}{
		{name: "file", key: "certificates/ca/a.example/a.example.key", exists: true, terminal: true, size: 5},
		{name: "dir", key: "certificates/ca/a.example", exists: true},
		{name: "dir with slash", key: "/certificates/", exists: true},
		{name: "missing", key: "certificates/ca/c.example", wantNoEnt: true},
		{name: "partial name", key: "certificates/ca/a.ex", wantNoEnt: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Exists(ctx, tt.key); got != tt.exists {
				t.Errorf("Exists = %v, want %v", got, tt.exists)
			}
			info, err := s.Stat(ctx, tt.key)
			if tt.wantNoEnt {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Stat: %v, want fs.ErrNotExist", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.IsTerminal != tt.terminal || info.Size != tt.size {
				t.Errorf("Stat = %+v, want terminal %v size %d", info, tt.terminal, tt.size)
			}
			if tt.terminal && time.Since(info.Modified) > time.Minute {
				t.Errorf("Stat modified = %v, want about now", info.Modified)
			}
		})
	}

	// Deleting a file keeps its siblings; deleting the last one drops the
	// directory, and its parents when they become empty.
	if err := s.Delete(ctx, "certificates/ca/b.example/b.example.crt"); err != nil {
		t.Fatal(err)
	}
	if s.Exists(ctx, "certificates/ca/b.example") {
		t.Error("an empty directory still exists after its last file was deleted")
	}
	if !s.Exists(ctx, "certificates/ca") {
		t.Error("certificates/ca was dropped while a.example is in it")
	}
	// Deleting a directory deletes what it holds.
	if err := s.Delete(ctx, "certificates"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"certificates", "certificates/ca/a.example/a.example.crt"} {
		if s.Exists(ctx, k) {
			t.Errorf("%s exists after deleting certificates", k)
		}
	}
	if err := s.Delete(ctx, "no/such/key"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	got, err := s.List(ctx, "", false)
	if err != nil || !slices.Equal(got, []string{"acme", "ocsp"}) {
		t.Errorf("List of the root after deletes = %q, %v", got, err)
	}
	// Nothing of certificates is left in Redis, index included.
	if reply, _ := srv.Do("EXISTS", "fleet1:d:certificates", "fleet1:d:certificates/ca"); reply != ":0" {
		t.Errorf("index keys of a deleted directory remain: EXISTS = %s", reply)
	}
}

func TestList(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	s, _ := newStore(t, srv, redisstore.Options{})
	ctx := context.Background()
	for _, k := range []string{"a/b/c1", "a/b/c2", "a/d", "a/e/f/g", "z"} {
		if err := s.Store(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		dir       string
		recursive bool
		want      []string
		noEnt     bool
	}{
		{name: "root", dir: "", want: []string{"a", "z"}},
		{name: "dir", dir: "a", want: []string{"a/b", "a/d", "a/e"}},
		{name: "dir slash", dir: "a/", want: []string{"a/b", "a/d", "a/e"}},
		{name: "recursive", dir: "a", recursive: true,
			want: []string{"a/b", "a/b/c1", "a/b/c2", "a/d", "a/e", "a/e/f", "a/e/f/g"}},
		{name: "recursive root", dir: "", recursive: true,
			want: []string{"a", "a/b", "a/b/c1", "a/b/c2", "a/d", "a/e", "a/e/f", "a/e/f/g", "z"}},
		{name: "file", dir: "a/d", want: nil},
		{name: "missing", dir: "q", noEnt: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.List(ctx, tt.dir, tt.recursive)
			if tt.noEnt {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("List = %q, %v; want fs.ErrNotExist", got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("List(%q, %v) = %q, %v; want %q", tt.dir, tt.recursive, got, err, tt.want)
			}
		})
	}
}

// TestLockContention: two servers (two clients) take the same lock; the
// second waits until the first releases it, and never holds it at the
// same time.
func TestLockContention(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	a, _ := newStore(t, srv, redisstore.Options{LockPoll: 10 * time.Millisecond})
	b, _ := newStore(t, srv, redisstore.Options{LockPoll: 10 * time.Millisecond})
	ctx := context.Background()

	if err := a.Lock(ctx, "issue_cert_a.example"); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.TryLock(ctx, "issue_cert_a.example"); ok || err != nil {
		t.Fatalf("TryLock of a held lock = %v, %v; want false", ok, err)
	}
	// Unlock only by the holder.
	if err := b.Unlock(ctx, "issue_cert_a.example"); err == nil {
		t.Error("Unlock by a server that does not hold the lock succeeded")
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	err := b.Lock(short, "issue_cert_a.example")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock of a held lock with a short context: %v, want deadline exceeded", err)
	}

	var mu sync.Mutex
	var order []string
	got := make(chan error, 1)
	go func() {
		err := b.Lock(ctx, "issue_cert_a.example")
		mu.Lock()
		order = append(order, "b locked")
		mu.Unlock()
		got <- err
	}()
	mu.Lock()
	order = append(order, "a unlocks")
	mu.Unlock()
	if err := a.Unlock(ctx, "issue_cert_a.example"); err != nil {
		t.Fatal(err)
	}
	if err := testutil.Recv(t, got, 5*time.Second, "b's Lock"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if !slices.Equal(order, []string{"a unlocks", "b locked"}) {
		t.Errorf("order = %q", order)
	}
	mu.Unlock()
	if err := b.Unlock(ctx, "issue_cert_a.example"); err != nil {
		t.Fatal(err)
	}

	// Many goroutines over two clients: at most one inside at a time.
	var inside, maxInside int
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Lock(ctx, "shared"); err != nil {
				errs <- err
				return
			}
			mu.Lock()
			inside++
			maxInside = max(maxInside, inside)
			mu.Unlock()
			mu.Lock()
			inside--
			mu.Unlock()
			errs <- s.Unlock(ctx, "shared")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if maxInside != 1 {
		t.Errorf("at most %d holders at once, want 1", maxInside)
	}
}

// TestLockRefreshAndExpiry: a held lock outlives its TTL while its holder
// lives (it is refreshed), and expires once the holder is gone.
func TestLockRefreshAndExpiry(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	ttl := 300 * time.Millisecond
	a, _ := newStore(t, srv, redisstore.Options{LockTTL: ttl, LockPoll: 10 * time.Millisecond})
	b, _ := newStore(t, srv, redisstore.Options{LockTTL: ttl, LockPoll: 10 * time.Millisecond})
	ctx := context.Background()
	if err := a.Lock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	// Held for three TTLs: b must not get it.
	short, cancel := context.WithTimeout(ctx, 3*ttl)
	err := b.Lock(short, "l")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("b took a lock a holds and refreshes: %v", err)
	}
	// The holder dies: Close stops its refreshes without releasing.
	start := time.Now()
	a.Close()
	wait, cancel := context.WithTimeout(ctx, 10*ttl)
	defer cancel()
	if err := b.Lock(wait, "l"); err != nil {
		t.Fatalf("the lock of a dead holder did not expire: %v", err)
	}
	if d := time.Since(start); d > 5*ttl {
		t.Errorf("took %s to expire, TTL %s", d, ttl)
	}
	// A long lease (RenewLockLease) outlasts the TTL too.
	if err := b.RenewLockLease(ctx, "l", time.Hour); err != nil {
		t.Fatal(err)
	}
	if reply, _ := srv.Do("PTTL", "httpd:l:l"); !strings.HasPrefix(reply, ":") || len(reply) < 8 {
		t.Errorf("PTTL after a lease of an hour = %s", reply)
	}
	if err := b.Unlock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	if reply, _ := srv.Do("EXISTS", "httpd:l:l"); reply != ":0" {
		t.Errorf("lock key remains after Unlock: %s", reply)
	}
}

// TestRedisDown: commands fail with an error naming the address, health
// says so, the log says it once, and everything works again when Redis
// is back.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{TCP: true, Password: "s3cret"})
	s, logs := newStore(t, srv, redisstore.Options{})
	ctx := context.Background()
	if err := s.Store(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	for range 3 {
		if _, err := s.Load(ctx, "k"); err == nil || !strings.Contains(err.Error(), srv.Address) {
			t.Fatalf("Load with Redis down: %v, want an error naming %s", err, srv.Address)
		}
	}
	if ok, _, err := s.Healthy(); ok || err == nil {
		t.Errorf("Healthy = %v, %v with Redis down", ok, err)
	}
	if n := strings.Count(logs.String(), "redis does not answer"); n != 1 {
		t.Errorf("logged %d times that Redis is down, want once:\n%s", n, logs)
	}
	if _, err := s.TryLock(ctx, "x"); err == nil {
		t.Error("TryLock with Redis down succeeded")
	}
	srv.Start()
	if err := s.Store(ctx, "k", []byte("v2")); err != nil {
		t.Fatalf("Store after Redis came back: %v", err)
	}
	if ok, _, _ := s.Healthy(); !ok {
		t.Error("not healthy after Redis came back")
	}
	if !strings.Contains(logs.String(), "redis answers again") {
		t.Errorf("no log line when Redis came back:\n%s", logs)
	}
}

func TestPingErrors(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{TCP: true, Password: "right"})
	ctx := context.Background()
	wrong, _ := newStore(t, srv, redisstore.Options{Password: "wrong"})
	if err := wrong.Ping(ctx); err == nil || !strings.Contains(err.Error(), "password") {
		t.Errorf("Ping with a wrong password: %v, want an error about the password", err)
	}
	right, _ := newStore(t, srv, redisstore.Options{})
	if err := right.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	s, err := redisstore.New(redisstore.Options{Address: "127.0.0.1:1"}, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("Ping of a closed port: %v", err)
	}
}

func TestSplitAddressAndPrefix(t *testing.T) {
	tests := []struct {
		addr, network, want, err string
	}{
		{addr: "10.0.0.5:6379", network: "tcp", want: "10.0.0.5:6379"},
		{addr: "[::1]:6379", network: "tcp", want: "[::1]:6379"},
		{addr: "redis.internal:6380", network: "tcp", want: "redis.internal:6380"},
		{addr: "/run/redis/redis.sock", network: "unix", want: "/run/redis/redis.sock"},
		{addr: "unix:/run/redis.sock", network: "unix", want: "/run/redis.sock"},
		{addr: "", err: "no address"},
		{addr: "10.0.0.5", err: "want host:port"},
		{addr: "redis://10.0.0.5:6379", err: "not a URL"},
		{addr: "10.0.0.5:99999", err: "port"},
		{addr: ":6379", err: "no host"},
		{addr: "unix:run/redis.sock", err: "absolute path"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			network, addr, err := redisstore.SplitAddress(tt.addr)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || network != tt.network || addr != tt.want {
				t.Errorf("= %s %s %v", network, addr, err)
			}
		})
	}
	for p, ok := range map[string]bool{"": true, "httpd": true, "prod/eu-1.web_2": true, "a:b": false, "a b": false, strings.Repeat("x", 65): false} {
		if err := redisstore.CheckPrefix(p); (err == nil) != ok {
			t.Errorf("CheckPrefix(%q) = %v", p, err)
		}
	}
}
