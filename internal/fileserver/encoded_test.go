package fileserver

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"httpd/internal/coding"
	"httpd/registry"
)

// offerRecorder is a ResponseRecorder a compress stage wraps.
type offerRecorder struct {
	*httptest.ResponseRecorder
	o *coding.Offer
}

func (w offerRecorder) Offer() *coding.Offer { return w.o }

func gzipped(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	io.WriteString(zw, s)
	zw.Close()
	return b.String()
}

func gunzip(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestEncoded(t *testing.T) {
	old := cacheSettle
	cacheSettle = -time.Hour // every file counts as settled
	t.Cleanup(func() { cacheSettle = old })

	root := t.TempDir()
	page := strings.Repeat("<p>precompressed page</p>\n", 100)
	files := map[string]string{
		"page.html":    page,
		"page.html.gz": "gzip sibling bytes",
		"page.html.br": "stale br sibling",
		"plain.html":   page,
		"small.html":   "<p>tiny</p>",
		"pic.png":      page,
		"pic.png.gz":   "png sibling",
		"dir.html":     page,
	}
	for name, body := range files {
		write(t, filepath.Join(root, name), body)
	}
	if err := os.Mkdir(filepath.Join(root, "dir.html.gz"), 0o755); err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour)
	for name := range files {
		mt := base
		switch {
		case strings.HasSuffix(name, ".br"):
			mt = base.Add(-time.Minute) // older than the file: ignored
		case strings.HasSuffix(name, ".gz"):
			mt = base.Add(time.Minute)
		}
		if err := os.Chtimes(filepath.Join(root, name), mt, mt); err != nil {
			t.Fatal(err)
		}
	}

	for _, cacheOn := range []bool{false, true} {
		s, err := New(root, Options{Cache: CacheOptions{Off: !cacheOn}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		policy := &coding.Policy{MinSize: 100, Types: []string{"text/*"}, Precompressed: true,
			Levels: coding.DefaultLevels, Cache: coding.NewCache(1<<20, 1<<20)}
		tests := []struct {
			name    string
			path    string
			codings []coding.Coding
			hdr     []string
			status  int
			ce      string
			body    string // decoded for gzip made here, raw for siblings
			sibling bool
		}{
			{name: "gzip sibling", path: "/page.html", codings: []coding.Coding{coding.Br, coding.Gzip}, ce: "gzip", body: "gzip sibling bytes", sibling: true},
			{name: "no offer", path: "/page.html", body: page},
			{name: "encoded from cache", path: "/plain.html", codings: []coding.Coding{coding.Gzip}, ce: "gzip", body: page},
			{name: "cache hit", path: "/plain.html", codings: []coding.Coding{coding.Gzip}, ce: "gzip", body: page},
			{name: "no gzip sibling wanted", path: "/page.html", codings: []coding.Coding{coding.Zstd}, ce: "zstd"},
			{name: "small", path: "/small.html", codings: []coding.Coding{coding.Gzip}, body: "<p>tiny</p>"},
			{name: "unlisted type", path: "/pic.png", codings: []coding.Coding{coding.Gzip}, body: page},
			{name: "sibling is a directory", path: "/dir.html", codings: []coding.Coding{coding.Gzip}, ce: "gzip", body: page},
			{name: "304 to the encoded tag", path: "/plain.html", codings: []coding.Coding{coding.Gzip}, hdr: []string{"If-None-Match", "TAG"}, status: 304},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := httptest.NewRequest("GET", tt.path, nil)
				rec := httptest.NewRecorder()
				var w http.ResponseWriter = rec
				if tt.codings != nil {
					w = offerRecorder{rec, &coding.Offer{Policy: policy, Codings: tt.codings}}
				}
				if len(tt.hdr) == 2 {
					fi, err := os.Stat(filepath.Join(root, tt.path))
					if err != nil {
						t.Fatal(err)
					}
					r.Header.Set(tt.hdr[0], coding.ETag(etag(fi), tt.codings[0]))
				}
				if err := s.Serve(w, r, r.URL.Path); err != nil {
					t.Fatal(err)
				}
				status := tt.status
				if status == 0 {
					status = 200
				}
				if rec.Code != status {
					t.Fatalf("status %d, want %d", rec.Code, status)
				}
				h := rec.Header()
				if h.Get("Content-Encoding") != tt.ce {
					t.Errorf("Content-Encoding %q, want %q", h.Get("Content-Encoding"), tt.ce)
				}
				if tt.ce != "" {
					if h.Get("Vary") != "Accept-Encoding" {
						t.Errorf("Vary %q", h.Get("Vary"))
					}
					if h.Get("Content-Type") != "text/html; charset=utf-8" {
						t.Errorf("Content-Type %q", h.Get("Content-Type"))
					}
					fi, _ := os.Stat(filepath.Join(root, tt.path))
					plain := etag(fi)
					switch et := h.Get("Etag"); {
					case tt.sibling:
						sfi, _ := os.Stat(filepath.Join(root, tt.path+"."+tt.ce[:2]))
						if et != etag(sfi) {
							t.Errorf("ETag %s, want the sibling's %s", et, etag(sfi))
						}
					case et != coding.ETag(plain, tt.codings[0]):
						t.Errorf("ETag %s, want %s", et, coding.ETag(plain, tt.codings[0]))
					}
				}
				if status != 200 || tt.body == "" {
					return
				}
				got := rec.Body.String()
				if tt.ce == "gzip" && !tt.sibling {
					got = gunzip(t, rec.Body.Bytes())
				}
				if got != tt.body {
					t.Errorf("body %.40q, want %.40q", got, tt.body)
				}
			})
		}
		if policy.Cache.Used() == 0 {
			t.Error("the encoded cache holds nothing")
		}
	}
}

