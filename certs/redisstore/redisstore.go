package redisstore

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/redis/go-redis/v9"

	"httpd/certs"
)

// Defaults of Options.
const (
	DefaultPrefix   = "httpd"
	DefaultLockTTL  = 30 * time.Second
	DefaultLockPoll = time.Second
	// logEvery is how often a Redis that stays unreachable is logged.
	logEvery = time.Minute
	// opTimeout bounds one Redis command: a Redis that does not answer
	// must not hold a handshake or a renewal for long.
	opTimeout = 3 * time.Second
	// probeStale is how old the last word from Redis may be before
	// StorageStatus probes it (in the background) for the next reader.
	probeStale = 2 * time.Second
)

// Options say which Redis to use and how.
type Options struct {
	// Address is host:port, or the path of a Unix socket ("/run/redis.sock"
	// or "unix:/run/redis.sock").
	Address  string
	Username string // for Redis ACLs; "" is the default user
	Password string
	DB       int
	// Prefix starts every key written, so one Redis may hold several
	// fleets (or other data); "" means DefaultPrefix.
	Prefix string
	// TLS connects over TLS, verifying the server against the system's
	// roots, or against Roots when it is set.
	TLS       bool
	TLSConfig *tls.Config
	// LockTTL is how long a lock outlives its holder: a holder refreshes
	// it every LockTTL/3; one that dies (or loses Redis) loses it after
	// LockTTL. 0 means DefaultLockTTL.
	LockTTL time.Duration
	// LockPoll is how often a waiting Lock tries again; 0 means
	// DefaultLockPoll.
	LockPoll time.Duration
}

// Storage is a certmagic.Storage (with TryLocker and LockLeaseRenewer)
// kept in Redis. It is safe for concurrent use, and meant to be shared by
// every ACME manager of a process; Close it when the process is done.
type Storage struct {
	rdb    *redis.Client
	addr   string
	prefix string
	ttl    time.Duration
	poll   time.Duration
	log    *slog.Logger

	mu   sync.Mutex           // guards held
	held map[string]*heldLock // locks this process holds, by name

	health health
	// probing is set while a probe StorageStatus started runs.
	probing atomic.Bool
}

// heldLock is a lock this process holds and the refresher keeping it.
type heldLock struct {
	token string
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex // guards until
	until time.Time  // a lease asked for by RenewLockLease
}

// New returns a Storage for o that logs to log (nil: nowhere). It does
// not connect: call Ping to check that Redis answers.
func New(o Options, log *slog.Logger) (*Storage, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	network, addr, err := SplitAddress(o.Address)
	if err != nil {
		return nil, err
	}
	if err := CheckPrefix(o.Prefix); err != nil {
		return nil, err
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.LockTTL <= 0 {
		o.LockTTL = DefaultLockTTL
	}
	if o.LockPoll <= 0 {
		o.LockPoll = DefaultLockPoll
	}
	ro := &redis.Options{
		Network:         network,
		Addr:            addr,
		Username:        o.Username,
		Password:        o.Password,
		DB:              o.DB,
		DialTimeout:     2 * time.Second,
		ReadTimeout:     opTimeout,
		WriteTimeout:    opTimeout,
		MaxRetries:      1,
		DisableIdentity: true,
		Protocol:        2,
	}
	if o.TLS {
		ro.TLSConfig = o.TLSConfig
		if ro.TLSConfig == nil {
			host, _, _ := net.SplitHostPort(addr)
			ro.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
		}
	}
	quietRedisLog()
	s := &Storage{
		rdb:    redis.NewClient(ro),
		addr:   o.Address,
		prefix: o.Prefix,
		ttl:    o.LockTTL,
		poll:   o.LockPoll,
		log:    log,
		held:   map[string]*heldLock{},
	}
	s.health.log, s.health.addr = log, o.Address
	return s, nil
}

// SplitAddress returns the network ("tcp" or "unix") and address of a
// storage address, or an error saying what is wrong with it.
func SplitAddress(a string) (network, addr string, err error) {
	switch {
	case a == "":
		return "", "", errors.New("redis: no address: give host:port or the path of a Unix socket")
	case strings.HasPrefix(a, "unix:"):
		if p := strings.TrimPrefix(a, "unix:"); strings.HasPrefix(p, "/") {
			return "unix", p, nil
		}
		return "", "", fmt.Errorf("redis: address %q: a Unix socket needs an absolute path, like unix:/run/redis/redis.sock", a)
	case strings.HasPrefix(a, "/"):
		return "unix", a, nil
	case strings.Contains(a, "://"):
		return "", "", fmt.Errorf("redis: address %q: give host:port (like 10.0.0.5:6379), not a URL; use tls = true for TLS", a)
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return "", "", fmt.Errorf("redis: address %q: want host:port, like 10.0.0.5:6379", a)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("redis: address %q: port %q is not a number from 1 to 65535", a, port)
	}
	if host == "" {
		return "", "", fmt.Errorf("redis: address %q: no host (write 127.0.0.1%s for this machine)", a, a)
	}
	return "tcp", a, nil
}

// CheckPrefix reports what is wrong with a key prefix: it may hold
// letters, digits and - _ . / but no ':' (the separator of the layout)
// and no space.
func CheckPrefix(p string) error {
	for _, r := range p {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_' || r == '.' || r == '/'
		if !ok {
			return fmt.Errorf("redis: prefix %q: %q is not allowed; use letters, digits and - _ . /", p, r)
		}
	}
	if len(p) > 64 {
		return fmt.Errorf("redis: prefix %q: longer than 64 characters", p)
	}
	return nil
}

// Ping checks that Redis answers and accepts the credentials. Its error
// names the address and says what to check.
func (s *Storage) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	err := s.rdb.Ping(ctx).Err()
	s.health.note(err)
	if err == nil {
		return nil
	}
	if IsAuthError(err) {
		return fmt.Errorf("redis %s: the server refused the username or password (storage \"redis\" password and username): %w", s.addr, err)
	}
	return fmt.Errorf("redis %s: no answer (is redis-server running there, and is the address right?): %w", s.addr, err)
}

