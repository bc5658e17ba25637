package tests

import (
	"bufio"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const staticSecret = "TOP-SECRET-4f1c9a outside document_root"

// staticSite serves htdocs/ with browse on, next to a secret file and
// folder outside the root that no request may ever reach.
func staticSite(t *testing.T) (*Harness, *Server) {
	t.Helper()
	h := NewHarness(t)
	h.Write("secret.txt", staticSecret+"\n", 0o644)
	h.Write("private/secret.txt", staticSecret+"\n", 0o644)
	h.Write("htdocs/index.html", "<h1>home</h1>\n", 0o644)
	h.Write("htdocs/hello.txt", "hello, world\n", 0o644)
	h.Write("htdocs/digits.txt", "0123456789", 0o644)
	h.Write("htdocs/style.css", "body{}", 0o644)
	h.Write("htdocs/docs/index.html", "docs index\n", 0o644)
	h.Write("htdocs/files/b.txt", "b", 0o644)
	h.Write("htdocs/files/a <&>.txt", "a", 0o644)
	h.Write("htdocs/files/.hidden", "hidden", 0o644)
	h.Write("htdocs/files/sub/c.txt", "c", 0o644)
	h.Write("htdocs/.env", "SECRET=1", 0o644)
	h.Write("htdocs/.git/config", "[core]", 0o644)
	h.Write("htdocs/inner/target.txt", "inside target\n", 0o644)
	for link, target := range map[string]string{
		"htdocs/escape.txt":       "../secret.txt",
		"htdocs/escape-dir":       "../private",
		"htdocs/absolute.txt":     filepath.Join(h.Dir, "secret.txt"),
		"htdocs/inner/inside.txt": "target.txt",
	} {
		if err := os.Symlink(target, filepath.Join(h.Dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	srv := h.Start(`server {
  listen = ["127.0.0.1:0"]
}
log {
  level = "debug"
}
vhost "s.test" {
  document_root = "htdocs"
  static {
    browse = true
  }
}`)
	return h, srv
}

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	_, srv := staticSite(t)
	tests := []struct {
		name, path string
		status     int
		body       string // "" to skip
		ctype      string
		location   string
	}{
		{"file", "/hello.txt", 200, "hello, world\n", "text/plain; charset=utf-8", ""},
		{"css", "/style.css", 200, "body{}", "text/css; charset=utf-8", ""},
		{"index at root", "/", 200, "<h1>home</h1>\n", "text/html; charset=utf-8", ""},
		{"index in folder", "/docs/", 200, "docs index\n", "text/html; charset=utf-8", ""},
		{"slash redirect", "/docs", 301, "", "", "/docs/"},
		{"slash redirect keeps query", "/docs?a=1", 301, "", "", "/docs/?a=1"},
		{"file with trailing slash", "/hello.txt/", 404, "", "", ""},
		{"missing", "/nope.txt", 404, "", "", ""},
		{"dotfile", "/.env", 404, "", "", ""},
		{"dot folder", "/.git/config", 404, "", "", ""},
		{"hidden in listing folder", "/files/.hidden", 404, "", "", ""},
		{"symlink inside the root", "/inner/inside.txt", 200, "inside target\n", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := coreGet(t, nil, srv.Addr, "s.test", tt.path)
			if resp.StatusCode != tt.status {
				t.Fatalf("GET %s: %d, want %d (%q)", tt.path, resp.StatusCode, tt.status, body)
			}
			if tt.body != "" && body != tt.body {
				t.Errorf("GET %s: body %q, want %q", tt.path, body, tt.body)
			}
			if tt.ctype != "" && resp.Header.Get("Content-Type") != tt.ctype {
				t.Errorf("GET %s: Content-Type %q, want %q", tt.path, resp.Header.Get("Content-Type"), tt.ctype)
			}
			if tt.location != "" && resp.Header.Get("Location") != tt.location {
				t.Errorf("GET %s: Location %q, want %q", tt.path, resp.Header.Get("Location"), tt.location)
			}
		})
	}
}

func TestStaticListing(t *testing.T) {
	t.Parallel()
	_, srv := staticSite(t)
	resp, body := coreGet(t, nil, srv.Addr, "s.test", "/files/")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /files/: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"b.txt", "sub/", "a &lt;&amp;&gt;.txt"} {
		if !strings.Contains(body, want) {
			t.Errorf("listing lacks %q:\n%s", want, body)
		}
	}
	for _, bad := range []string{".hidden", "a <&>.txt", "<script"} {
		if strings.Contains(body, bad) {
			t.Errorf("listing holds %q:\n%s", bad, body)
		}
	}
	// Sorting by size, descending, is accepted.
	if resp, _ := coreGet(t, nil, srv.Addr, "s.test", "/files/?C=S;O=D"); resp.StatusCode != 200 {
		t.Errorf("sorted listing: %d", resp.StatusCode)
	}
}

func TestStaticMethods(t *testing.T) {
	t.Parallel()
	_, srv := staticSite(t)
	// HEAD: GET's headers, no body.
	get, getBody := coreGet(t, nil, srv.Addr, "s.test", "/hello.txt")
	req, _ := http.NewRequest("HEAD", "http://"+srv.Addr+"/hello.txt", nil)
	req.Host = "s.test"
	head, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(head.Body)
	head.Body.Close()
	if head.StatusCode != 200 || len(b) != 0 {
		t.Errorf("HEAD: %d, body %q", head.StatusCode, b)
	}
	for _, k := range []string{"Content-Type", "Content-Length", "Etag", "Last-Modified"} {
		if head.Header.Get(k) != get.Header.Get(k) || get.Header.Get(k) == "" {
			t.Errorf("HEAD %s = %q, GET %s = %q", k, head.Header.Get(k), k, get.Header.Get(k))
		}
	}
	if get.Header.Get("Content-Length") != fmt.Sprint(len(getBody)) {
		t.Errorf("Content-Length %s for a body of %d", get.Header.Get("Content-Length"), len(getBody))
	}
	// HEAD on raw HTTP: no body bytes at all.
	raw := coreRaw(t, srv.Addr, "HEAD /hello.txt HTTP/1.1\r\nHost: s.test\r\nConnection: close\r\n\r\n")
	if !strings.HasSuffix(raw, "\r\n\r\n") {
		t.Errorf("raw HEAD sent a body: %q", raw)
	}

	for _, method := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		t.Run(method, func(t *testing.T) {
			req, _ := http.NewRequest(method, "http://"+srv.Addr+"/hello.txt", strings.NewReader(""))
			req.Host = "s.test"
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
				t.Errorf("%s: %d, Allow %q", method, resp.StatusCode, resp.Header.Get("Allow"))
			}
		})
	}
}

