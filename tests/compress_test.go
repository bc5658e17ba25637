package tests

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// compressClient leaves Content-Encoding alone: the tests decode bodies
// themselves.
var compressClient = &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 20 * time.Second}

// compressFetch sends method path with the given header pairs and returns the
// response with its raw body.
func compressFetch(t *testing.T, srv *Server, method, path string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := compressClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, path, err)
	}
	return resp, b
}

// compressDecoder returns a reader of r decoded from ce.
func compressDecoder(t *testing.T, ce string, r io.Reader) io.Reader {
	t.Helper()
	switch ce {
	case "", "identity":
		return r
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		return zr
	case "br":
		return brotli.NewReader(r)
	case "zstd":
		zr, err := zstd.NewReader(r)
		if err != nil {
			t.Fatalf("zstd: %v", err)
		}
		t.Cleanup(zr.Close)
		return zr
	}
	t.Fatalf("unknown Content-Encoding %q", ce)
	return nil
}

func compressDecodeAll(t *testing.T, ce string, b []byte) string {
	t.Helper()
	out, err := io.ReadAll(compressDecoder(t, ce, bytes.NewReader(b)))
	if err != nil {
		t.Fatalf("decoding %s: %v", ce, err)
	}
	return string(out)
}

// compressPythonGunzip decodes b with Python's gzip module.
func compressPythonGunzip(t *testing.T, b []byte) string {
	t.Helper()
	py := wsgiPython(t)
	cmd := exec.Command(py, "-c", "import gzip,sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python gzip.decompress: %v", err)
	}
	return string(out)
}