// IsAuthError reports whether err is Redis refusing credentials.
func IsAuthError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "WRONGPASS") || strings.Contains(msg, "NOAUTH") ||
		strings.Contains(msg, "invalid password") || strings.Contains(msg, "invalid username-password")
}

// OnReachable sets f to run (in a goroutine of its own) each time Redis
// answers again after it did not. Set it before the Storage is used.
func (s *Storage) OnReachable(f func()) { s.health.onUp = f }

// Healthy reports whether the last command reached Redis, since when
// that has been so, and the last error otherwise.
func (s *Storage) Healthy() (ok bool, since time.Time, err error) {
	return s.health.state()
}

// StorageStatus implements certs.StorageReporter: the address (never
// the password), the prefix and whether Redis answers. When Redis was
// last heard from more than probeStale ago, it also pings Redis in the
// background, so the next call reports its health now without this one
// waiting for it.
func (s *Storage) StorageStatus() certs.StorageStatus {
	st := s.health.status()
	st.Kind, st.Address, st.Prefix = "redis", s.addr, s.prefix
	if time.Since(st.Checked) >= probeStale && s.probing.CompareAndSwap(false, true) {
		go func() {
			defer s.probing.Store(false)
			_ = s.Ping(context.Background())
		}()
	}
	return st
}

// String describes the storage for people: "redis 10.0.0.5:6379 prefix httpd".
func (s *Storage) String() string {
	return "redis " + s.addr + " prefix " + s.prefix
}

// Close stops the lock refreshers and closes the connections. Locks still
// held expire after their TTL.
func (s *Storage) Close() error {
	s.mu.Lock()
	held := s.held
	s.held = map[string]*heldLock{}
	s.mu.Unlock()
	for _, h := range held {
		close(h.stop)
		<-h.done
	}
	return s.rdb.Close()
}

func (s *Storage) fileKey(key string) string { return s.prefix + ":f:" + key }
func (s *Storage) dirKey(key string) string  { return s.prefix + ":d:" + key }
func (s *Storage) lockKey(name string) string {
	return s.prefix + ":l:" + name
}

// clean makes keys canonical as FileStorage's paths are: cleaned like
// path.Clean, with no "." or ".." left and no leading or trailing slash.
func clean(key string) string { return strings.TrimPrefix(path.Clean("/"+key), "/") }

