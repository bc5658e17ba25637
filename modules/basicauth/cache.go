package basicauth

import (
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// cacheMax bounds the entries of a block's cache: the logged-in users of
// a site, each with a browser or two.
const cacheMax = 4096

// cache remembers the (user, password) pairs verified lately, so that a
// logged-in user's requests do not each pay for bcrypt. It holds no
// password: an entry is keyed by a hash of the pair under a random key
// of its own, which never leaves the process. Only successes enter it.
// It is safe for concurrent use.
type cache struct {
	key [32]byte
	ttl time.Duration

	mu sync.Mutex             // guards m
	m  map[[32]byte]time.Time // when each entry expires
}

func newCache(ttl time.Duration) *cache {
	c := &cache{ttl: ttl, m: map[[32]byte]time.Time{}}
	rand.Read(c.key[:])
	return c
}

// sum is the entry key of user and password: SHA-256 of the cache's key,
// then "user:password". The user name holds no ':', so the pair is read
// back unambiguously; the key is secret and of a fixed length, so no one
// outside can make or extend a sum.
func (c *cache) sum(user, password string) [32]byte {
	var buf [160]byte
	b := append(buf[:0], c.key[:]...)
	b = append(b, user...)
	b = append(b, ':')
	b = append(b, password...)
	return sha256.Sum256(b)
}

// hit reports whether the pair of sum k was verified less than ttl ago.
func (c *cache) hit(k [32]byte, now time.Time) bool {
	c.mu.Lock()
	exp, ok := c.m[k]
	c.mu.Unlock()
	return ok && now.Before(exp)
}

// add remembers the pair of sum k until ttl from now. When the cache is
// full it drops the expired entries, then, if need be, an eighth of the
// rest, whichever the map gives first.
func (c *cache) add(k [32]byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= cacheMax {
		for e, exp := range c.m {
			if !now.Before(exp) {
				delete(c.m, e)
			}
		}
		for e := range c.m {
			if len(c.m) < cacheMax-cacheMax/8 {
				break
			}
			delete(c.m, e)
		}
	}
	c.m[k] = now.Add(c.ttl)
}

// len is the number of entries, expired ones included.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