func TestCompress(t *testing.T) {
	py := wsgiPython(t)
	h := NewHarness(t)
	page := strings.Repeat("<p>a page worth compressing</p>\n", 200)
	large := strings.Repeat("<li>a large file, streamed through the encoder</li>\n", 40000) // 2 MiB
	h.Write("htdocs/page.html", page, 0o644)
	h.Write("htdocs/large.html", large, 0o644)
	h.Write("htdocs/small.txt", "small\n", 0o644)
	h.Write("htdocs/pic.png", page, 0o644)
	h.Write("htdocs/pre.css", strings.Repeat("body { color: red }\n", 100), 0o644)
	h.Write("htdocs/pre.css.gz", "the gzip sibling, sent as it is", 0o644)
	h.Write("htdocs/pre.css.br", "a stale br sibling", 0o644)
	h.Write("htdocs/pre.css.zst", "a fresh zstd sibling", 0o644)
	old := time.Now().Add(-time.Hour)
	for _, f := range []string{"pre.css.br", "page.html", "large.html"} {
		if err := os.Chtimes(filepath.Join(h.Dir, "htdocs", f), old, old); err != nil {
			t.Fatal(err)
		}
	}
	h.Write("cgi-bin/page.cgi", "#!/bin/sh\nprintf 'Content-Type: text/html\\r\\n\\r\\n'\ni=0\nwhile [ $i -lt 200 ]; do echo '<p>from CGI</p>'; i=$((i+1)); done\n", 0o755)
	h.Write("wsgi/app.py", `
def application(environ, start_response):
    body = b"<p>from WSGI</p>\n" * 200
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
`, 0o644)
	proxyBody := strings.Repeat(`{"from": "the upstream"}`+"\n", 200)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/gzipped" {
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			io.WriteString(zw, proxyBody)
			zw.Close()
			return
		}
		io.WriteString(w, proxyBody)
	}))
	t.Cleanup(upstream.Close)
	srv := h.Start(fmt.Sprintf(`server {
  listen = ["127.0.0.1:0"]
}
log { access = "off" }
vhost "c.test" {
  default       = true
  document_root = "htdocs"
  compress {}
  script_alias "/cgi-bin/" { path = "cgi-bin/" }
  wsgi_script_alias "/app" {
    script = "wsgi/app.py"
    python = %q
  }
  reverse_proxy "/api/" { to = [%q] }
}`, py, upstream.URL))

	cgiBody := strings.Repeat("<p>from CGI</p>\n", 200)
	wsgiBody := strings.Repeat("<p>from WSGI</p>\n", 200)
	t.Run("round trip", func(t *testing.T) {
		for _, ce := range []string{"gzip", "br", "zstd"} {
			for _, tc := range []struct{ path, want string }{
				{"/page.html", page}, {"/large.html", large}, {"/cgi-bin/page.cgi", cgiBody}, {"/app", wsgiBody},
				{"/api/plain", proxyBody},
			} {
				resp, b := compressFetch(t, srv, "GET", tc.path, "Accept-Encoding", ce)
				if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != ce {
					t.Errorf("%s %s: status %d, Content-Encoding %q", ce, tc.path, resp.StatusCode, resp.Header.Get("Content-Encoding"))
					continue
				}
				if resp.Header.Get("Vary") != "Accept-Encoding" {
					t.Errorf("%s %s: Vary %q", ce, tc.path, resp.Header.Values("Vary"))
				}
				if len(b) >= len(tc.want)/2 {
					t.Errorf("%s %s: %d bytes on the wire for %d", ce, tc.path, len(b), len(tc.want))
				}
				if got := compressDecodeAll(t, ce, b); got != tc.want {
					t.Errorf("%s %s: decoded body differs (%d bytes, want %d)", ce, tc.path, len(got), len(tc.want))
				}
				if ce == "gzip" && tc.path != "/large.html" {
					if got := compressPythonGunzip(t, b); got != tc.want {
						t.Errorf("%s: Python decodes %d bytes, want %d", tc.path, len(got), len(tc.want))
					}
				}
			}
		}
	})

	t.Run("encoded upstream", func(t *testing.T) {
		resp, b := compressFetch(t, srv, "GET", "/api/gzipped", "Accept-Encoding", "zstd, br, gzip")
		if resp.Header.Get("Content-Encoding") != "gzip" || compressDecodeAll(t, "gzip", b) != proxyBody {
			t.Errorf("Content-Encoding %q: the upstream's gzip was not passed on as it is", resp.Header.Get("Content-Encoding"))
		}
	})

	t.Run("q-values and server order", func(t *testing.T) {
		for _, tc := range []struct{ accept, want string }{
			{"gzip, deflate, br, zstd", "zstd"},
			{"gzip, br", "br"},
			{"gzip;q=1, br;q=0.5", "gzip"},
			{"zstd;q=0, br;q=0, gzip", "gzip"},
			{"*", "zstd"},
			{"*;q=0, identity", ""},
			{"deflate", ""},
			{"", ""},
		} {
			resp, b := compressFetch(t, srv, "GET", "/cgi-bin/page.cgi", "Accept-Encoding", tc.accept)
			if got := resp.Header.Get("Content-Encoding"); got != tc.want {
				t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", tc.accept, got, tc.want)
			}
			if compressDecodeAll(t, resp.Header.Get("Content-Encoding"), b) != cgiBody {
				t.Errorf("Accept-Encoding %q: body differs", tc.accept)
			}
			if resp.Header.Get("Vary") != "Accept-Encoding" {
				t.Errorf("Accept-Encoding %q: Vary %q", tc.accept, resp.Header.Values("Vary"))
			}
		}
	})

	t.Run("left alone", func(t *testing.T) {
		for _, tc := range []struct {
			name, method, path string
			hdr                []string
			status             int
			vary               bool
			body               string
		}{
			{"range", "GET", "/page.html", []string{"Range", "bytes=0-9"}, 206, true, page[:10]},
			{"head", "HEAD", "/page.html", nil, 200, true, ""},
			{"small", "GET", "/small.txt", nil, 200, true, "small\n"},
			{"unlisted type", "GET", "/pic.png", nil, 200, false, page},
			{"error page", "GET", "/missing.html", nil, 404, true, ""},
		} {
			resp, b := compressFetch(t, srv, tc.method, tc.path, append([]string{"Accept-Encoding", "gzip, br, zstd"}, tc.hdr...)...)
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Encoding") != "" {
				t.Errorf("%s: status %d, Content-Encoding %q", tc.name, resp.StatusCode, resp.Header.Get("Content-Encoding"))
			}
			if vary := resp.Header.Get("Vary") == "Accept-Encoding"; vary != tc.vary {
				t.Errorf("%s: Vary %q, want Accept-Encoding: %v", tc.name, resp.Header.Values("Vary"), tc.vary)
			}
			if tc.body != "" && string(b) != tc.body {
				t.Errorf("%s: body %.30q, want %.30q", tc.name, b, tc.body)
			}
			if tc.method == "HEAD" && resp.ContentLength != int64(len(page)) {
				t.Errorf("HEAD: Content-Length %d, want %d", resp.ContentLength, len(page))
			}
		}
	})

	t.Run("precompressed", func(t *testing.T) {
		resp, b := compressFetch(t, srv, "GET", "/pre.css", "Accept-Encoding", "gzip")
		if resp.Header.Get("Content-Encoding") != "gzip" || string(b) != "the gzip sibling, sent as it is" {
			t.Errorf("gzip: Content-Encoding %q, body %q", resp.Header.Get("Content-Encoding"), b)
		}
		if resp.Header.Get("Content-Type") != "text/css; charset=utf-8" || resp.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("gzip: Content-Type %q, Vary %q", resp.Header.Get("Content-Type"), resp.Header.Get("Vary"))
		}
		resp, b = compressFetch(t, srv, "GET", "/pre.css", "Accept-Encoding", "zstd, gzip")
		if resp.Header.Get("Content-Encoding") != "zstd" || string(b) != "a fresh zstd sibling" {
			t.Errorf("zstd: Content-Encoding %q, body %q", resp.Header.Get("Content-Encoding"), b)
		}
		et := resp.Header.Get("Etag")
		resp, _ = compressFetch(t, srv, "GET", "/pre.css", "Accept-Encoding", "zstd, gzip", "If-None-Match", et)
		if resp.StatusCode != 304 || resp.Header.Get("Etag") != et {
			t.Errorf("zstd sibling, If-None-Match %s: status %d, ETag %s", et, resp.StatusCode, resp.Header.Get("Etag"))
		}
		// The br sibling is older than the file: compressed afresh.
		resp, b = compressFetch(t, srv, "GET", "/pre.css", "Accept-Encoding", "br")
		if resp.Header.Get("Content-Encoding") != "br" || compressDecodeAll(t, "br", b) != strings.Repeat("body { color: red }\n", 100) {
			t.Errorf("stale br: Content-Encoding %q, body %.30q", resp.Header.Get("Content-Encoding"), b)
		}
	})

	t.Run("etags", func(t *testing.T) {
		for _, path := range []string{"/page.html", "/large.html"} {
			seen := map[string]string{}
			for _, ce := range []string{"", "gzip", "br", "zstd"} {
				resp, _ := compressFetch(t, srv, "GET", path, "Accept-Encoding", ce)
				et := resp.Header.Get("Etag")
				if et == "" {
					t.Fatalf("%s %q: no ETag", path, ce)
				}
				if other, dup := seen[et]; dup {
					t.Errorf("%s: %q and %q share the ETag %s", path, ce, other, et)
				}
				seen[et] = ce
				resp, b := compressFetch(t, srv, "GET", path, "Accept-Encoding", ce, "If-None-Match", et)
				if resp.StatusCode != 304 || len(b) != 0 {
					t.Errorf("%s %q: If-None-Match %s: status %d, want 304", path, ce, et, resp.StatusCode)
				}
				if resp.Header.Get("Etag") != et {
					t.Errorf("%s %q: 304 with ETag %s, want %s", path, ce, resp.Header.Get("Etag"), et)
				}
			}
		}
	})
}

