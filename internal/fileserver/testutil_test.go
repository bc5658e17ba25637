package fileserver

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"httpd/internal/testutil"
	"httpd/registry"
)

// modTime is the modification time of every fixture file.
var modTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// bigSize is the size of big.bin, above net/http's sniff and buffer sizes.
const bigSize = 3 << 20

// newTree builds a document root with files of every kind the tests need
// and returns it along with a directory outside it holding secret.txt.
func newTree(t testing.TB) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "htdocs")
	outside = filepath.Join(base, "outside")
	files := map[string]string{
		"index.html":            "<h1>home</h1>\n",
		"hello.txt":             "hello, world\n",
		"style.css":             "body{}\n",
		"app.js":                "x()\n",
		"data.json":             "{}\n",
		"logo.svg":              "<svg/>\n",
		"pic.PNG":               "png",
		"noext":                 "raw",
		"doc.pdf":               "%PDF",
		"font.woff2":            "w2",
		"sub/index.html":        "<h1>sub</h1>\n",
		"sub/page.html":         "<p>page</p>\n",
		"other/index.htm":       "<h1>htm</h1>\n",
		"browse/a.txt":          "aaaa",
		"browse/b.txt":          "b",
		"browse/c c&<x>.txt":    "ccc",
		"browse/zdir/z.txt":     "z",
		"browse/.hidden":        "hidden",
		"empty/keep.txt":        "",
		".secret":               "top secret",
		".git/config":           "[core]",
		".well-known/acme.txt":  "challenge",
		".well-known/.dot":      "dot in well-known",
		"a:b.txt":               "colon",
		"%2e%2e/x.txt":          "literal percent",
		"dots.../x.txt":         "three dots",
		"public/file.txt":       "public",
		"public/.well-known/x":  "nested well-known",
		"utf8/h\u00e9llo.txt":   "utf8",
		"ranges.txt":            "0123456789abcdefghijklmnopqrstuvwxyz",
		"../outside/secret.txt": "outside secret",
		"../outside/dir/f.txt":  "outside dir file",
		"../outside/index.html": "outside index",
		"linked/target.txt":     "via link",
		"big.bin":               strings.Repeat("0123456789abcdef", bigSize/16),
	}
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"link-in.txt":     "hello.txt",
		"link-dir":        "linked",
		"link-abs-in.txt": filepath.Join(root, "hello.txt"),
		"link-out.txt":    "../outside/secret.txt",
		"link-abs-out":    filepath.Join(outside, "secret.txt"),
		"link-out-dir":    outside,
		"browse/out":      filepath.Join(outside, "secret.txt"),
		"browse/in":       "a.txt",
		"link-loop":       "link-loop",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "noread.txt"), []byte("x"), 0o000); err != nil {
		t.Fatal(err)
	}
	filepath.Walk(base, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode()&os.ModeSymlink == 0 {
			os.Chtimes(p, modTime, modTime)
		}
		return nil
	})
	return root, outside
}

// adapt turns a pipeline handler into an http.Handler the way the vhost
// does: a returned error becomes its status with a fixed text.
func adapt(h registry.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h.ServeHTTP(w, r); err != nil {
			status := registry.StatusOf(err)
			w.Header().Set("X-Test-Error", err.Error())
			http.Error(w, http.StatusText(status), status)
		}
	})
}

// notFound is the next handler of a content stage in tests.
var notFound = registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	return registry.Error(http.StatusNotFound, errors.New("next: not found"))
})

// testServer is a FileServer mounted the way the static module mounts
// document_root: the whole URL path maps into the root.
type testServer struct{ fs *FileServer }

// Wrap returns the handler serving r.URL.Path, with next for missing
// files.
func (ts testServer) Wrap(next registry.Handler) registry.Handler {
	return registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return ServeOrNext(ts.fs, w, r, r.URL.Path, next)
	})
}

// newModule decodes src (a block of file server options, or "") and opens
// a FileServer over root with them.
func newModule(t *testing.T, root, src string) testServer {
	t.Helper()
	dc := &registry.DecodeContext{ServerRoot: filepath.Dir(root), DocumentRoot: root, VHost: "test"}
	opts := Options{Index: DefaultIndex}
	if src != "" {
		content, diags := testutil.ParseBlock(t, src).Body.Content(&hcl.BodySchema{Attributes: OptionAttributes})
		o, d := DecodeOptions(content, dc)
		if diags = append(diags, d...); diags.HasErrors() {
			t.Fatalf("decode: %s", diags.Error())
		}
		opts = o
	}
	s, err := New(root, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return testServer{s}
}

// readerFromRecorder is a ResponseRecorder that, like net/http's own
// writer, implements io.ReaderFrom, and notes whether it got an *os.File.
type readerFromRecorder struct {
	*httptest.ResponseRecorder
	gotFile bool
}

func (r *readerFromRecorder) ReadFrom(src io.Reader) (int64, error) {
	inner := src
	if lr, ok := src.(*io.LimitedReader); ok {
		inner = lr.R
	}
	if _, ok := inner.(*os.File); ok {
		r.gotFile = true
	}
	return io.Copy(struct{ io.Writer }{r.ResponseRecorder}, src)
}

var _ io.ReaderFrom = (*readerFromRecorder)(nil)
