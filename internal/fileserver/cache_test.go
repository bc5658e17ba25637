package fileserver

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"httpd/registry"
)

// shortSettle makes files cacheable soon after they are written, for the
// duration of a test. Its value stays well above the file system's
// timestamp tick, so the reasoning of cacheSettle still holds.
func shortSettle(t testing.TB) time.Duration {
	old := cacheSettle
	cacheSettle = 100 * time.Millisecond
	t.Cleanup(func() { cacheSettle = old })
	return cacheSettle + 20*time.Millisecond
}

func get(t *testing.T, s *FileServer, target string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	if err := s.Serve(w, r, r.URL.Path); err != nil {
		w.Code = registry.StatusOf(err)
		w.Body.Reset()
	}
	return w
}

func cachedFile(s *FileServer, rel string) bool {
	s.cache.mu.RLock()
	defer s.cache.mu.RUnlock()
	return s.cache.files[rel] != nil
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCacheFresh primes the cache with a file, changes the file in one of
// the ways people change files, and checks that the very next request
// sees the change.
func TestCacheFresh(t *testing.T) {
	wait := shortSettle(t)
	asRoot := os.Geteuid() == 0
	tests := []struct {
		name   string
		files  map[string]string // before
		links  map[string]string // symlink → target, before
		target string
		change func(t *testing.T, root string)
		status int
		body   string
	}{
		{name: "edit in place, same size, same mtime",
			files: map[string]string{"f.txt": "AAAA"}, target: "/f.txt", status: 200, body: "BBBB",
			change: func(t *testing.T, root string) {
				p := filepath.Join(root, "f.txt")
				fi, _ := os.Stat(p)
				f, err := os.OpenFile(p, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.WriteString("BBBB")
				f.Close()
				// Put the modification time back: only ctime tells.
				os.Chtimes(p, fi.ModTime(), fi.ModTime())
			}},
		{name: "edit in place, same size, at once",
			files: map[string]string{"f.txt": "AAAA"}, target: "/f.txt", status: 200, body: "CCCC",
			change: func(t *testing.T, root string) { write(t, filepath.Join(root, "f.txt"), "CCCC") }},
		{name: "truncate and grow past the cache limit",
			files: map[string]string{"f.txt": "AAAA"}, target: "/f.txt", status: 200, body: strings.Repeat("x", 70<<10),
			change: func(t *testing.T, root string) { write(t, filepath.Join(root, "f.txt"), strings.Repeat("x", 70<<10)) }},
		{name: "replace by rename, same size and mtime",
			files: map[string]string{"f.txt": "AAAA"}, target: "/f.txt", status: 200, body: "DDDD",
			change: func(t *testing.T, root string) {
				p := filepath.Join(root, "f.txt")
				fi, _ := os.Stat(p)
				write(t, p+".tmp", "DDDD")
				os.Chtimes(p+".tmp", fi.ModTime(), fi.ModTime())
				if err := os.Rename(p+".tmp", p); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "delete",
			files: map[string]string{"f.txt": "AAAA"}, target: "/f.txt", status: 404,
			change: func(t *testing.T, root string) { os.Remove(filepath.Join(root, "f.txt")) }},
		{name: "delete then recreate",
			files: map[string]string{"f.txt": "AAAA"}, target: "/f.txt", status: 200, body: "EEEE",
			change: func(t *testing.T, root string) {
				os.Remove(filepath.Join(root, "f.txt"))
				write(t, filepath.Join(root, "f.txt"), "EEEE")
			}},
		{name: "chmod to unreadable",
			files: map[string]string{"f.txt": "AAAA"}, target: "/f.txt",
			status: map[bool]int{false: 403, true: 200}[asRoot], body: map[bool]string{true: "AAAA"}[asRoot],
			change: func(t *testing.T, root string) { os.Chmod(filepath.Join(root, "f.txt"), 0) }},
		{name: "file becomes a directory",
			files: map[string]string{"f.txt": "AAAA"}, target: "/f.txt", status: 301,
			change: func(t *testing.T, root string) {
				os.Remove(filepath.Join(root, "f.txt"))
				os.Mkdir(filepath.Join(root, "f.txt"), 0o755)
			}},
		{name: "symlink swapped to another file",
			files: map[string]string{"v1.txt": "one", "v2.txt": "two"}, links: map[string]string{"cur.txt": "v1.txt"},
			target: "/cur.txt", status: 200, body: "two",
			change: func(t *testing.T, root string) {
				os.Symlink("v2.txt", filepath.Join(root, "cur.tmp"))
				if err := os.Rename(filepath.Join(root, "cur.tmp"), filepath.Join(root, "cur.txt")); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "symlink swapped to a file outside the root",
			files: map[string]string{"v1.txt": "one", "../out.txt": "out"}, links: map[string]string{"cur.txt": "v1.txt"},
			target: "/cur.txt", status: 404,
			change: func(t *testing.T, root string) {
				os.Symlink("../out.txt", filepath.Join(root, "cur.tmp"))
				os.Rename(filepath.Join(root, "cur.tmp"), filepath.Join(root, "cur.txt"))
			}},
		{name: "directory symlink swapped",
			files: map[string]string{"r1/a.txt": "r1a", "r2/a.txt": "r2a"}, links: map[string]string{"cur": "r1"},
			target: "/cur/a.txt", status: 200, body: "r2a",
			change: func(t *testing.T, root string) {
				os.Symlink("r2", filepath.Join(root, "cur.tmp"))
				os.Rename(filepath.Join(root, "cur.tmp"), filepath.Join(root, "cur"))
			}},
		{name: "parent directory replaced",
			files: map[string]string{"d/a.txt": "old1", "new/a.txt": "new1"}, target: "/d/a.txt", status: 200, body: "new1",
			change: func(t *testing.T, root string) {
				os.Rename(filepath.Join(root, "d"), filepath.Join(root, "gone"))
				os.Rename(filepath.Join(root, "new"), filepath.Join(root, "d"))
			}},
		{name: "index file replaced",
			files: map[string]string{"d/index.html": "<p>1</p>"}, target: "/d/", status: 200, body: "<p>2</p>",
			change: func(t *testing.T, root string) {
				write(t, filepath.Join(root, "d/index.tmp"), "<p>2</p>")
				os.Rename(filepath.Join(root, "d/index.tmp"), filepath.Join(root, "d/index.html"))
			}},
		{name: "index file deleted",
			files: map[string]string{"d/index.html": "<p>1</p>"}, target: "/d/", status: 403,
			change: func(t *testing.T, root string) { os.Remove(filepath.Join(root, "d/index.html")) }},
		{name: "root index file edited",
			files: map[string]string{"index.html": "<p>1</p>"}, target: "/", status: 200, body: "<p>3</p>",
			change: func(t *testing.T, root string) { write(t, filepath.Join(root, "index.html"), "<p>3</p>") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := filepath.Join(t.TempDir(), "htdocs")
			os.Mkdir(root, 0o755)
			for name, body := range tt.files {
				write(t, filepath.Join(root, filepath.FromSlash(name)), body)
			}
			for name, target := range tt.links {
				if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
					t.Fatal(err)
				}
			}
			s, err := New(root, Options{Index: DefaultIndex})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			s.cache.trust = 0 // the change comes right after the request that caches the file
			time.Sleep(wait)
			before := get(t, s, tt.target)
			if before.Code != 200 {
				t.Fatalf("before the change: status %d", before.Code)
			}
			m := s.cache.files
			key := strings.Trim(tt.target, "/")
			if strings.HasSuffix(tt.target, "/") {
				m = s.cache.indexes
				if key == "" {
					key = "."
				}
			}
			s.cache.mu.RLock()
			e := m[key]
			s.cache.mu.RUnlock()
			if e == nil {
				t.Fatalf("%s was not cached", tt.target)
			}
			tt.change(t, root)
			w := get(t, s, tt.target)
			if w.Code != tt.status {
				t.Fatalf("after the change: status %d, want %d (body %q)", w.Code, tt.status, w.Body.String())
			}
			if tt.body != "" && w.Body.String() != tt.body {
				t.Fatalf("after the change: body %q, want %q", w.Body.String(), tt.body)
			}
		})
	}
}

// TestCacheTrust: a check that found the file unchanged vouches for it
// for cacheTrust, and a request after that checks again.
func TestCacheTrust(t *testing.T) {
	wait := shortSettle(t)
	root := t.TempDir()
	write(t, filepath.Join(root, "f.txt"), "AAAA")
	s, err := New(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.cache.trust = int64(time.Hour)
	time.Sleep(wait)
	get(t, s, "/f.txt")
	if !cachedFile(s, "f.txt") {
		t.Fatal("f.txt was not cached")
	}
	write(t, filepath.Join(root, "f.txt"), "BBBB")
	if body := get(t, s, "/f.txt").Body.String(); body != "AAAA" {
		t.Fatalf("within the trusted time: %q, want the cached AAAA", body)
	}
	// The trusted time passes.
	s.cache.mu.RLock()
	e := s.cache.files["f.txt"]
	s.cache.mu.RUnlock()
	e.checked.Add(-int64(time.Hour))
	if body := get(t, s, "/f.txt").Body.String(); body != "BBBB" {
		t.Fatalf("after the trusted time: %q, want BBBB", body)
	}
}

// TestCacheUnsettled checks that a file changed within cacheSettle of its
// last change is not cached, so two edits in one timestamp tick cannot
// leave a stale copy.
func TestCacheUnsettled(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "f.txt"), "AAAA")
	s, err := New(root, Options{Index: DefaultIndex})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, want := range []string{"AAAA", "BBBB", "CCCC"} {
		if i > 0 {
			write(t, filepath.Join(root, "f.txt"), want)
		}
		if w := get(t, s, "/f.txt"); w.Body.String() != want {
			t.Fatalf("got %q, want %q", w.Body.String(), want)
		}
		if cachedFile(s, "f.txt") {
			t.Fatal("a file changed just now was cached")
		}
	}
}

// TestCacheLimits checks the size limits and cache = off.
func TestCacheLimits(t *testing.T) {
	wait := shortSettle(t)
	root := t.TempDir()
	for name, size := range map[string]int{"small.txt": 100, "edge.txt": 1000, "big.txt": 1001, "c.txt": 900, "d.txt": 900} {
		write(t, filepath.Join(root, name), strings.Repeat("x", size))
	}
	time.Sleep(wait)
	s, err := New(root, Options{Cache: CacheOptions{MaxFile: 1000, Size: 1000 + 3*256 + 2*20}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, name := range []string{"small.txt", "edge.txt", "big.txt"} {
		if w := get(t, s, "/"+name); w.Code != 200 {
			t.Fatalf("%s: %d", name, w.Code)
		}
	}
	if !cachedFile(s, "edge.txt") || cachedFile(s, "big.txt") {
		t.Errorf("edge.txt cached %v (want true), big.txt cached %v (want false)", cachedFile(s, "edge.txt"), cachedFile(s, "big.txt"))
	}
	for _, name := range []string{"c.txt", "d.txt"} {
		get(t, s, "/"+name)
	}
	if s.cache.used > s.cache.size {
		t.Errorf("cache holds %d bytes, more than its size %d", s.cache.used, s.cache.size)
	}

	off, err := New(root, Options{Cache: CacheOptions{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if off.cache != nil {
		t.Fatal("cache = false left a cache")
	}
	if w := get(t, off, "/small.txt"); w.Code != 200 || w.Body.Len() != 100 {
		t.Fatalf("cache off: %d, %d bytes", w.Code, w.Body.Len())
	}
}

// TestCacheSameAsServeContent checks that a cached file answers every kind
// of request exactly as the file itself does through http.ServeContent.
func TestCacheSameAsServeContent(t *testing.T) {
	wait := shortSettle(t)
	root, _ := newTree(t)
	// newTree sets every time to modTime; its ctime is now.
	time.Sleep(wait)
	cached, err := New(root, Options{Index: DefaultIndex, CacheControl: "max-age=60"})
	if err != nil {
		t.Fatal(err)
	}
	defer cached.Close()
	plain, err := New(root, Options{Index: DefaultIndex, CacheControl: "max-age=60", Cache: CacheOptions{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	fi, _ := os.Stat(filepath.Join(root, "ranges.txt"))
	tag := etag(fi)
	lastMod := modTime.Format(http.TimeFormat)
	before := modTime.Add(-time.Hour).Format(http.TimeFormat)
	after := modTime.Add(time.Hour).Format(http.TimeFormat)
	boundary := regexp.MustCompile(`[0-9a-f]{30,}`)
	for _, tt := range []struct {
		name, method string
		hdr          []string
	}{
		{"get", "GET", nil},
		{"head", "HEAD", nil},
		{"if-none-match hit", "GET", []string{"If-None-Match", tag}},
		{"if-none-match star", "GET", []string{"If-None-Match", "*"}},
		{"if-none-match miss", "GET", []string{"If-None-Match", `"x"`}},
		{"if-modified-since equal", "GET", []string{"If-Modified-Since", lastMod}},
		{"if-modified-since before", "GET", []string{"If-Modified-Since", before}},
		{"if-match miss", "GET", []string{"If-Match", `"x"`}},
		{"if-match hit", "GET", []string{"If-Match", tag}},
		{"if-unmodified-since before", "GET", []string{"If-Unmodified-Since", before}},
		{"if-unmodified-since after", "GET", []string{"If-Unmodified-Since", after}},
		{"range", "GET", []string{"Range", "bytes=2-5"}},
		{"range suffix", "GET", []string{"Range", "bytes=-3"}},
		{"ranges", "GET", []string{"Range", "bytes=0-1,4-6"}},
		{"range unsatisfiable", "GET", []string{"Range", "bytes=100-200"}},
		{"range malformed", "GET", []string{"Range", "bytes=x"}},
		{"if-range match", "GET", []string{"Range", "bytes=2-5", "If-Range", tag}},
		{"if-range stale", "GET", []string{"Range", "bytes=2-5", "If-Range", `"old"`}},
		{"head range", "HEAD", []string{"Range", "bytes=2-5"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got [2]*httptest.ResponseRecorder
			for i, s := range []*FileServer{plain, cached} {
				for range 2 { // the second request of the cached server is a hit
					r := httptest.NewRequest(tt.method, "/ranges.txt", nil)
					for j := 0; j+1 < len(tt.hdr); j += 2 {
						r.Header.Set(tt.hdr[j], tt.hdr[j+1])
					}
					w := httptest.NewRecorder()
					if err := s.Serve(w, r, r.URL.Path); err != nil {
						t.Fatal(err)
					}
					got[i] = w
				}
			}
			if !cachedFile(cached, "ranges.txt") {
				t.Fatal("ranges.txt was not cached")
			}
			p, c := got[0], got[1]
			if p.Code != c.Code {
				t.Fatalf("status: cached %d, file %d", c.Code, p.Code)
			}
			ph, ch := p.Header().Clone(), c.Header().Clone()
			for _, h := range []http.Header{ph, ch} {
				if ct := h.Get("Content-Type"); strings.HasPrefix(ct, "multipart/") {
					h.Set("Content-Type", boundary.ReplaceAllString(ct, "B"))
				}
			}
			if a, b := headerString(ph), headerString(ch); a != b {
				t.Errorf("headers differ:\nfile:   %s\ncached: %s", a, b)
			}
			pb := boundary.ReplaceAllString(p.Body.String(), "B")
			cb := boundary.ReplaceAllString(c.Body.String(), "B")
			if pb != cb {
				t.Errorf("body: cached %q, file %q", cb, pb)
			}
		})
	}
}

func headerString(h http.Header) string {
	var b strings.Builder
	h.WriteSubset(&b, nil)
	return b.String()
}

// TestCacheHitAllocs checks that a hit allocates nothing in the file
// server.
func TestCacheHitAllocs(t *testing.T) {
	wait := shortSettle(t)
	root, _ := newTree(t)
	time.Sleep(wait)
	s, err := New(root, Options{Index: DefaultIndex})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := httptest.NewRequest("GET", "/hello.txt", nil)
	w := &discardWriter{h: http.Header{}}
	if err := s.Serve(w, r, r.URL.Path); err != nil || !cachedFile(s, "hello.txt") {
		t.Fatalf("not cached (%v)", err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		clear(w.h)
		if err := s.Serve(w, r, r.URL.Path); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("a cache hit allocates %.1f times", allocs)
	}
}

// TestCacheConcurrent serves a file from many goroutines while it is
// replaced again and again: every answer is one whole version.
func TestCacheConcurrent(t *testing.T) {
	wait := shortSettle(t)
	root := t.TempDir()
	versions := []string{strings.Repeat("a", 3000), strings.Repeat("b", 3000), strings.Repeat("c", 2000)}
	write(t, filepath.Join(root, "f.txt"), versions[0])
	time.Sleep(wait)
	s, err := New(root, Options{Cache: CacheOptions{Size: 8 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	done := make(chan struct{})
	errs := make(chan string, 8)
	for range 4 {
		go func() {
			for {
				select {
				case <-done:
					errs <- ""
					return
				default:
				}
				r := httptest.NewRequest("GET", "/f.txt", nil)
				w := httptest.NewRecorder()
				if err := s.Serve(w, r, r.URL.Path); err != nil {
					errs <- err.Error()
					return
				}
				body := w.Body.String()
				if body != versions[0] && body != versions[1] && body != versions[2] {
					errs <- "a torn answer of " + strconv.Itoa(len(body)) + " bytes"
					return
				}
			}
		}()
	}
	for i := range 30 {
		p := filepath.Join(root, "f.txt")
		write(t, p+".tmp", versions[i%3])
		os.Rename(p+".tmp", p)
		if i%10 == 0 {
			time.Sleep(wait) // let it settle, so it is cached again
		}
	}
	close(done)
	for range 4 {
		if e := <-errs; e != "" {
			t.Fatal(e)
		}
	}
}

// fixedRecorder takes ready heads, as vhost's writer does over HTTP/1.
type fixedRecorder struct {
	*httptest.ResponseRecorder
	fields string // the head taken, "" if none
}

func (w *fixedRecorder) WriteFixedHead(code int, fields []byte, length int64) bool {
	if len(w.Header()) != 0 {
		return false
	}
	w.fields = string(fields)
	w.Header().Set("Content-Length", strconv.FormatInt(length, 10))
	w.WriteHeader(code)
	return true
}

// TestCachedHead: a plain GET or HEAD of a cached file sends the entry's
// ready head, which holds exactly the fields the header map would have
// held, in the order the engine writes a map; anything else (a range, a
// condition, a map that holds a field already) goes through the map.
func TestCachedHead(t *testing.T) {
	wait := shortSettle(t)
	root := t.TempDir()
	write(t, filepath.Join(root, "a.html"), "<p>hello</p>")
	old := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(root, "a.html"), old, old); err != nil {
		t.Fatal(err)
	}
	for _, cc := range []string{"", "max-age=60"} {
		s, err := New(root, Options{CacheControl: cc})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		time.Sleep(wait)
		// Through the map (the recorder takes no ready head): what the
		// ready head must equal.
		viaMap := get(t, s, "/a.html")
		if !cachedFile(s, "a.html") {
			t.Fatal("a.html was not cached")
		}
		viaMap = get(t, s, "/a.html")
		h := viaMap.Header().Clone()
		var want strings.Builder
		h.Write(&want)

		for _, tt := range []struct {
			method, header string
			ready          bool
			status         int
			body           string
		}{
			{"GET", "", true, 200, "<p>hello</p>"},
			{"HEAD", "", true, 200, ""},
			{"GET", "Range", false, 206, "<p>"},
			{"GET", "If-None-Match", false, 304, ""},
			{"GET", "X-Set", false, 200, "<p>hello</p>"},
		} {
			r := httptest.NewRequest(tt.method, "/a.html", nil)
			w := &fixedRecorder{ResponseRecorder: httptest.NewRecorder()}
			switch tt.header {
			case "Range":
				r.Header.Set("Range", "bytes=0-2")
			case "If-None-Match":
				r.Header.Set("If-None-Match", h.Get("Etag"))
			case "X-Set":
				w.Header().Set("X-Frame-Options", "DENY") // a field set before: the map must be used
			}
			if err := s.Serve(w, r, "/a.html"); err != nil {
				t.Fatal(err)
			}
			if got := w.fields != ""; got != tt.ready {
				t.Errorf("cache-control %q, %s %s: ready head used %v, want %v", cc, tt.method, tt.header, got, tt.ready)
			}
			if tt.ready && w.fields != want.String() {
				t.Errorf("cache-control %q: ready head\n%q\nwant what the map gives\n%q", cc, w.fields, want.String())
			}
			if w.Code != tt.status || w.Body.String() != tt.body {
				t.Errorf("cache-control %q, %s %s: %d %q, want %d %q", cc, tt.method, tt.header, w.Code, w.Body.String(), tt.status, tt.body)
			}
		}
	}
}