// TestStaticOptions: OPTIONS on a file or folder is 204 with Allow and no
// body (SPEC §5); on a missing or hidden path it is the 404 GET would
// get; "OPTIONS *" is the server's to answer, 200 with an empty body.
func TestStaticOptions(t *testing.T) {
	t.Parallel()
	_, srv := staticSite(t)
	tests := []struct {
		name, path string
		status     int
		allow      string
	}{
		{"file", "/hello.txt", 204, "GET, HEAD, OPTIONS"},
		{"index folder", "/docs/", 204, "GET, HEAD, OPTIONS"},
		{"folder without slash", "/docs", 204, "GET, HEAD, OPTIONS"},
		{"root", "/", 204, "GET, HEAD, OPTIONS"},
		{"missing", "/nope.txt", 404, ""},
		{"dotfile", "/.env", 404, ""},
		{"symlink out", "/escape.txt", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := coreRaw(t, srv.Addr, "OPTIONS "+tt.path+" HTTP/1.1\r\nHost: s.test\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
			if err != nil {
				t.Fatalf("%v: %q", err, raw)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || resp.Header.Get("Allow") != tt.allow {
				t.Fatalf("OPTIONS %s: %d, Allow %q; want %d, %q\n%s", tt.path, resp.StatusCode, resp.Header.Get("Allow"), tt.status, tt.allow, raw)
			}
			if tt.status == 204 && (len(body) != 0 || resp.Header.Get("Content-Type") != "" || resp.Header.Get("Location") != "") {
				t.Errorf("OPTIONS %s: a 204 with more than Allow:\n%s", tt.path, raw)
			}
			if strings.Contains(raw, staticSecret) {
				t.Errorf("OPTIONS %s leaked the secret", tt.path)
			}
		})
	}
	t.Run("asterisk", func(t *testing.T) {
		raw := coreRaw(t, srv.Addr, "OPTIONS * HTTP/1.1\r\nHost: s.test\r\nConnection: close\r\n\r\n")
		if !strings.HasPrefix(raw, "HTTP/1.1 200 ") || !strings.HasSuffix(raw, "\r\n\r\n") {
			t.Errorf("OPTIONS *: %q", raw)
		}
	})
}

func TestStaticConditional(t *testing.T) {
	t.Parallel()
	_, srv := staticSite(t)
	resp, _ := coreGet(t, nil, srv.Addr, "s.test", "/hello.txt")
	etag, lastMod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if !strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, "W/") {
		t.Fatalf("ETag %q is not a strong validator", etag)
	}
	mod, err := http.ParseTime(lastMod)
	if err != nil {
		t.Fatalf("Last-Modified %q: %v", lastMod, err)
	}
	before := mod.Add(-time.Hour).UTC().Format(http.TimeFormat)
	after := mod.Add(time.Hour).UTC().Format(http.TimeFormat)
	tests := []struct {
		name   string
		hdr    []string
		status int
	}{
		{"If-None-Match same", []string{"If-None-Match", etag}, 304},
		{"If-None-Match list", []string{"If-None-Match", `"x", ` + etag}, 304},
		{"If-None-Match star", []string{"If-None-Match", "*"}, 304},
		{"If-None-Match other", []string{"If-None-Match", `"other"`}, 200},
		{"If-Modified-Since same", []string{"If-Modified-Since", lastMod}, 304},
		{"If-Modified-Since later", []string{"If-Modified-Since", after}, 304},
		{"If-Modified-Since earlier", []string{"If-Modified-Since", before}, 200},
		{"If-None-Match wins over If-Modified-Since", []string{"If-None-Match", `"other"`, "If-Modified-Since", lastMod}, 200},
		{"If-Match same", []string{"If-Match", etag}, 200},
		{"If-Match other", []string{"If-Match", `"other"`}, 412},
		{"If-Unmodified-Since same", []string{"If-Unmodified-Since", lastMod}, 200},
		{"If-Unmodified-Since earlier", []string{"If-Unmodified-Since", before}, 412},
		{"If-Range match", []string{"Range", "bytes=0-4", "If-Range", etag}, 206},
		{"If-Range stale", []string{"Range", "bytes=0-4", "If-Range", `"old"`}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := coreGet(t, nil, srv.Addr, "s.test", "/hello.txt", tt.hdr...)
			if resp.StatusCode != tt.status {
				t.Fatalf("%d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == 304 && (body != "" || resp.Header.Get("ETag") != etag) {
				t.Errorf("304 with body %q, ETag %q", body, resp.Header.Get("ETag"))
			}
		})
	}
}