// do runs f bounded by opTimeout and records whether Redis answered;
// redis.Nil (no such key) is an answer.
func (s *Storage) do(ctx context.Context, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	err := f(ctx)
	if err == nil || errors.Is(err, redis.Nil) {
		s.health.note(nil)
	} else {
		s.health.note(err)
	}
	return err
}

// storeScript writes a value and adds it to the directory index: each
// name to its parent's set, up to the first parent already indexed.
var storeScript = redis.NewScript(`
local p, key = ARGV[1], ARGV[2]
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'm', ARGV[4])
local dir = key
while true do
  local parent, name = string.match(dir, '^(.*)/([^/]*)$')
  if not parent then parent, name = '', dir end
  if redis.call('SADD', p .. ':d:' .. parent, name) == 0 or parent == '' then break end
  dir = parent
end
return 1
`)

// deleteScript removes a value or a whole directory, then drops the
// directories left empty from the index.
var deleteScript = redis.NewScript(`
local p, key = ARGV[1], ARGV[2]
local function join(a, b) if a == '' then return b end return a .. '/' .. b end
local function rm(path)
  redis.call('DEL', p .. ':f:' .. path)
  local d = p .. ':d:' .. path
  for _, k in ipairs(redis.call('SMEMBERS', d)) do rm(join(path, k)) end
  redis.call('DEL', d)
end
rm(key)
local dir = key
while dir ~= '' do
  local parent, name = string.match(dir, '^(.*)/([^/]*)$')
  if not parent then parent, name = '', dir end
  redis.call('SREM', p .. ':d:' .. parent, name)
  if redis.call('EXISTS', p .. ':d:' .. parent) == 1 or redis.call('EXISTS', p .. ':f:' .. parent) == 1 then break end
  dir = parent
end
return 1
`)

// listScript lists a directory, or its whole tree, sorted; nil when
// nothing is stored at the path.
var listScript = redis.NewScript(`
local p, root, rec = ARGV[1], ARGV[2], ARGV[3] == '1'
if redis.call('EXISTS', p .. ':d:' .. root) == 0 and redis.call('EXISTS', p .. ':f:' .. root) == 0 then
  return false
end
local out = {}
local function join(a, b) if a == '' then return b end return a .. '/' .. b end
local function walk(dir)
  local kids = redis.call('SMEMBERS', p .. ':d:' .. dir)
  table.sort(kids)
  for _, k in ipairs(kids) do
    local full = join(dir, k)
    table.insert(out, full)
    if rec then walk(full) end
  end
end
walk(root)
return out
`)

// Store implements certmagic.Storage: the value and its place in the
// directory index are written at once.
func (s *Storage) Store(ctx context.Context, key string, value []byte) error {
	key = clean(key)
	if key == "" {
		return errors.New("redis: store: empty key")
	}
	err := s.do(ctx, func(ctx context.Context) error {
		return storeScript.Run(ctx, s.rdb, []string{s.fileKey(key)},
			s.prefix, key, value, time.Now().UnixNano()).Err()
	})
	if err != nil {
		return fmt.Errorf("redis %s: store %s: %w", s.addr, key, err)
	}
	s.health.wrote()
	return nil
}

