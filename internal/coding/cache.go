package coding

import "sync"

// Key names one state of one file, and a coding: a cached encoded body is
// valid while the file has the same device, inode, size, mode and times.
type Key struct {
	Dev, Ino     uint64
	Size         int64
	Mode         uint32
	Mtime, Ctime int64 // nanoseconds
	Coding       Coding
}

// Cache keeps encoded bodies of small files, so that a popular page is
// compressed once per coding rather than once per request. It is bounded
// by the total bytes of the bodies it holds; when full, entries leave in
// no particular order. A nil *Cache keeps nothing. It is safe for
// concurrent use.
type Cache struct {
	maxFile, size int64

	mu   sync.RWMutex // guards m and used
	m    map[Key][]byte
	used int64
}

// NewCache makes a cache of at most size bytes of encoded bodies, of
// files up to maxFile bytes; nil when size is 0.
func NewCache(size, maxFile int64) *Cache {
	if size <= 0 {
		return nil
	}
	return &Cache{size: size, maxFile: min(maxFile, size), m: map[Key][]byte{}}
}

// MaxFile is the largest file, before encoding, whose bodies are cached;
// 0 for a nil cache.
func (c *Cache) MaxFile() int64 {
	if c == nil {
		return 0
	}
	return c.maxFile
}

// Get returns the body stored for k.
func (c *Cache) Get(k Key) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	b, ok := c.m[k]
	c.mu.RUnlock()
	return b, ok
}

// Put stores b for k, dropping other entries as needed. b must not
// change afterwards.
func (c *Cache) Put(k Key, b []byte) {
	if c == nil {
		return
	}
	cost := entryCost(b)
	if cost > c.size {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[k]; ok {
		c.used -= entryCost(old)
		delete(c.m, k)
	}
	for k2, old := range c.m {
		if c.used+cost <= c.size {
			break
		}
		c.used -= entryCost(old)
		delete(c.m, k2)
	}
	c.m[k] = b
	c.used += cost
}

// Used returns the bytes the cache holds, entries' overhead included.
func (c *Cache) Used() int64 {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.used
}

func entryCost(b []byte) int64 { return int64(len(b)) + 128 }
