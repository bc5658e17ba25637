package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"httpd/certs"
)

// ticketLock is the lock a server holds while it rotates the keys.
const ticketLock = "session_tickets"

// ticketPoll bounds how long a server goes without reading the shared
// keys, so a change made by hand (or by a server whose clock runs ahead)
// is picked up.
const ticketPoll = 5 * time.Minute

// TicketKeys is a certs.TicketKeySource shared by every server of a
// fleet through Redis. The keys are kept under P:tickets, each with the
// time from which it encrypts new tickets. Besides the current key and
// the older ones kept for decryption, the stored set always holds the
// next key, published a whole rotation before it starts to encrypt: so
// every server can already decrypt tickets made with it when the first
// one switches, whichever of them reads Redis first.
//
// Whichever server finds the set due (no current or no next key) rotates
// it under a lock; the others read the result. When Redis does not
// answer, TicketKeys fails and the caller keeps the keys it holds.
type TicketKeys struct {
	S *Storage
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex // guards current and lastErr
	current time.Time  // when the key encrypting now started to
	lastErr error      // of the last TicketKeys; nil when it succeeded
}

// storedTicketKey is one key in P:tickets.
type storedTicketKey struct {
	Key  []byte    `json:"key"`  // 32 bytes
	From time.Time `json:"from"` // encrypts new tickets from then on
}

func (t *TicketKeys) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *TicketKeys) key() string { return t.S.prefix + ":tickets" }

// TicketKeys implements certs.TicketKeySource. It returns the current
// key first, then the next one, then older ones, at most keep+1.
func (t *TicketKeys) TicketKeys(ctx context.Context, rotation time.Duration, keep int) ([][32]byte, time.Duration, error) {
	keys, refresh, current, err := t.ticketKeys(ctx, rotation, keep)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastErr = err
	if err == nil {
		t.current = current
	}
	return keys, refresh, err
}

// TicketStatus implements certs.TicketReporter: the keys come from the
// shared storage; the last rotation is when the key encrypting now
// started to.
func (t *TicketKeys) TicketStatus() certs.TicketStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	ts := certs.TicketStatus{Source: certs.TicketSourceShared, LastRotation: t.current}
	if t.lastErr != nil {
		ts.LastError = t.lastErr.Error()
	}
	return ts
}

// ticketKeys is TicketKeys, also returning when the current key started
// to encrypt.
func (t *TicketKeys) ticketKeys(ctx context.Context, rotation time.Duration, keep int) ([][32]byte, time.Duration, time.Time, error) {
	if rotation <= 0 || keep < 1 {
		return nil, 0, time.Time{}, fmt.Errorf("session tickets: rotation %s and keep %d must be positive", rotation, keep)
	}
	set, err := t.read(ctx)
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	now := t.now()
	if due(set, now) {
		if set, err = t.rotate(ctx, rotation, keep); err != nil {
			return nil, 0, time.Time{}, err
		}
		now = t.now()
	}
	keys, refresh, err := use(set, now, keep, rotation)
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	return keys, refresh, set[1].From, nil
}

func (t *TicketKeys) read(ctx context.Context) ([]storedTicketKey, error) {
	var raw []byte
	err := t.S.do(ctx, func(ctx context.Context) (err error) {
		raw, err = t.S.rdb.Get(ctx, t.key()).Bytes()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("session tickets: redis %s: read the shared keys: %w", t.S.addr, err)
	}
	var set []storedTicketKey
	if err := json.Unmarshal(raw, &set); err != nil {
		// Not ours, or damaged: the rotation replaces it.
		return nil, nil
	}
	valid := set[:0]
	for _, k := range set {
		if len(k.Key) == 32 {
			valid = append(valid, k)
		}
	}
	sort.Slice(valid, func(i, j int) bool { return valid[i].From.After(valid[j].From) })
	return valid, nil
}

// due reports whether set lacks a current or a next key at now. set is
// newest first.
func due(set []storedTicketKey, now time.Time) bool {
	if len(set) < 2 || !set[0].From.After(now) {
		return true
	}
	return set[1].From.After(now)
}

// rotate makes the set current under the lock: a current key (the
// former next one when it is due, else a new one from now), a next key
// starting one rotation after it, and the older keys still in their
// window.
func (t *TicketKeys) rotate(ctx context.Context, rotation time.Duration, keep int) ([]storedTicketKey, error) {
	lockCtx, cancel := context.WithTimeout(ctx, 2*opTimeout)
	defer cancel()
	if err := t.S.Lock(lockCtx, ticketLock); err != nil {
		return nil, fmt.Errorf("session tickets: %w", err)
	}
	defer func() { _ = t.S.Unlock(context.WithoutCancel(ctx), ticketLock) }()
	set, err := t.read(ctx)
	if err != nil {
		return nil, err
	}
	now := t.now()
	if !due(set, now) {
		return set, nil // another server rotated while this one waited
	}
	// Keep the keys that may encrypt from now or have encrypted within
	// keep rotations; the newest that started is the current one.
	var cur *storedTicketKey
	var older []storedTicketKey
	for i := range set {
		k := set[i]
		switch {
		case k.From.After(now):
			// A future key beyond the next one is dropped; the next is
			// made again below.
		case cur == nil && now.Sub(k.From) < rotation:
			cur = &set[i]
		case now.Sub(k.From) < time.Duration(keep)*rotation:
			older = append(older, k)
		}
	}
	var out []storedTicketKey
	if cur == nil {
		k, err := newTicketKey(now)
		if err != nil {
			return nil, err
		}
		cur = &k
	}
	next, err := newTicketKey(cur.From.Add(rotation))
	if err != nil {
		return nil, err
	}
	out = append(out, next, *cur)
	for _, k := range older {
		if len(out) >= keep+1 {
			break
		}
		out = append(out, k)
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	// The set expires if no server rotates it for long: its keys would
	// be useless by then.
	ttl := time.Duration(keep+2) * rotation
	err = t.S.do(ctx, func(ctx context.Context) error {
		return t.S.rdb.Set(ctx, t.key(), raw, ttl).Err()
	})
	if err != nil {
		return nil, fmt.Errorf("session tickets: redis %s: write the shared keys: %w", t.S.addr, err)
	}
	t.S.health.wrote()
	return out, nil
}

func newTicketKey(from time.Time) (storedTicketKey, error) {
	k := storedTicketKey{Key: make([]byte, 32), From: from}
	if _, err := rand.Read(k.Key); err != nil {
		return k, fmt.Errorf("session tickets: new key: %w", err)
	}
	return k, nil
}

// use orders set (newest first, not due) for crypto/tls: the current key
// first, then the next, then the older ones; and says when to read
// again: when the next key starts, or after ticketPoll.
func use(set []storedTicketKey, now time.Time, keep int, rotation time.Duration) ([][32]byte, time.Duration, error) {
	if due(set, now) {
		return nil, 0, errors.New("session tickets: the shared keys are out of date right after a rotation (are the servers' clocks set?)")
	}
	next, cur := set[0], set[1]
	keys := make([][32]byte, 0, keep+1)
	add := func(k storedTicketKey) { keys = append(keys, [32]byte(k.Key)) }
	add(cur)
	add(next)
	for _, k := range set[2:] {
		if len(keys) >= keep+1 {
			break
		}
		if now.Sub(k.From) < time.Duration(keep)*rotation {
			add(k)
		}
	}
	return keys, min(next.From.Sub(now), ticketPoll), nil
}

var (
	_ certs.TicketKeySource = (*TicketKeys)(nil)
	_ certs.TicketReporter  = (*TicketKeys)(nil)
)