// Load implements certmagic.Storage; a missing key is fs.ErrNotExist.
func (s *Storage) Load(ctx context.Context, key string) ([]byte, error) {
	key = clean(key)
	var v []byte
	err := s.do(ctx, func(ctx context.Context) (err error) {
		v, err = s.rdb.HGet(ctx, s.fileKey(key), "v").Bytes()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redis: %s: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("redis %s: load %s: %w", s.addr, key, err)
	}
	return v, nil
}

// Delete implements certmagic.Storage: a directory goes with all it
// holds; a key that does not exist is no error.
func (s *Storage) Delete(ctx context.Context, key string) error {
	key = clean(key)
	err := s.do(ctx, func(ctx context.Context) error {
		return deleteScript.Run(ctx, s.rdb, []string{s.fileKey(key), s.dirKey(key)}, s.prefix, key).Err()
	})
	if err != nil {
		return fmt.Errorf("redis %s: delete %s: %w", s.addr, key, err)
	}
	return nil
}

// Exists implements certmagic.Storage: a value or a directory.
func (s *Storage) Exists(ctx context.Context, key string) bool {
	key = clean(key)
	var n int64
	err := s.do(ctx, func(ctx context.Context) (err error) {
		n, err = s.rdb.Exists(ctx, s.fileKey(key), s.dirKey(key)).Result()
		return err
	})
	return err == nil && n > 0
}

// List implements certmagic.Storage: the keys directly under dir, or with
// recursive every key below it (directories too), sorted within each
// directory. Nothing stored under dir is fs.ErrNotExist.
func (s *Storage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	dir = clean(dir)
	rec := "0"
	if recursive {
		rec = "1"
	}
	var keys []string
	err := s.do(ctx, func(ctx context.Context) (err error) {
		keys, err = listScript.Run(ctx, s.rdb, []string{s.dirKey(dir)}, s.prefix, dir, rec).StringSlice()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redis: %s: %w", dir, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("redis %s: list %s: %w", s.addr, dir, err)
	}
	return keys, nil
}

// Stat implements certmagic.Storage. A directory has no size and no
// modification time.
func (s *Storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	key = clean(key)
	var modified, size, dir int64
	var mErr error
	err := s.do(ctx, func(ctx context.Context) error {
		cmds, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.HGet(ctx, s.fileKey(key), "m")
			p.HStrLen(ctx, s.fileKey(key), "v")
			p.Exists(ctx, s.dirKey(key))
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		modified, mErr = cmds[0].(*redis.StringCmd).Int64()
		size = cmds[1].(*redis.IntCmd).Val()
		dir = cmds[2].(*redis.IntCmd).Val()
		return nil
	})
	if err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("redis %s: stat %s: %w", s.addr, key, err)
	}
	switch {
	case mErr == nil:
		return certmagic.KeyInfo{Key: key, Modified: time.Unix(0, modified), Size: size, IsTerminal: true}, nil
	case dir > 0:
		return certmagic.KeyInfo{Key: key}, nil
	}
	return certmagic.KeyInfo{}, fmt.Errorf("redis: %s: %w", key, fs.ErrNotExist)
}

// refreshScript extends a lock its holder still holds; 0 when it lost it.
var refreshScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// unlockScript releases a lock only for its holder; 0 when it had lost it.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Lock implements certmagic.Locker: it waits, polling every LockPoll,
// until name is free or ctx ends. It fails at once when Redis does not
// answer, so that certmagic retries with its backoff.
func (s *Storage) Lock(ctx context.Context, name string) error {
	var timer *time.Timer
	for {
		ok, err := s.TryLock(ctx, name)
		if err != nil || ok {
			return err
		}
		if timer == nil {
			timer = time.NewTimer(s.poll)
			defer timer.Stop()
		} else {
			timer.Reset(s.poll)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis: waiting for lock %s: %w", name, ctx.Err())
		case <-timer.C:
		}
	}
}

// TryLock implements certmagic.TryLocker: it takes name if it is free,
// and keeps it (refreshing it every LockTTL/3) until Unlock.
func (s *Storage) TryLock(ctx context.Context, name string) (bool, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return false, err
	}
	token := hex.EncodeToString(b[:])
	var ok bool
	err := s.do(ctx, func(ctx context.Context) (err error) {
		ok, err = s.rdb.SetNX(ctx, s.lockKey(name), token, s.ttl).Result()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("redis %s: lock %s: %w", s.addr, name, err)
	}
	if !ok {
		return false, nil
	}
	h := &heldLock{token: token, stop: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	old := s.held[name]
	s.held[name] = h
	s.mu.Unlock()
	if old != nil {
		// This process held name before and lost it (it expired):
		// that refresher has nothing left to keep.
		close(old.stop)
	}
	go s.refresh(name, h)
	return true, nil
}

// refresh keeps h's lock alive until h.stop closes or the lock is lost.
func (s *Storage) refresh(name string, h *heldLock) {
	defer close(h.done)
	t := time.NewTicker(s.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		h.mu.Lock()
		ttl := max(s.ttl, time.Until(h.until))
		h.mu.Unlock()
		var n int64
		err := s.do(context.Background(), func(ctx context.Context) (err error) {
			n, err = refreshScript.Run(ctx, s.rdb, []string{s.lockKey(name)}, h.token, ttl.Milliseconds()).Int64()
			return err
		})
		if err == nil && n == 0 {
			s.log.Warn("redis: a lock this server held expired before it was released; another server may take it",
				"lock", name, "redis", s.addr)
			return
		}
	}
}

// Unlock implements certmagic.Locker: it releases name if this process
// still holds it. A lock that expired meanwhile is not an error.
func (s *Storage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	h := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("redis: unlock %s: this server does not hold it", name)
	}
	close(h.stop)
	<-h.done
	err := s.do(ctx, func(ctx context.Context) error {
		return unlockScript.Run(ctx, s.rdb, []string{s.lockKey(name)}, h.token).Err()
	})
	if err != nil {
		return fmt.Errorf("redis %s: unlock %s (it expires by itself within %s): %w", s.addr, name, s.ttl, err)
	}
	return nil
}

// RenewLockLease implements certmagic.LockLeaseRenewer: the lock on name
// is kept for at least lease from now.
func (s *Storage) RenewLockLease(ctx context.Context, name string, lease time.Duration) error {
	s.mu.Lock()
	h := s.held[name]
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("redis: renew lock %s: this server does not hold it", name)
	}
	h.mu.Lock()
	h.until = time.Now().Add(lease)
	h.mu.Unlock()
	var n int64
	err := s.do(ctx, func(ctx context.Context) (err error) {
		n, err = refreshScript.Run(ctx, s.rdb, []string{s.lockKey(name)}, h.token, max(lease, s.ttl).Milliseconds()).Int64()
		return err
	})
	if err != nil {
		return fmt.Errorf("redis %s: renew lock %s: %w", s.addr, name, err)
	}
	if n == 0 {
		return fmt.Errorf("redis: renew lock %s: it expired and is no longer held by this server", name)
	}
	return nil
}