// TestCompressFlush checks that a chunk a CGI script writes and the
// gateway flushes reaches the client, encoded, while the script waits,
// over HTTP/1.1 and HTTP/2 (TLS, chosen by ALPN), and that a static page
// decodes over both.
func TestCompressFlush(t *testing.T) {
	h := NewHarness(t)
	roots := h2WriteCert(t, h)
	fifo := filepath.Join(h.Dir, "go-on")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	page := strings.Repeat("<p>over TLS</p>\n", 300)
	h.Write("htdocs/page.html", page, 0o644)
	h.Write("cgi-bin/events.cgi", fmt.Sprintf(`#!/bin/sh
printf 'Content-Type: text/event-stream\r\n\r\n'
printf 'data: one\n\n'
read line < %q
printf 'data: two\n\n'
`, fifo), 0o755)
	srv := h.Start(`server {
  listen = ["127.0.0.1:0"]
}
log { access = "off" }
vhost "localhost" {
  default       = true
  document_root = "htdocs"
  tls {
    cert = "cert.pem"
    key  = "key.pem"
  }
  compress {}
  script_alias "/cgi-bin/" { path = "cgi-bin/" }
}`)
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0"} {
		var protos http.Protocols
		if proto == "HTTP/2.0" {
			protos.SetHTTP2(true)
		} else {
			protos.SetHTTP1(true)
		}
		tr := &http.Transport{Protocols: &protos, TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"},
			DisableCompression: true}
		t.Cleanup(tr.CloseIdleConnections)
		client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
		for _, ce := range []string{"gzip", "br", "zstd"} {
			t.Run(proto+"/"+ce, func(t *testing.T) {
				req, _ := http.NewRequest("GET", "https://"+srv.Addr+"/page.html", nil)
				req.Header.Set("Accept-Encoding", ce)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.Proto != proto || resp.Header.Get("Content-Encoding") != ce || compressDecodeAll(t, ce, b) != page {
					t.Fatalf("page: %s, Content-Encoding %q, %d bytes, %v", resp.Proto, resp.Header.Get("Content-Encoding"), len(b), err)
				}

				req, _ = http.NewRequest("GET", "https://"+srv.Addr+"/cgi-bin/events.cgi", nil)
				req.Header.Set("Accept-Encoding", ce)
				resp, err = client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.Header.Get("Content-Encoding") != ce || resp.Proto != proto {
					t.Fatalf("%s, Content-Encoding %q", resp.Proto, resp.Header.Get("Content-Encoding"))
				}
				type line struct {
					s   string
					err error
				}
				got := make(chan line, 2)
				r := bufio.NewReader(compressDecoder(t, ce, resp.Body))
				go func() {
					s, err := r.ReadString('\n')
					got <- line{s, err}
					b, err := io.ReadAll(r)
					got <- line{string(b), err}
				}()
				select {
				case l := <-got:
					if l.err != nil || l.s != "data: one\n" {
						t.Fatalf("first line %q, %v", l.s, l.err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("the flushed chunk did not arrive while the script waits")
				}
				w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				io.WriteString(w, "go\n")
				w.Close()
				select {
				case l := <-got:
					if l.err != nil || l.s != "\ndata: two\n\n" {
						t.Fatalf("rest %q, %v", l.s, l.err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("the response did not end after the script went on")
				}
			})
		}
	}
}
