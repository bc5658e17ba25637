package fileserver

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"

	"httpd/internal/coding"
)

// Defaults of CacheOptions.
const (
	DefaultCacheMaxFile = 64 << 10 // bytes
	DefaultCacheSize    = 64 << 20 // bytes
)

// CacheOptions set the in-memory cache of small files. The zero value is
// the cache on with the defaults.
type CacheOptions struct {
	// Off turns the cache off: every request opens its file.
	Off bool
	// MaxFile is the largest file kept, in bytes; 0 means
	// DefaultCacheMaxFile.
	MaxFile int64
	// Size bounds the bytes kept in all; 0 means DefaultCacheSize.
	Size int64
}

// cacheSettle is how long a file must have been left alone (since its
// last status change, ctime) before it is cached. File timestamps come
// from a coarse clock and some file systems keep whole seconds only, so a
// change made in the same tick as the one before it may leave every
// timestamp as it was; once a file's ctime is this far in the past, any
// later change gives it a different ctime, and a cached copy can no longer
// be mistaken for the current file.
var cacheSettle = 2 * time.Second

// cacheTrust is how long a check that found a cached file unchanged
// vouches for it: a hit within that time of the last check is answered
// without a stat. Under load one file is asked for thousands of times a
// second, and the stat of each request was a tenth of the CPU of serving
// a 1 KiB file (fstatat walks the path every time). A change is seen by
// every request that arrives at least this long after it; a request that
// arrives during that millisecond may get the content from before it, as
// it might have had it arrived a moment earlier. h2o keeps its open
// files the same way, for one turn of its event loop.
var cacheTrust = time.Millisecond

// cacheEpoch makes the monotonic clock of cached.checked.
var cacheEpoch = time.Now()

// sinceEpoch is t on that clock.
func sinceEpoch(t time.Time) int64 { return int64(t.Sub(cacheEpoch)) }

// cache keeps the content and ready-made headers of small files, so a hit
// costs no open, read or close: one stat of the path (fstatat from the
// root's directory) proves that the path still leads to the very file
// that was read, unchanged (same device, inode, size, mtime, ctime and
// mode), and vouches for it for cacheTrust. An edited, replaced,
// renamed-over, deleted, chmod-ed or re-pointed (symlink) file fails that
// check and is served fresh from disk, which refills the entry once the
// new file has settled.
//
// Entries are made only from files the FileServer opened below its root
// (see FileServer.open), so the cache never holds a file the root would
// not serve.
// A path is also checked with CleanPath and Hidden before the cache is
// consulted, exactly as before opening.
type cache struct {
	dir     *dirHandle // the root directory, for fstatat (the FileServer's)
	maxFile int64
	size    int64
	trust   int64 // cacheTrust in nanoseconds (tests set 0)
	// cacheControl is the FileServer's Cache-Control value, "" for none,
	// for the entries' ready heads.
	cacheControl string

	mu       sync.RWMutex       // guards files, indexes, siblings and used
	files    map[string]*cached // by CleanPath result
	indexes  map[string]*cached // directory (CleanPath result) → its first index file
	siblings map[string]*cached // precompressed siblings (FILE.gz) by their own path
	used     int64              // bytes held by entries
}

// cached is one cached file with its headers, each a one-element slice of
// capacity one that is put into response headers as is (appending to it
// copies it, so a handler cannot change the cached value).
type cached struct {
	name    string // the path below the root, for ServeContent
	path    []byte // name with a NUL byte, for fstatat
	id      fileID
	body    []byte
	modTime time.Time

	ctype, etag, lastMod, length []string // lastMod nil for a zero modTime

	// head is the header fields of a plain 200 answer as lines, sorted
	// (see fixedHeadWriter); nil if a value is not fit for a header.
	head []byte

	// checked is when a stat last found the file unchanged, in
	// nanoseconds since cacheEpoch.
	checked atomic.Int64
}

func (e *cached) cost() int64 { return int64(len(e.body)+2*len(e.path)) + 256 }

// newCache makes the cache of the root that d is a handle of; nil (no
// cache: every request opens its file) when it is off or d is nil, as
// where no handle could be had. The FileServer owns d.
func newCache(d *dirHandle, o CacheOptions) *cache {
	if o.Off || d == nil {
		return nil
	}
	c := &cache{dir: d, maxFile: o.MaxFile, size: o.Size, trust: int64(cacheTrust),
		files: map[string]*cached{}, indexes: map[string]*cached{}, siblings: map[string]*cached{}}
	if c.maxFile <= 0 {
		c.maxFile = DefaultCacheMaxFile
	}
	if c.size <= 0 {
		c.size = DefaultCacheSize
	}
	c.maxFile = min(c.maxFile, c.size)
	return c
}

// get returns the entry for key when it is still the current file. A
// stale entry is dropped.
func (c *cache) get(m map[string]*cached, key string) *cached {
	c.mu.RLock()
	e := m[key]
	c.mu.RUnlock()
	if e == nil {
		return nil
	}
	now := int64(time.Since(cacheEpoch)) // one read of the monotonic clock
	if now-e.checked.Load() < c.trust {
		return e
	}
	if id, ok := c.dir.stat(e.path); ok && id == e.id {
		e.checked.Store(now)
		return e
	}
	c.mu.Lock()
	if m[key] == e {
		delete(m, key)
		c.used -= e.cost()
	}
	c.mu.Unlock()
	return nil
}