// health tracks whether Redis answers, and logs a Redis that does not at
// most once per logEvery, and once when it answers again.
type health struct {
	log  *slog.Logger
	addr string
	onUp func() // set before use

	mu     sync.Mutex // guards the fields below
	down   bool
	since  time.Time
	err    error
	logged time.Time
	fails  int
	// checked is when a command last answered or failed; lastErr and
	// lastErrAt the last failure, kept after Redis answers again;
	// lastWrite the last value written.
	checked   time.Time
	lastErr   error
	lastErrAt time.Time
	lastWrite time.Time
}

func (h *health) note(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	h.checked = now
	if err != nil {
		h.lastErr, h.lastErrAt = err, now
	}
	if err == nil {
		if h.down || h.since.IsZero() {
			if h.down {
				if h.onUp != nil {
					go h.onUp()
				}
				h.log.Info("redis answers again", "redis", h.addr, "down_for", now.Sub(h.since).Round(time.Second).String(), "failed_commands", h.fails)
			}
			h.down, h.since, h.err, h.fails = false, now, nil, 0
		}
		return
	}
	if !h.down {
		h.down, h.since, h.logged = true, now, time.Time{}
	}
	h.err = err
	h.fails++
	if now.Sub(h.logged) >= logEvery {
		h.logged = now
		h.log.Error("redis does not answer: serving the certificates held in memory; certificate work retries with backoff",
			"redis", h.addr, "err", err, "down_since", h.since.Format(time.RFC3339), "failed_commands", h.fails)
	}
}

// wrote records a value written.
func (h *health) wrote() {
	h.mu.Lock()
	h.lastWrite = time.Now()
	h.mu.Unlock()
}

// status is the health part of a certs.StorageStatus.
func (h *health) status() certs.StorageStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := certs.StorageStatus{
		Healthy: !h.down && !h.since.IsZero(), Since: h.since, Checked: h.checked,
		LastErrorAt: h.lastErrAt, LastWrite: h.lastWrite,
	}
	if h.lastErr != nil {
		st.LastError = h.lastErr.Error()
	}
	return st
}

func (h *health) state() (bool, time.Time, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.down && !h.since.IsZero(), h.since, h.err
}

var quietOnce sync.Once

// quietRedisLog silences go-redis's own logger, which writes every failed
// dial to stderr: Storage logs a Redis that is down itself, once a
// minute.
func quietRedisLog() {
	quietOnce.Do(func() { redis.SetLogger(quietLogger{}) })
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

var (
	_ certs.StorageReporter      = (*Storage)(nil)
	_ certmagic.Storage          = (*Storage)(nil)
	_ certmagic.TryLocker        = (*Storage)(nil)
	_ certmagic.LockLeaseRenewer = (*Storage)(nil)
)
