package fileserver

import (
	"bufio"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// request runs one request through h and returns the recorded answer.
func request(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestServe(t *testing.T) {
	root, _ := newTree(t)
	h := adapt(newModule(t, root, "").Wrap(notFound))
	fi, err := os.Stat(filepath.Join(root, "ranges.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tag := etag(fi)
	lastMod := modTime.Format(http.TimeFormat)
	before := modTime.Add(-time.Hour).Format(http.TimeFormat)
	after := modTime.Add(time.Hour).Format(http.TimeFormat)
	forbiddenUnlessRoot := http.StatusForbidden
	if os.Geteuid() == 0 {
		forbiddenUnlessRoot = http.StatusOK
	}

	tests := []struct {
		name    string
		method  string
		target  string
		hdr     map[string]string
		status  int
		wantHdr map[string]string // "" means the header must be absent
		body    string            // the exact body, unless "*" (any)
		errHas  string            // part of the error the handler returned
	}{
		// Methods.
		{name: "get", target: "/hello.txt", status: 200, body: "hello, world\n",
			wantHdr: map[string]string{"Content-Type": "text/plain; charset=utf-8", "Content-Length": "13", "Last-Modified": lastMod, "Accept-Ranges": "bytes"}},
		{name: "head", method: "HEAD", target: "/hello.txt", status: 200, body: "",
			wantHdr: map[string]string{"Content-Type": "text/plain; charset=utf-8", "Content-Length": "13", "Last-Modified": lastMod}},
		{name: "post", method: "POST", target: "/hello.txt", status: 405, body: "*", wantHdr: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{name: "put", method: "PUT", target: "/hello.txt", status: 405, body: "*", wantHdr: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{name: "delete", method: "DELETE", target: "/hello.txt", status: 405, body: "*", wantHdr: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{name: "patch on a missing file", method: "PATCH", target: "/missing.txt", status: 405, body: "*", wantHdr: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},

		// OPTIONS (SPEC §5): 204 with Allow for what GET could reach,
		// else the error GET would get.
		{name: "options file", method: "OPTIONS", target: "/hello.txt", status: 204, body: "", wantHdr: map[string]string{"Allow": "GET, HEAD, OPTIONS", "Content-Type": "", "Etag": ""}},
		{name: "options root", method: "OPTIONS", target: "/", status: 204, body: "", wantHdr: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{name: "options dir", method: "OPTIONS", target: "/sub/", status: 204, body: "", wantHdr: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{name: "options dir without slash", method: "OPTIONS", target: "/sub", status: 204, body: "", wantHdr: map[string]string{"Allow": "GET, HEAD, OPTIONS", "Location": ""}},
		{name: "options dir without index", method: "OPTIONS", target: "/browse/", status: 204, body: "", wantHdr: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{name: "options missing runs next", method: "OPTIONS", target: "/missing.txt", status: 404, body: "*", errHas: "next: not found"},
		{name: "options file with trailing slash", method: "OPTIONS", target: "/hello.txt/", status: 404, body: "*", wantHdr: map[string]string{"Allow": ""}},
		{name: "options dot-file", method: "OPTIONS", target: "/.secret", status: 404, body: "*", errHas: "hidden", wantHdr: map[string]string{"Allow": ""}},
		{name: "options dotdot", method: "OPTIONS", target: "/../outside/secret.txt", status: 404, body: "*", errHas: "rejected"},
		{name: "options encoded slash", method: "OPTIONS", target: "/sub%2fpage.html", status: 404, body: "*", errHas: "encoded slash"},
		{name: "options symlink out", method: "OPTIONS", target: "/link-out.txt", status: 404, body: "*", wantHdr: map[string]string{"Allow": ""}},

		// Directories.
		{name: "root index", target: "/", status: 200, body: "<h1>home</h1>\n", wantHdr: map[string]string{"Content-Type": "text/html; charset=utf-8"}},
		{name: "head root index", method: "HEAD", target: "/", status: 200, body: "", wantHdr: map[string]string{"Content-Length": "14"}},
		{name: "dir index", target: "/sub/", status: 200, body: "<h1>sub</h1>\n"},
		{name: "dir without slash", target: "/sub", status: 301, body: "*", wantHdr: map[string]string{"Location": "/sub/"}},
		{name: "dir without slash keeps query", target: "/sub?a=1&b=%20", status: 301, body: "*", wantHdr: map[string]string{"Location": "/sub/?a=1&b=%20"}},
		{name: "dir redirect stays on host", target: "//sub", status: 301, body: "*", wantHdr: map[string]string{"Location": "/sub/"}},
		{name: "head dir without slash", method: "HEAD", target: "/sub", status: 301, body: "", wantHdr: map[string]string{"Location": "/sub/"}},
		{name: "dir without index", target: "/browse/", status: 403, body: "*", errHas: "browse is off"},
		{name: "index.htm not in default index", target: "/other/", status: 403, body: "*"},
		{name: "file with trailing slash", target: "/sub/page.html/", status: 404, body: "*"},
		{name: "missing file runs next", target: "/missing.txt", status: 404, body: "*", errHas: "next: not found"},
		{name: "missing dir runs next", target: "/nope/x.txt", status: 404, body: "*", errHas: "next: not found"},
		{name: "path below a file", target: "/hello.txt/x", status: 404, body: "*"},
		{name: "utf-8 name", target: "/utf8/h%C3%A9llo.txt", status: 200, body: "utf8"},

		// Content types.
		{name: "css", target: "/style.css", status: 200, body: "*", wantHdr: map[string]string{"Content-Type": "text/css; charset=utf-8"}},
		{name: "js", target: "/app.js", status: 200, body: "*", wantHdr: map[string]string{"Content-Type": "text/javascript; charset=utf-8"}},
		{name: "json", target: "/data.json", status: 200, body: "*", wantHdr: map[string]string{"Content-Type": "application/json; charset=utf-8"}},
		{name: "svg", target: "/logo.svg", status: 200, body: "*", wantHdr: map[string]string{"Content-Type": "image/svg+xml; charset=utf-8"}},
		{name: "upper-case extension", target: "/pic.PNG", status: 200, body: "*", wantHdr: map[string]string{"Content-Type": "image/png"}},
		{name: "no extension", target: "/noext", status: 200, body: "raw", wantHdr: map[string]string{"Content-Type": "application/octet-stream"}},
		{name: "pdf", target: "/doc.pdf", status: 200, body: "*", wantHdr: map[string]string{"Content-Type": "application/pdf"}},
		{name: "woff2", target: "/font.woff2", status: 200, body: "*", wantHdr: map[string]string{"Content-Type": "font/woff2"}},

		// Dot-files.
		{name: "dot-file", target: "/.secret", status: 404, body: "*", errHas: "hidden"},
		{name: "dot-dir file", target: "/.git/config", status: 404, body: "*", errHas: "hidden"},
		{name: "dot-dir", target: "/.git/", status: 404, body: "*", errHas: "hidden"},
		{name: "well-known", target: "/.well-known/acme.txt", status: 200, body: "challenge"},
		{name: "dot-file in well-known", target: "/.well-known/.dot", status: 404, body: "*"},
		{name: "well-known below root", target: "/public/.well-known/x", status: 404, body: "*"},
		{name: "encoded dot-file", target: "/%2esecret", status: 404, body: "*"},

		// Traversal.
		{name: "dotdot", target: "/../outside/secret.txt", status: 404, body: "*", errHas: "rejected"},
		{name: "dotdot inside", target: "/sub/../../outside/secret.txt", status: 404, body: "*"},
		{name: "encoded dotdot", target: "/%2e%2e/outside/secret.txt", status: 404, body: "*"},
		{name: "encoded dotdot upper", target: "/%2E%2E/%2E%2E/outside/secret.txt", status: 404, body: "*"},
		{name: "mixed dotdot", target: "/.%2e/outside/secret.txt", status: 404, body: "*"},
		{name: "encoded slash", target: "/sub%2fpage.html", status: 404, body: "*", errHas: "encoded slash"},
		{name: "encoded slash upper", target: "/sub%2Fpage.html", status: 404, body: "*"},
		{name: "encoded slash dotdot", target: "/..%2foutside%2fsecret.txt", status: 404, body: "*"},
		{name: "encoded backslash", target: "/sub%5cpage.html", status: 404, body: "*"},
		{name: "encoded backslash dotdot", target: "/..%5c..%5coutside%5csecret.txt", status: 404, body: "*"},
		{name: "backslash", target: "/sub\\page.html", status: 404, body: "*"},
		{name: "nul", target: "/hello.txt%00.html", status: 404, body: "*"},
		{name: "dot segment", target: "/./hello.txt", status: 404, body: "*"},
		{name: "dotdot semicolon", target: "/..;/outside/secret.txt", status: 404, body: "*"},
		{name: "double encoded dotdot is a name", target: "/%252e%252e/x.txt", status: 200, body: "literal percent"},
		{name: "three dots in a name", target: "/dots.../x.txt", status: 200, body: "three dots"},
		{name: "colon in a name", target: "/a:b.txt", status: 200, body: "colon"},

		// Symlinks.
		{name: "symlink inside", target: "/link-in.txt", status: 200, body: "hello, world\n"},
		{name: "symlinked dir inside", target: "/link-dir/target.txt", status: 200, body: "via link"},
		{name: "absolute symlink", target: "/link-abs-in.txt", status: 404, body: "*"},
		{name: "symlink out", target: "/link-out.txt", status: 404, body: "*"},
		{name: "absolute symlink out", target: "/link-abs-out", status: 404, body: "*"},
		{name: "symlinked dir out", target: "/link-out-dir/secret.txt", status: 404, body: "*"},
		{name: "symlinked dir out index", target: "/link-out-dir/", status: 404, body: "*"},
		{name: "symlink loop", target: "/link-loop", status: 404, body: "*"},
		{name: "unreadable", target: "/noread.txt", status: forbiddenUnlessRoot, body: "*"},

		// ETag and conditionals.
		{name: "etag", target: "/ranges.txt", status: 200, body: "*", wantHdr: map[string]string{"Etag": tag}},
		{name: "if-none-match", target: "/ranges.txt", hdr: map[string]string{"If-None-Match": tag}, status: 304, body: "", wantHdr: map[string]string{"Etag": tag}},
		{name: "if-none-match list", target: "/ranges.txt", hdr: map[string]string{"If-None-Match": `"x", ` + tag}, status: 304, body: ""},
		{name: "if-none-match star", target: "/ranges.txt", hdr: map[string]string{"If-None-Match": "*"}, status: 304, body: ""},
		{name: "if-none-match other", target: "/ranges.txt", hdr: map[string]string{"If-None-Match": `"other"`}, status: 200, body: "*"},
		{name: "if-none-match head", method: "HEAD", target: "/ranges.txt", hdr: map[string]string{"If-None-Match": tag}, status: 304, body: ""},
		{name: "if-modified-since same", target: "/ranges.txt", hdr: map[string]string{"If-Modified-Since": lastMod}, status: 304, body: ""},
		{name: "if-modified-since later", target: "/ranges.txt", hdr: map[string]string{"If-Modified-Since": after}, status: 304, body: ""},
		{name: "if-modified-since earlier", target: "/ranges.txt", hdr: map[string]string{"If-Modified-Since": before}, status: 200, body: "*"},
		{name: "if-none-match wins over if-modified-since", target: "/ranges.txt", hdr: map[string]string{"If-None-Match": `"other"`, "If-Modified-Since": after}, status: 200, body: "*"},
		{name: "if-match", target: "/ranges.txt", hdr: map[string]string{"If-Match": tag}, status: 200, body: "*"},
		{name: "if-match other", target: "/ranges.txt", hdr: map[string]string{"If-Match": `"other"`}, status: 412, body: "*"},
		{name: "if-match weak never matches", target: "/ranges.txt", hdr: map[string]string{"If-Match": "W/" + tag}, status: 412, body: "*"},
		{name: "if-unmodified-since later", target: "/ranges.txt", hdr: map[string]string{"If-Unmodified-Since": after}, status: 200, body: "*"},
		{name: "if-unmodified-since earlier", target: "/ranges.txt", hdr: map[string]string{"If-Unmodified-Since": before}, status: 412, body: "*"},

		// Ranges.
		{name: "range", target: "/ranges.txt", hdr: map[string]string{"Range": "bytes=0-9"}, status: 206, body: "0123456789",
			wantHdr: map[string]string{"Content-Range": "bytes 0-9/36", "Content-Length": "10", "Content-Type": "text/plain; charset=utf-8"}},
		{name: "range suffix", target: "/ranges.txt", hdr: map[string]string{"Range": "bytes=-5"}, status: 206, body: "vwxyz", wantHdr: map[string]string{"Content-Range": "bytes 31-35/36"}},
		{name: "range open", target: "/ranges.txt", hdr: map[string]string{"Range": "bytes=30-"}, status: 206, body: "uvwxyz"},
		{name: "range head", method: "HEAD", target: "/ranges.txt", hdr: map[string]string{"Range": "bytes=0-9"}, status: 206, body: "", wantHdr: map[string]string{"Content-Length": "10"}},
		{name: "range unsatisfiable", target: "/ranges.txt", hdr: map[string]string{"Range": "bytes=100-200"}, status: 416, body: "*", wantHdr: map[string]string{"Content-Range": "bytes */36"}},
		{name: "if-range match", target: "/ranges.txt", hdr: map[string]string{"Range": "bytes=0-1", "If-Range": tag}, status: 206, body: "01"},
		{name: "if-range mismatch", target: "/ranges.txt", hdr: map[string]string{"Range": "bytes=0-1", "If-Range": `"old"`}, status: 200, body: "0123456789abcdefghijklmnopqrstuvwxyz"},
		{name: "range with if-none-match", target: "/ranges.txt", hdr: map[string]string{"Range": "bytes=0-1", "If-None-Match": tag}, status: 304, body: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			w := request(t, h, method, tt.target, tt.hdr)
			if w.Code != tt.status {
				t.Fatalf("%s %s: status %d, want %d (error %q)", method, tt.target, w.Code, tt.status, w.Header().Get("X-Test-Error"))
			}
			for k, v := range tt.wantHdr {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if tt.body != "*" && w.Body.String() != tt.body {
				t.Errorf("body %q, want %q", w.Body.String(), tt.body)
			}
			if strings.Contains(w.Body.String(), "outside") || strings.Contains(w.Body.String(), "top secret") {
				t.Errorf("leaked: %q", w.Body.String())
			}
			if tt.errHas != "" && !strings.Contains(w.Header().Get("X-Test-Error"), tt.errHas) {
				t.Errorf("error %q, want it to mention %q", w.Header().Get("X-Test-Error"), tt.errHas)
			}
		})
	}
}

func TestETagFormat(t *testing.T) {
	root, _ := newTree(t)
	h := adapt(newModule(t, root, "").Wrap(notFound))
	a := request(t, h, "GET", "/hello.txt", nil).Header().Get("Etag")
	b := request(t, h, "GET", "/ranges.txt", nil).Header().Get("Etag")
	if !regexp.MustCompile(`^"[0-9a-f]+-[0-9a-f]+"$`).MatchString(a) {
		t.Errorf("ETag %q is not a strong quoted tag", a)
	}
	if a == b {
		t.Errorf("two files share ETag %q", a)
	}
	p := filepath.Join(root, "hello.txt")
	if err := os.Chtimes(p, modTime, modTime.Add(time.Nanosecond)); err != nil {
		t.Fatal(err)
	}
	if c := request(t, h, "GET", "/hello.txt", nil).Header().Get("Etag"); c == a {
		t.Errorf("ETag %q did not change with the modification time", c)
	}
}

func TestMultiRange(t *testing.T) {
	root, _ := newTree(t)
	h := adapt(newModule(t, root, "").Wrap(notFound))
	w := request(t, h, "GET", "/ranges.txt", map[string]string{"Range": "bytes=0-1,10-12,-2"})
	if w.Code != http.StatusPartialContent {
		t.Fatalf("status %d, want 206", w.Code)
	}
	mt, params, err := mime.ParseMediaType(w.Header().Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" {
		t.Fatalf("Content-Type %q, want multipart/byteranges", w.Header().Get("Content-Type"))
	}
	mr := multipart.NewReader(w.Body, params["boundary"])
	want := []struct{ rng, body string }{{"bytes 0-1/36", "01"}, {"bytes 10-12/36", "abc"}, {"bytes 34-35/36", "yz"}}
	for i, wp := range want {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		body, _ := io.ReadAll(p)
		if got := p.Header.Get("Content-Range"); got != wp.rng {
			t.Errorf("part %d: Content-Range %q, want %q", i, got, wp.rng)
		}
		if got := p.Header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
			t.Errorf("part %d: Content-Type %q", i, got)
		}
		if string(body) != wp.body {
			t.Errorf("part %d: body %q, want %q", i, body, wp.body)
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Errorf("extra part: %v", err)
	}
}

func TestOptions(t *testing.T) {
	root, _ := newTree(t)
	tests := []struct {
		name   string
		block  string
		target string
		status int
		body   string
		hdr    map[string]string
	}{
		{"index order", `static { index = ["missing.html", "index.htm", "index.html"] }`, "/other/", 200, "<h1>htm</h1>\n", nil},
		{"index falls through", `static { index = ["index.htm", "index.html"] }`, "/sub/", 200, "<h1>sub</h1>\n", nil},
		{"empty index", `static { index = [] }`, "/sub/", 403, "*", nil},
		{"empty index browse", `static {
			index  = []
			browse = true
		}`, "/sub/", 200, "*", map[string]string{"Content-Type": "text/html; charset=utf-8"}},
		{"dotfiles on", `static { dotfiles = true }`, "/.secret", 200, "top secret", nil},
		{"dotfiles on dir", `static { dotfiles = true }`, "/.git/config", 200, "[core]", nil},
		{"dotfiles on still no traversal", `static { dotfiles = true }`, "/../outside/secret.txt", 404, "*", nil},
		{"cache control", `static { cache_control = "max-age=60" }`, "/hello.txt", 200, "*", map[string]string{"Cache-Control": "max-age=60"}},
		{"cache control on 304", `static { cache_control = "max-age=60" }`, "/hello.txt?304", 304, "", map[string]string{"Cache-Control": "max-age=60"}},
		{"index symlink out is skipped", `static {
			index  = ["out", "a.txt"]
			browse = true
		}`, "/browse/", 200, "aaaa", nil},
		{"no cache control by default", `static {}`, "/hello.txt", 200, "*", map[string]string{"Cache-Control": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := adapt(newModule(t, root, tt.block).Wrap(notFound))
			var hdr map[string]string
			if strings.HasSuffix(tt.target, "?304") {
				hdr = map[string]string{"If-Modified-Since": modTime.Format(http.TimeFormat)}
			}
			w := request(t, h, "GET", tt.target, hdr)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d (%s)", w.Code, tt.status, w.Header().Get("X-Test-Error"))
			}
			if tt.body != "*" && w.Body.String() != tt.body {
				t.Errorf("body %q, want %q", w.Body.String(), tt.body)
			}
			for k, v := range tt.hdr {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestSendfilePath(t *testing.T) {
	root, _ := newTree(t)
	h := adapt(newModule(t, root, "").Wrap(notFound))
	for _, tt := range []struct {
		name   string
		rng    string
		size   int
		status int
	}{
		{"whole file", "", bigSize, 200},
		{"one range", "bytes=1000-1999999", 1999000, 206},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/big.bin", nil)
			if tt.rng != "" {
				r.Header.Set("Range", tt.rng)
			}
			w := &readerFromRecorder{ResponseRecorder: httptest.NewRecorder()}
			h.ServeHTTP(w, r)
			if w.Code != tt.status || w.Body.Len() != tt.size {
				t.Fatalf("status %d, %d bytes; want %d, %d", w.Code, w.Body.Len(), tt.status, tt.size)
			}
			if !w.gotFile {
				t.Error("the file did not reach the writer's ReadFrom as an *os.File: no sendfile")
			}
		})
	}
}

// TestRealServer runs the module behind real HTTP/1.1 and HTTP/2 servers.
func TestRealServer(t *testing.T) {
	root, _ := newTree(t)
	h := adapt(newModule(t, root, `static { browse = true }`).Wrap(notFound))
	h1 := httptest.NewServer(h)
	t.Cleanup(h1.Close)
	h2 := httptest.NewUnstartedServer(h)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(h2.Close)

	for _, srv := range []struct {
		name  string
		s     *httptest.Server
		proto string
	}{{"h1", h1, "HTTP/1.1"}, {"h2", h2, "HTTP/2.0"}} {
		c := srv.s.Client()
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		tests := []struct {
			name, path, rng string
			status          int
			size            int
			loc             string
		}{
			{"small file", "/hello.txt", "", 200, 13, ""},
			{"big file", "/big.bin", "", 200, bigSize, ""},
			{"range", "/big.bin", "bytes=16-31", 206, 16, ""},
			{"multi range", "/ranges.txt", "bytes=0-0,2-2", 206, -1, ""},
			{"listing", "/browse/", "", 200, -1, ""},
			{"slash redirect", "/sub", "", 301, -1, "/sub/"},
			{"missing", "/nope", "", 404, -1, ""},
		}
		for _, tt := range tests {
			t.Run(srv.name+"/"+tt.name, func(t *testing.T) {
				req, _ := http.NewRequest("GET", srv.s.URL+tt.path, nil)
				if tt.rng != "" {
					req.Header.Set("Range", tt.rng)
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				if resp.Proto != srv.proto {
					t.Errorf("proto %s, want %s", resp.Proto, srv.proto)
				}
				if resp.StatusCode != tt.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
				}
				if tt.size >= 0 && len(body) != tt.size {
					t.Errorf("%d bytes, want %d", len(body), tt.size)
				}
				if tt.loc != "" && resp.Header.Get("Location") != tt.loc {
					t.Errorf("Location %q, want %q", resp.Header.Get("Location"), tt.loc)
				}
			})
		}
	}
}

// TestRawTraversal sends request lines byte for byte, as an attacker
// would, and checks that no file outside the root comes back.
func TestRawTraversal(t *testing.T) {
	root, _ := newTree(t)
	h := adapt(newModule(t, root, `static {
		browse   = true
		dotfiles = true
	}`).Wrap(notFound))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()

	targets := []string{
		"/../outside/secret.txt",
		"/../../../../../../etc/passwd",
		"/sub/../../outside/secret.txt",
		"/%2e%2e/outside/secret.txt",
		"/%2E%2E/%2e%2E/outside/secret.txt",
		"/.%2e/outside/secret.txt",
		"/%2e%2e%2foutside%2fsecret.txt",
		"/..%2Foutside%2Fsecret.txt",
		"/..%5coutside%5csecret.txt",
		"/..\\outside\\secret.txt",
		"/sub\\..\\..\\outside\\secret.txt",
		"/%00/../outside/secret.txt",
		"/hello.txt%00",
		"/..;/outside/secret.txt",
		"//../outside/secret.txt",
		"/./../outside/secret.txt",
		"/link-out.txt",
		"/link-abs-out",
		"/link-out-dir/secret.txt",
		"/link-out-dir/",
		"/link-out-dir/dir/f.txt",
		"/%252e%252e/outside/secret.txt",
		"/%c0%ae%c0%ae/outside/secret.txt",
		"http://x/../outside/secret.txt",
	}
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 404 && resp.StatusCode != 400 {
				t.Errorf("status %d, want 404 or 400", resp.StatusCode)
			}
			if strings.Contains(string(body), "outside") || strings.Contains(string(body), "root:") {
				t.Errorf("leaked: %q", body)
			}
		})
	}
}