// fill reads f, the open file named name, into a new entry when it is
// small, regular and settled; else it returns nil and f is untouched.
func (c *cache) fill(f *os.File, fi os.FileInfo, name string, now time.Time) *cached {
	if !fi.Mode().IsRegular() || fi.Size() > c.maxFile {
		return nil
	}
	id, ok := idOf(fi)
	if !ok || !id.settled(now) {
		return nil
	}
	body := make([]byte, fi.Size())
	if _, err := f.ReadAt(body, 0); err != nil && err != io.EOF {
		return nil
	}
	// The file must not have changed while it was read.
	fi2, err := f.Stat()
	if err != nil {
		return nil
	}
	if id2, ok := idOf(fi2); !ok || id2 != id {
		return nil
	}
	e := &cached{name: name, path: append([]byte(name), 0), id: id, body: body, modTime: fi.ModTime()}
	e.ctype = []string{ContentType(name)}
	e.etag = []string{etag(fi)}
	if mt := fi.ModTime(); !mt.IsZero() && !mt.Equal(time.Unix(0, 0)) {
		e.lastMod = []string{mt.UTC().Format(http.TimeFormat)}
	}
	e.length = []string{strconv.Itoa(len(body))}
	e.head = e.makeHead(c.cacheControl)
	e.checked.Store(sinceEpoch(now))
	return e
}

// put stores e under key, dropping other entries (in no order) as needed
// to stay within size.
func (c *cache) put(m map[string]*cached, key string, e *cached) {
	cost := e.cost()
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := m[key]; old != nil {
		c.used -= old.cost()
		delete(m, key)
	}
	for _, mm := range []map[string]*cached{c.files, c.indexes, c.siblings} {
		for k, old := range mm {
			if c.used+cost <= c.size {
				break
			}
			c.used -= old.cost()
			delete(mm, k)
		}
	}
	if c.used+cost > c.size {
		return
	}
	m[key] = e
	c.used += cost
}

var acceptRanges = []string{"bytes"}

// makeHead writes the fields that write puts in the map for a plain GET,
// sorted by name as the engine would write them; nil when a value (the
// Content-Type or Cache-Control the configuration gives) could not go
// into a header as it is.
func (e *cached) makeHead(cacheControl string) []byte {
	var b []byte
	field := func(k, v string) {
		b = append(b, k...)
		b = append(b, ": "...)
		b = append(b, v...)
		b = append(b, "\r\n"...)
	}
	field("Accept-Ranges", acceptRanges[0])
	if cacheControl != "" {
		field("Cache-Control", cacheControl)
	}
	field("Content-Length", e.length[0])
	field("Content-Type", e.ctype[0])
	field("Etag", e.etag[0])
	if e.lastMod != nil {
		field("Last-Modified", e.lastMod[0])
	}
	for _, v := range []string{cacheControl, e.ctype[0], e.etag[0]} {
		if !httpguts.ValidHeaderFieldValue(v) {
			return nil
		}
	}
	return b
}

// fixedHeadWriter is a ResponseWriter that takes a whole head of fields
// known in advance (vhost's, over HTTP/1): it reports false, having
// written nothing, where it cannot, and the answer then goes through the
// header map.
type fixedHeadWriter interface {
	WriteFixedHead(code int, fields []byte, length int64) bool
}

// serveEntry answers from a cached file exactly as http.ServeContent
// would from the file itself. A plain GET or HEAD is written directly;
// conditional and range requests go through http.ServeContent.
func (s *FileServer) serveEntry(w http.ResponseWriter, r *http.Request, e *cached) error {
	if o := coding.OfferOf(w); o != nil && s.serveEncoded(w, r, o, &file{name: e.name, modTime: e.modTime,
		size: int64(len(e.body)), etag: e.etag[0], id: e.id, idOK: true, body: e.body}) {
		return nil
	}
	// A plain GET or HEAD of a cached file is the one answer whose head
	// is known before the request: sent as it is, it costs no header
	// map and no sorting.
	if fw, ok := w.(fixedHeadWriter); ok && e.head != nil && plainRequest(r) &&
		fw.WriteFixedHead(http.StatusOK, e.head, int64(len(e.body))) {
		if r.Method != http.MethodHead {
			_, _ = w.Write(e.body)
		}
		return nil
	}
	h := w.Header()
	h["Content-Type"] = e.ctype
	h["Etag"] = e.etag
	if s.cacheControl != nil {
		h["Cache-Control"] = s.cacheControl
	}
	if h["Content-Encoding"] != nil {
		http.ServeContent(w, r, e.name, e.modTime, bytes.NewReader(e.body))
		return nil
	}
	e.write(w, r)
	return nil
}

// write answers r with e's body, its headers already in w's but for
// Last-Modified, Accept-Ranges and Content-Length: a plain GET or HEAD
// directly, anything else (conditions, ranges) through
// http.ServeContent.
func (e *cached) write(w http.ResponseWriter, r *http.Request) {
	if !plainRequest(r) {
		http.ServeContent(w, r, e.name, e.modTime, bytes.NewReader(e.body))
		return
	}
	h := w.Header()
	if e.lastMod != nil {
		h["Last-Modified"] = e.lastMod
	}
	h["Accept-Ranges"] = acceptRanges
	h["Content-Length"] = e.length
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(e.body)
	}
}

// plainRequest reports whether r has none of the headers that make
// http.ServeContent answer anything but the whole file.
func plainRequest(r *http.Request) bool {
	h := r.Header
	if len(h) == 0 {
		return true
	}
	return h["Range"] == nil && h["If-Match"] == nil && h["If-None-Match"] == nil &&
		h["If-Modified-Since"] == nil && h["If-Unmodified-Since"] == nil
}
