package certs

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"
)

// Defaults of session-ticket key rotation: a new key every
// TicketRotation, each kept TicketKeysKept rotations for decryption, so a
// ticket resumes for between 2 and 3 rotations (24 to 36 hours) after it
// was issued.
const (
	TicketRotation = 12 * time.Hour
	TicketKeysKept = 3
)

// TicketKeySource supplies the keys that encrypt TLS session tickets
// (TLS 1.3 and 1.2), rotating them. A source may be local to one server
// or shared by a fleet (so that a client resumes on any server), in
// which case every server asking gets the same keys. Implementations are
// safe for concurrent use.
//
// Keys are secrets: an implementation never logs them, and stores them
// only where no one but the server can read them.
type TicketKeySource interface {
	// TicketKeys returns the keys to use from now on, newest first: new
	// tickets are encrypted with the first, and received tickets are
	// decrypted with any. When the newest key is rotation old or older it
	// first makes a new one; it drops keys made keep rotations ago or
	// earlier, and never returns more than keep. It returns at least one
	// key unless err is set, and in refresh how long until the keys
	// should be asked for again (at the latest when the newest is due to
	// rotate).
	TicketKeys(ctx context.Context, rotation time.Duration, keep int) (keys [][32]byte, refresh time.Duration, err error)
}

// LocalTicketKeys is a TicketKeySource held in memory by one server
// process: a restart starts with a new key, as nginx and Caddy do, so
// tickets never touch the disk. The zero value is ready.
type LocalTicketKeys struct {
	// Now is the clock; nil means time.Now. Set it before first use.
	Now func() time.Time

	mu   sync.Mutex // guards keys
	keys []ticketKey
}

// ticketKey is a key and when it was made.
type ticketKey struct {
	key     [32]byte
	created time.Time
}

// TicketKeys implements TicketKeySource.
func (l *LocalTicketKeys) TicketKeys(_ context.Context, rotation time.Duration, keep int) ([][32]byte, time.Duration, error) {
	if rotation <= 0 || keep < 1 {
		return nil, 0, fmt.Errorf("session tickets: rotation %s and keep %d must be positive", rotation, keep)
	}
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// Drop what is out of the window, newest first so the rest stay in
	// order; forget the dropped keys' bytes too.
	kept := l.keys[:0]
	for _, k := range l.keys {
		if len(kept) < keep && now.Sub(k.created) < time.Duration(keep)*rotation {
			kept = append(kept, k)
		}
	}
	clear(l.keys[len(kept):])
	l.keys = kept
	if len(l.keys) == 0 || now.Sub(l.keys[0].created) >= rotation {
		k := ticketKey{created: now}
		if _, err := rand.Read(k.key[:]); err != nil {
			return nil, 0, fmt.Errorf("session tickets: new key: %w", err)
		}
		if len(l.keys) == keep {
			l.keys = l.keys[:keep-1]
		}
		if cap(l.keys) < keep {
			// Grow once, in a fresh array: the old one is cleared so
			// no copy of a key lingers there.
			grown := make([]ticketKey, len(l.keys), keep)
			copy(grown, l.keys)
			clear(l.keys)
			l.keys = grown
		}
		l.keys = l.keys[:len(l.keys)+1]
		copy(l.keys[1:], l.keys)
		l.keys[0] = k
	}
	out := make([][32]byte, len(l.keys))
	for i, k := range l.keys {
		out[i] = k.key
	}
	return out, l.keys[0].created.Add(rotation).Sub(now), nil
}

var _ TicketKeySource = (*LocalTicketKeys)(nil)
