package tests

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// settleWait is longer than the static cache's settle time (2s): files
// older than that are cached on their first request.
const settleWait = 2500 * time.Millisecond

func fetch(t *testing.T, url string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// TestStaticCacheNeverStale serves small files until they are cached, then
// changes each of them on disk in a different way; the next request must
// see the change.
func TestStaticCacheNeverStale(t *testing.T) {
	h := NewHarness(t)
	asRoot := os.Geteuid() == 0
	files := map[string]string{
		"htdocs/edit.txt":        "AAAA",
		"htdocs/sametime.txt":    "AAAA",
		"htdocs/rename.txt":      "AAAA",
		"htdocs/delete.txt":      "AAAA",
		"htdocs/chmod.txt":       "AAAA",
		"htdocs/v1.txt":          "one",
		"htdocs/v2.txt":          "two",
		"htdocs/d/index.html":    "<p>1</p>",
		"htdocs/cond.txt":        "0123456789",
		"htdocs/big.txt":         strings.Repeat("b", 100<<10),
		"htdocs/grow.txt":        "AAAA",
		"outside/secret.txt":     "secret",
		"htdocs/releases/1/a.js": "1();",
		"htdocs/releases/2/a.js": "2();",
	}
	for name, body := range files {
		h.Write(name, body, 0o644)
	}
	root := filepath.Join(h.Dir, "htdocs")
	for link, target := range map[string]string{"cur.txt": "v1.txt", "out.txt": "v1.txt", "current": "releases/1"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(settleWait)
	s := h.Start(`
server {
  listen   = ["127.0.0.1:0"]
  data_dir = "var"
}
log {
  access = "off"
  level  = "info"
}
vhost "localhost" {
  document_root = "htdocs"
}
`)
	paths := []string{"/edit.txt", "/sametime.txt", "/rename.txt", "/delete.txt", "/chmod.txt",
		"/cur.txt", "/out.txt", "/d/", "/cond.txt", "/big.txt", "/grow.txt", "/current/a.js"}
	for range 2 { // the first request fills the cache, the second is a hit
		for _, p := range paths {
			if code, _, _ := fetch(t, s.URL(p)); code != 200 {
				t.Fatalf("%s: status %d before any change", p, code)
			}
		}
	}

	// Conditional and range requests on a cached file.
	_, hdr, _ := fetch(t, s.URL("/cond.txt"))
	tag := hdr.Get("Etag")
	for _, c := range []struct {
		name   string
		hdr    []string
		status int
		body   string
	}{
		{"if-none-match", []string{"If-None-Match", tag}, 304, ""},
		{"if-modified-since", []string{"If-Modified-Since", hdr.Get("Last-Modified")}, 304, ""},
		{"if-match mismatch", []string{"If-Match", `"other"`}, 412, ""},
		{"range", []string{"Range", "bytes=2-4"}, 206, "234"},
		{"range unsatisfiable", []string{"Range", "bytes=50-60"}, 416, ""},
	} {
		code, _, body := fetch(t, s.URL("/cond.txt"), c.hdr...)
		if code != c.status || c.body != "" && body != c.body {
			t.Errorf("%s on a cached file: %d %q, want %d %q", c.name, code, body, c.status, c.body)
		}
	}

	write := func(rel, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(root, rel), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rename := func(from, to string) {
		t.Helper()
		if err := os.Rename(filepath.Join(root, from), filepath.Join(root, to)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		path   string
		change func()
		status int
		body   string
	}{
		{"edit in place, same size", "/edit.txt", func() { write("edit.txt", "BBBB") }, 200, "BBBB"},
		{"edit in place, same size and mtime", "/sametime.txt", func() {
			p := filepath.Join(root, "sametime.txt")
			fi, _ := os.Stat(p)
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString("CCCC")
			f.Close()
			os.Chtimes(p, fi.ModTime(), fi.ModTime())
		}, 200, "CCCC"},
		{"replace by rename", "/rename.txt", func() {
			write("rename.tmp", "DDDD")
			rename("rename.tmp", "rename.txt")
		}, 200, "DDDD"},
		{"delete", "/delete.txt", func() { os.Remove(filepath.Join(root, "delete.txt")) }, 404, ""},
		{"chmod to unreadable", "/chmod.txt", func() { os.Chmod(filepath.Join(root, "chmod.txt"), 0) },
			map[bool]int{false: 403, true: 200}[asRoot], ""},
		{"symlink swap", "/cur.txt", func() {
			os.Symlink("v2.txt", filepath.Join(root, "cur.tmp"))
			rename("cur.tmp", "cur.txt")
		}, 200, "two"},
		{"symlink swapped to outside the root", "/out.txt", func() {
			os.Symlink("../outside/secret.txt", filepath.Join(root, "out.tmp"))
			rename("out.tmp", "out.txt")
		}, 404, ""},
		{"directory symlink swap", "/current/a.js", func() {
			os.Symlink("releases/2", filepath.Join(root, "current.tmp"))
			rename("current.tmp", "current")
		}, 200, "2();"},
		{"index file replaced", "/d/", func() {
			write("d/index.tmp", "<p>2</p>")
			rename("d/index.tmp", "d/index.html")
		}, 200, "<p>2</p>"},
		{"grown past the cache limit", "/grow.txt", func() { write("grow.txt", strings.Repeat("g", 100<<10)) }, 200, strings.Repeat("g", 100<<10)},
		{"big file edited", "/big.txt", func() { write("big.txt", strings.Repeat("c", 100<<10)) }, 200, strings.Repeat("c", 100<<10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.change()
			code, _, body := fetch(t, s.URL(tt.path))
			if code != tt.status {
				t.Fatalf("%s after the change: status %d, want %d", tt.path, code, tt.status)
			}
			if tt.body != "" && body != tt.body {
				t.Fatalf("%s after the change: %q, want %q", tt.path, body, tt.body)
			}
			if strings.Contains(body, "secret") {
				t.Fatal("served a file outside the document root")
			}
		})
	}
	s.Stop()
}