func TestStaticRange(t *testing.T) {
	t.Parallel()
	_, srv := staticSite(t)
	tests := []struct {
		rng, body, contentRange string
		status                  int
	}{
		{"bytes=0-3", "0123", "bytes 0-3/10", 206},
		{"bytes=5-", "56789", "bytes 5-9/10", 206},
		{"bytes=-3", "789", "bytes 7-9/10", 206},
		{"bytes=8-100", "89", "bytes 8-9/10", 206},
		{"bytes=10-", "", "bytes */10", 416},
		{"bytes=20-30", "", "bytes */10", 416},
		{"bytes=5-1", "", "", 416}, // malformed: first byte after the last
	}
	for _, tt := range tests {
		t.Run(tt.rng, func(t *testing.T) {
			resp, body := coreGet(t, nil, srv.Addr, "s.test", "/digits.txt", "Range", tt.rng)
			if resp.StatusCode != tt.status {
				t.Fatalf("%d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status != 416 && body != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
			if got := resp.Header.Get("Content-Range"); got != tt.contentRange {
				t.Errorf("Content-Range %q, want %q", got, tt.contentRange)
			}
		})
	}

	t.Run("multi", func(t *testing.T) {
		resp, body := coreGet(t, nil, srv.Addr, "s.test", "/digits.txt", "Range", "bytes=0-1,4-5,-2")
		if resp.StatusCode != 206 {
			t.Fatalf("%d, want 206", resp.StatusCode)
		}
		mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/byteranges" {
			t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
		}
		mr := multipart.NewReader(strings.NewReader(body), params["boundary"])
		want := []struct{ body, rng string }{{"01", "bytes 0-1/10"}, {"45", "bytes 4-5/10"}, {"89", "bytes 8-9/10"}}
		for i := 0; ; i++ {
			p, err := mr.NextPart()
			if err == io.EOF {
				if i != len(want) {
					t.Errorf("%d parts, want %d", i, len(want))
				}
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(p)
			if i >= len(want) || string(b) != want[i].body || p.Header.Get("Content-Range") != want[i].rng ||
				p.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("part %d: %q %q %q", i, b, p.Header.Get("Content-Range"), p.Header.Get("Content-Type"))
			}
		}
	})
}

// TestStaticTraversal sends path tricks raw, as an attacker would (a Go
// client would clean them), and checks that the secret next to the
// document root never comes back.
func TestStaticTraversal(t *testing.T) {
	t.Parallel()
	h, srv := staticSite(t)
	passwd, _ := os.ReadFile("/etc/passwd")
	targets := []string{
		"/../secret.txt",
		"/../../../../../../etc/passwd",
		"/%2e%2e/secret.txt",
		"/%2E%2e%2fsecret.txt",
		"/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
		"/..%2fsecret.txt",
		"/..%2Fsecret.txt",
		"/docs/..%2f..%2fsecret.txt",
		"/.%2e/secret.txt",
		"/%252e%252e/secret.txt",
		"/..\\secret.txt",
		"/docs\\..\\..\\secret.txt",
		"/..%5csecret.txt",
		"/%5c..%5csecret.txt",
		"/%00/../secret.txt",
		"/secret.txt%00.html",
		"/docs/%00",
		"/escape.txt",
		"/escape-dir/secret.txt",
		"/escape-dir/",
		"/absolute.txt",
		"//etc/passwd",
		"//" + strings.TrimPrefix(filepath.Join(h.Dir, "secret.txt"), "/"),
		"/./../secret.txt",
		"/docs/../../secret.txt",
		"/docs/./../../secret.txt",
		"/..;/secret.txt",
		"/...//secret.txt",
		"../secret.txt",
		"http://s.test/../secret.txt",
		"/%c0%ae%c0%ae/secret.txt",
		"/%2e%2e",
	}
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			got := coreRaw(t, srv.Addr, "GET "+target+" HTTP/1.1\r\nHost: s.test\r\nConnection: close\r\n\r\n")
			if strings.Contains(got, "TOP-SECRET") {
				t.Fatalf("GET %s served the secret:\n%s", target, got)
			}
			if len(passwd) > 0 && strings.Contains(got, "root:x:0:0") {
				t.Fatalf("GET %s served /etc/passwd", target)
			}
			status := ""
			if len(got) >= 12 {
				status = got[9:12]
			}
			switch status {
			case "400", "404":
			case "301":
				// Only the slash form of a folder inside the root.
				if !strings.Contains(got, "\r\nLocation: /") || strings.Contains(got, "\r\nLocation: //") {
					t.Errorf("GET %s: %q", target, got)
				}
			default:
				t.Errorf("GET %s: status %q, want 400 or 404:\n%s", target, status, got)
			}
		})
	}
	// A symlink that stays inside the root still works.
	if resp, body := coreGet(t, nil, srv.Addr, "s.test", "/inner/inside.txt"); resp.StatusCode != 200 || body != "inside target\n" {
		t.Errorf("inside symlink: %d %q", resp.StatusCode, body)
	}
}

func TestStaticLargeFile(t *testing.T) {
	t.Parallel()
	h := NewHarness(t)
	const size = 8<<20 + 123
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	h.Write("htdocs/big.bin", string(data), 0o644)
	srv := h.Start(`server {
  listen = ["127.0.0.1:0"]
}
vhost "a.test" {
  document_root = "htdocs"
}`)
	resp, body := coreGet(t, nil, srv.Addr, "a.test", "/big.bin")
	if resp.StatusCode != 200 || len(body) != size || body != string(data) {
		t.Errorf("GET /big.bin: %d, %d bytes, equal %v", resp.StatusCode, len(body), body == string(data))
	}
	if resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	resp, body = coreGet(t, nil, srv.Addr, "a.test", "/big.bin", "Range", fmt.Sprintf("bytes=%d-", size-10))
	if resp.StatusCode != 206 || body != string(data[size-10:]) {
		t.Errorf("tail range: %d %q", resp.StatusCode, body)
	}
}