func TestEncodedCacheFresh(t *testing.T) {
	old := cacheSettle
	cacheSettle = -time.Hour
	t.Cleanup(func() { cacheSettle = old })
	root := t.TempDir()
	p := filepath.Join(root, "a.txt")
	write(t, p, strings.Repeat("one ", 100))
	s, err := New(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.cache.trust = 0 // the change comes right after the request that cached the file
	policy := &coding.Policy{Types: []string{"text/*"}, Levels: coding.DefaultLevels, Cache: coding.NewCache(1<<20, 1<<20)}
	fetch := func() string {
		rec := httptest.NewRecorder()
		w := offerRecorder{rec, &coding.Offer{Policy: policy, Codings: []coding.Coding{coding.Gzip}}}
		r := httptest.NewRequest("GET", "/a.txt", nil)
		if err := s.Serve(w, r, "/a.txt"); err != nil {
			t.Fatal(err)
		}
		return gunzip(t, rec.Body.Bytes())
	}
	if got := fetch(); got != strings.Repeat("one ", 100) {
		t.Fatalf("first: %.20q", got)
	}
	write(t, p, strings.Repeat("two ", 100))
	if got := fetch(); got != strings.Repeat("two ", 100) {
		t.Fatalf("after the change: %.20q", got)
	}
}

func TestEncodedErrorUntouched(t *testing.T) {
	root := t.TempDir()
	s, err := New(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := httptest.NewRecorder()
	w := offerRecorder{rec, &coding.Offer{Policy: &coding.Policy{Types: []string{"*/*"}}, Codings: []coding.Coding{coding.Gzip}}}
	err = s.Serve(w, httptest.NewRequest("GET", "/missing.html", nil), "/missing.html")
	if registry.StatusOf(err) != 404 || len(rec.Header()) != 0 {
		t.Errorf("err %v, header %v", err, rec.Header())
	}
}

// TestSiblingCache checks that a small settled sibling is kept in the
// file cache, and that one edited, made stale or removed afterwards is
// never served from it.
func TestSiblingCache(t *testing.T) {
	// With the page cached too, and with the page too large for the
	// cache, when the sibling is found without opening the page.
	for _, maxFile := range []int64{0, 100} {
		t.Run(fmt.Sprint("max_file=", maxFile), func(t *testing.T) { testSiblingCache(t, maxFile) })
	}
}

func testSiblingCache(t *testing.T, maxFile int64) {
	wait := shortSettle(t)
	root := t.TempDir()
	page := strings.Repeat("<p>cached sibling</p>\n", 20)
	write(t, filepath.Join(root, "a.html"), page)
	write(t, filepath.Join(root, "a.html.gz"), "first gzip")
	old := time.Now().Add(-time.Hour)
	for _, n := range []string{"a.html", "a.html.gz"} {
		if err := os.Chtimes(filepath.Join(root, n), old, old); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(wait) // let the ctimes settle
	s, err := New(root, Options{Cache: CacheOptions{MaxFile: maxFile}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	policy := &coding.Policy{MinSize: 10, Types: []string{"text/*"}, Precompressed: true,
		Levels: coding.DefaultLevels, Cache: coding.NewCache(1<<20, 1<<20)}
	serve := func() (string, string) {
		t.Helper()
		rec := httptest.NewRecorder()
		w := offerRecorder{rec, &coding.Offer{Policy: policy, Codings: []coding.Coding{coding.Gzip}}}
		r := httptest.NewRequest("GET", "/a.html", nil)
		if err := s.Serve(w, r, r.URL.Path); err != nil {
			t.Fatal(err)
		}
		return rec.Header().Get("Content-Encoding"), rec.Body.String()
	}
	s.cache.trust = 0 // every request checks: the edits come at once
	cachedSibling := func() bool {
		s.cache.mu.RLock()
		defer s.cache.mu.RUnlock()
		return s.cache.siblings["a.html.gz"] != nil
	}

	if ce, body := serve(); ce != "gzip" || body != "first gzip" {
		t.Fatalf("first: %q %q", ce, body)
	}
	if !cachedSibling() {
		t.Fatal("the settled sibling is not cached")
	}
	if ce, body := serve(); ce != "gzip" || body != "first gzip" {
		t.Fatalf("from the cache: %q %q", ce, body)
	}

	// Edited: the next request sees the new bytes.
	write(t, filepath.Join(root, "a.html.gz"), "second gzip!")
	if ce, body := serve(); ce != "gzip" || body != "second gzip!" {
		t.Errorf("after an edit: %q %q", ce, body)
	}
	// Older than the page: stale, the page is encoded here instead.
	if err := os.Chtimes(filepath.Join(root, "a.html.gz"), old.Add(-time.Hour), old.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(wait)
	serve() // caches the stale sibling
	if ce, body := serve(); ce != "gzip" || body == "second gzip!" {
		t.Errorf("stale sibling served: %q %q", ce, body)
	}
	// Removed: encoded here too.
	if err := os.Remove(filepath.Join(root, "a.html.gz")); err != nil {
		t.Fatal(err)
	}
	if ce, body := serve(); ce != "gzip" || body == "second gzip!" {
		t.Errorf("removed sibling served: %q %q", ce, body)
	}
}
