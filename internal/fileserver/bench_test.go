package fileserver

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// discardWriter is a ResponseWriter that keeps only its header map, so the
// benchmark measures the file server rather than a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

func benchServe(b *testing.B, opts Options, target string, settle bool) {
	if settle {
		time.Sleep(shortSettle(b))
	}
	root, _ := newTree(b)
	if settle {
		time.Sleep(shortSettle(b))
	}
	s, err := New(root, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := httptest.NewRequest("GET", target, nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		_ = s.Serve(w, r, r.URL.Path)
	}
}

// BenchmarkServeSmallFile is the uncached path: open, fstat, read, close.
func BenchmarkServeSmallFile(b *testing.B) {
	benchServe(b, Options{Index: DefaultIndex, Cache: CacheOptions{Off: true}}, "/hello.txt", false)
}

// BenchmarkServeSmallFileCached is a cache hit: one fstatat.
func BenchmarkServeSmallFileCached(b *testing.B) {
	benchServe(b, Options{Index: DefaultIndex}, "/hello.txt", true)
}

// BenchmarkServeIndexCached is a cached directory index ("/sub/").
func BenchmarkServeIndexCached(b *testing.B) {
	benchServe(b, Options{Index: DefaultIndex}, "/sub/", true)
}

// BenchmarkServeMissing is a 404: the file server's part of it.
func BenchmarkServeMissing(b *testing.B) {
	benchServe(b, Options{Index: DefaultIndex}, "/missing.html", false)
}

// BenchmarkCacheStat is the revalidation a hit pays: one fstatat.
func BenchmarkCacheStat(b *testing.B) {
	root, _ := newTree(b)
	d, err := openDirHandle(root)
	if err != nil {
		b.Skip(err)
	}
	defer d.close()
	p := []byte("sub/page.html\x00")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := d.stat(p); !ok {
			b.Fatal("stat failed")
		}
	}
}
