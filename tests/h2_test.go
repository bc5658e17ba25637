package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"httpd/internal/testcert"
)

// h2CGI answers with what the CGI module told it and the sha256 of the
// body it read on stdin.
const h2CGI = `#!/bin/sh
sum=$(sha256sum | cut -d' ' -f1)
printf 'Content-Type: text/plain\r\n\r\n'
printf 'method=%s\nprotocol=%s\nhttps=%s\nsha256=%s\n' "$REQUEST_METHOD" "$SERVER_PROTOCOL" "$HTTPS" "$sum"
`

// h2SlowCGI writes a line, sleeps, and writes another: a request that
// stays in flight for a while.
const h2SlowCGI = `#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
echo begin
sleep 1
echo end
`

// h2StreamApp yields three chunks with ?delay= seconds between them; each
// says when (Unix seconds) it was produced.
const h2StreamApp = `import time
from urllib.parse import parse_qs


def application(environ, start_response):
    q = parse_qs(environ.get('QUERY_STRING', ''))
    delay = float(q.get('delay', ['0.5'])[0])
    start_response('200 OK', [('Content-Type', 'text/plain')])

    def chunks():
        for i in range(3):
            if i:
                time.sleep(delay)
            yield ('chunk%d %.6f\n' % (i, time.time())).encode()
    return chunks()
`

// h2HashApp reads wsgi.input in pieces and answers with its sha256 and
// length.
const h2HashApp = `import hashlib
import json


def application(environ, start_response):
    inp = environ['wsgi.input']
    h = hashlib.sha256()
    n = 0
    while True:
        b = inp.read(65536)
        if not b:
            break
        h.update(b)
        n += len(b)
    body = json.dumps({'sha256': h.hexdigest(), 'length': n,
                       'protocol': environ.get('SERVER_PROTOCOL')}).encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
`

// h2Site is a TLS vhost served by one httpd, with static files, CGI
// scripts and two WSGI apps.
type h2Site struct {
	h      *Harness
	srv    *Server
	roots  *x509.CertPool
	small  []byte // htdocs/small.txt, 1 KiB of text
	large  []byte // htdocs/large.bin, 3 MiB of random bytes
	engine string
}

// newH2Site starts httpd with server.http2_engine = engine.
func newH2Site(t *testing.T, engine string) *h2Site {
	t.Helper()
	py := wsgiPython(t)
	h := NewHarness(t)
	s := &h2Site{h: h, engine: engine}
	s.roots = h2WriteCert(t, h)

	line := []byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\n")
	s.small = bytes.Repeat(line, 1024/len(line))
	s.large = make([]byte, 3<<20)
	mrand.New(mrand.NewSource(1)).Read(s.large)
	h.Write("htdocs/small.txt", string(s.small), 0o644)
	h.Write("htdocs/large.bin", string(s.large), 0o644)
	h.Write("cgi-bin/info.sh", h2CGI, 0o755)
	h.Write("cgi-bin/slow.sh", h2SlowCGI, 0o755)
	h.Write("wsgi/stream.py", h2StreamApp, 0o644)
	h.Write("wsgi/hash.py", h2HashApp, 0o644)

	s.srv = h.Start(fmt.Sprintf(`
server {
  listen           = ["127.0.0.1:0"]
  shutdown_timeout = "10s"
  http2_engine     = %[1]q
}
log {
  access = "off"
  level  = "debug"
}
vhost "localhost" {
  default       = true
  document_root = "htdocs"
  tls {
    cert = "cert.pem"
    key  = "key.pem"
  }
  script_alias "/cgi-bin/" {
    path = "cgi-bin"
  }
  wsgi_script_alias "/stream" {
    script    = "wsgi/stream.py"
    python    = %[2]q
    processes = 2
    threads   = 32
  }
  wsgi_script_alias "/hash" {
    script  = "wsgi/hash.py"
    python  = %[2]q
    threads = 32
  }
}
`, engine, py))
	return s
}

// h2WriteCert writes cert.pem and key.pem, a self-signed certificate for
// localhost and 127.0.0.1, into the root and returns a pool trusting it.
func h2WriteCert(t *testing.T, h *Harness) *x509.CertPool {
	t.Helper()
	c := testcert.New(t)
	h.Write("cert.pem", string(c.CertPEM), 0o644)
	h.Write("key.pem", string(c.KeyPEM), 0o600)
	return c.Pool
}

// url is https://localhost:PORT + path; the client dials the server's
// address whatever the host.
func (s *h2Site) url(path string) string {
	_, port, _ := net.SplitHostPort(s.srv.Addr)
	return "https://localhost:" + port + path
}

// client is an HTTP/2-only client trusting the site's certificate. It
// keeps to one connection while the server allows enough streams, and
// dials counts the connections it opened. A window above 0 is the
// client's flow-control window per stream, which makes the server wait
// for WINDOW_UPDATE frames as the body is read.
func (s *h2Site) client(t *testing.T, window int) (c *http.Client, dials *atomic.Int32) {
	t.Helper()
	dials = new(atomic.Int32)
	var protos http.Protocols
	protos.SetHTTP2(true)
	tr := &http.Transport{
		Protocols:       &protos,
		TLSClientConfig: &tls.Config{RootCAs: s.roots},
		HTTP2: &http.HTTP2Config{
			StrictMaxConcurrentRequests: true,
			MaxReceiveBufferPerStream:   window,
		},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			dials.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, "tcp", s.srv.Addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, dials
}

// do sends a request and reads the whole answer; it fails the test on a
// transport error and reports a response that is not HTTP/2.
func (s *h2Site) do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	if resp.Proto != "HTTP/2.0" {
		t.Errorf("%s %s: proto %s, want HTTP/2.0", req.Method, req.URL, resp.Proto)
	}
	return resp, b
}

func (s *h2Site) request(t *testing.T, method, path string, body io.Reader, header ...string) *http.Request {
	t.Helper()
	req := mustNewRequest(t, method, s.url(path), body)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

func h2Sum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// h2Hash is the hash app's answer.
type h2Hash struct {
	SHA256   string
	Length   int
	Protocol string
}

// h2StreamLines reads the stream app's three chunks, noting when each
// arrived and when the app says it produced it.
func h2StreamLines(r io.Reader) (arrived, produced []time.Time, err error) {
	br := bufio.NewReader(r)
	for i := 0; i < 3; i++ {
		line, err := br.ReadString('\n')
		arrived = append(arrived, time.Now())
		if err != nil {
			return arrived, produced, fmt.Errorf("chunk %d: %q: %w", i, line, err)
		}
		var n int
		var sec float64
		if _, err := fmt.Sscanf(line, "chunk%d %f\n", &n, &sec); err != nil || n != i {
			return arrived, produced, fmt.Errorf("chunk %d: %q", i, line)
		}
		produced = append(produced, time.Unix(0, int64(sec*1e9)))
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) > 0 {
		return arrived, produced, fmt.Errorf("after the last chunk: %q, %v", rest, err)
	}
	return arrived, produced, nil
}

// TestH2EndToEnd runs static files, CGI and WSGI over HTTP/2 through the
// real binary with each HTTP/2 engine; both must give the same results.
func TestH2EndToEnd(t *testing.T) {
	for _, engine := range []string{"native", "net/http"} {
		t.Run(strings.ReplaceAll(engine, "/", "-"), func(t *testing.T) {
			s := newH2Site(t, engine)
			defer stopAndCheckWorkers(t, s.srv, s.h.Dir)
			s.runChecks(t)
			t.Run("sighup-under-load", s.testSighup)
			t.Run("sigterm-drains", func(t *testing.T) { h2TestSigterm(t, engine) })
		})
	}
}

func (s *h2Site) runChecks(t *testing.T) {
	c, _ := s.client(t, 0)
	resp, _ := s.do(t, c, s.request(t, "GET", "/small.txt", nil))
	etag := resp.Header.Get("ETag")

	for _, tc := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"static-small", func(t *testing.T) {
			resp, body := s.do(t, c, s.request(t, "GET", "/small.txt", nil))
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, s.small) {
				t.Errorf("status %d, %d bytes (want 200, the file's %d)", resp.StatusCode, len(body), len(s.small))
			}
			for k, want := range map[string]string{
				"Content-Length": strconv.Itoa(len(s.small)),
				"Content-Type":   "text/plain; charset=utf-8",
			} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			if et := resp.Header.Get("ETag"); et == "" || strings.HasPrefix(et, "W/") || et != etag {
				t.Errorf("ETag %q: want a strong one, the same each time (first %q)", et, etag)
			}
			if resp.Header.Get("Last-Modified") == "" {
				t.Error("no Last-Modified")
			}
		}},
		{"static-if-none-match", func(t *testing.T) {
			resp, body := s.do(t, c, s.request(t, "GET", "/small.txt", nil, "If-None-Match", etag))
			if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Errorf("If-None-Match %s: status %d, %d body bytes; want 304, none", etag, resp.StatusCode, len(body))
			}
			if got := resp.Header.Get("ETag"); got != etag {
				t.Errorf("304 ETag %q, want %q", got, etag)
			}
		}},
		{"static-range", func(t *testing.T) {
			resp, body := s.do(t, c, s.request(t, "GET", "/small.txt", nil, "Range", "bytes=100-299"))
			if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, s.small[100:300]) {
				t.Errorf("status %d, body %q; want 206, %q", resp.StatusCode, body, s.small[100:300])
			}
			if got, want := resp.Header.Get("Content-Range"), fmt.Sprintf("bytes 100-299/%d", len(s.small)); got != want {
				t.Errorf("Content-Range %q, want %q", got, want)
			}
			if got := resp.Header.Get("Content-Length"); got != "200" {
				t.Errorf("Content-Length %q, want 200", got)
			}
		}},
		{"static-head", func(t *testing.T) {
			resp, body := s.do(t, c, s.request(t, "HEAD", "/small.txt", nil))
			if resp.StatusCode != http.StatusOK || len(body) != 0 {
				t.Errorf("status %d, %d body bytes; want 200, none", resp.StatusCode, len(body))
			}
			if got := resp.Header.Get("Content-Length"); got != strconv.Itoa(len(s.small)) {
				t.Errorf("Content-Length %q, want %d", got, len(s.small))
			}
			if resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || resp.Header.Get("ETag") != etag {
				t.Errorf("headers %v", resp.Header)
			}
		}},
		{"static-large", func(t *testing.T) {
			resp, body := s.do(t, c, s.request(t, "GET", "/large.bin", nil))
			if resp.StatusCode != http.StatusOK || len(body) != len(s.large) || h2Sum(body) != h2Sum(s.large) {
				t.Errorf("status %d, %d bytes, sha256 %s; want 200, %d, %s", resp.StatusCode, len(body), h2Sum(body), len(s.large), h2Sum(s.large))
			}
			if got := resp.Header.Get("Content-Length"); got != strconv.Itoa(len(s.large)) {
				t.Errorf("Content-Length %q", got)
			}
		}},
		{"static-large-16KiB-window", func(t *testing.T) {
			sc, _ := s.client(t, 16<<10)
			resp, body := s.do(t, sc, s.request(t, "GET", "/large.bin", nil))
			if resp.StatusCode != http.StatusOK || h2Sum(body) != h2Sum(s.large) {
				t.Errorf("status %d, %d bytes, sha256 %s; want 200, %d, %s", resp.StatusCode, len(body), h2Sum(body), len(s.large), h2Sum(s.large))
			}
		}},
		{"static-multi-range", func(t *testing.T) {
			resp, body := s.do(t, c, s.request(t, "GET", "/small.txt", nil, "Range", "bytes=0-9,500-509"))
			mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
			if resp.StatusCode != http.StatusPartialContent || err != nil || mt != "multipart/byteranges" {
				t.Fatalf("status %d, Content-Type %q; want 206, multipart/byteranges", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
			for _, r := range [][2]int{{0, 10}, {500, 510}} {
				part, err := mr.NextPart()
				if err != nil {
					t.Fatalf("part %v: %v", r, err)
				}
				b, _ := io.ReadAll(part)
				want := fmt.Sprintf("bytes %d-%d/%d", r[0], r[1]-1, len(s.small))
				if !bytes.Equal(b, s.small[r[0]:r[1]]) || part.Header.Get("Content-Range") != want {
					t.Errorf("part %q, Content-Range %q; want %q, %q", b, part.Header.Get("Content-Range"), s.small[r[0]:r[1]], want)
				}
			}
		}},
		{"static-range-unsatisfiable", func(t *testing.T) {
			resp, _ := s.do(t, c, s.request(t, "GET", "/small.txt", nil, "Range", "bytes=5000-6000"))
			if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
				t.Errorf("status %d, want 416", resp.StatusCode)
			}
		}},
		{"static-if-modified-since", func(t *testing.T) {
			resp, body := s.do(t, c, s.request(t, "GET", "/small.txt", nil, "If-Modified-Since", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)))
			if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Errorf("status %d, %d body bytes; want 304, none", resp.StatusCode, len(body))
			}
		}},
		{"static-post-405", func(t *testing.T) {
			resp, _ := s.do(t, c, s.request(t, "POST", "/small.txt", strings.NewReader("x")))
			if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(resp.Header.Get("Allow"), "GET") {
				t.Errorf("status %d, Allow %q; want 405 with GET allowed", resp.StatusCode, resp.Header.Get("Allow"))
			}
		}},
		{"static-cancel-then-reuse", func(t *testing.T) {
			// A download the client resets (RST_STREAM) midway leaves the
			// connection serving.
			sc, dials := s.client(t, 16<<10)
			resp, err := sc.Do(s.request(t, "GET", "/large.bin", nil))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(resp.Body, make([]byte, 32<<10)); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			for range 3 {
				resp, body := s.do(t, sc, s.request(t, "GET", "/small.txt", nil))
				if resp.StatusCode != http.StatusOK || !bytes.Equal(body, s.small) {
					t.Errorf("after the reset: status %d, %d bytes", resp.StatusCode, len(body))
				}
			}
			if n := dials.Load(); n != 1 {
				t.Errorf("%d connections, want 1", n)
			}
		}},
		{"static-missing", func(t *testing.T) {
			resp, _ := s.do(t, c, s.request(t, "GET", "/no-such-file.txt", nil))
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("status %d, want 404", resp.StatusCode)
			}
		}},
		{"cgi-get", func(t *testing.T) {
			resp, body := s.do(t, c, s.request(t, "GET", "/cgi-bin/info.sh", nil))
			want := "method=GET\nprotocol=HTTP/2.0\nhttps=on\nsha256=" + h2Sum(nil) + "\n"
			if resp.StatusCode != http.StatusOK || string(body) != want {
				t.Errorf("status %d, body %q; want 200, %q", resp.StatusCode, body, want)
			}
		}},
		{"cgi-post-5MiB", func(t *testing.T) {
			data := make([]byte, 5<<20)
			mrand.New(mrand.NewSource(2)).Read(data)
			resp, body := s.do(t, c, s.request(t, "POST", "/cgi-bin/info.sh", bytes.NewReader(data)))
			want := "method=POST\nprotocol=HTTP/2.0\nhttps=on\nsha256=" + h2Sum(data) + "\n"
			if resp.StatusCode != http.StatusOK || string(body) != want {
				t.Errorf("status %d, body %q; want 200, %q", resp.StatusCode, body, want)
			}
		}},
		{"cgi-post-unknown-length", func(t *testing.T) {
			// No content-length on the HEADERS frame: the CGI module
			// buffers the body and then runs the script.
			data := make([]byte, 1<<20+12345)
			mrand.New(mrand.NewSource(5)).Read(data)
			req := s.request(t, "POST", "/cgi-bin/info.sh", io.MultiReader(bytes.NewReader(data)))
			req.ContentLength = -1
			resp, body := s.do(t, c, req)
			want := "method=POST\nprotocol=HTTP/2.0\nhttps=on\nsha256=" + h2Sum(data) + "\n"
			if resp.StatusCode != http.StatusOK || string(body) != want {
				t.Errorf("status %d, body %q; want 200, %q", resp.StatusCode, body, want)
			}
		}},
		{"wsgi-streaming", func(t *testing.T) {
			const delay = time.Second
			resp, err := c.Do(s.request(t, "GET", "/stream/?delay=1", nil))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.Proto != "HTTP/2.0" || resp.StatusCode != http.StatusOK {
				t.Fatalf("%s %d", resp.Proto, resp.StatusCode)
			}
			arrived, produced, err := h2StreamLines(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			// The first chunk is read before the app even makes the last
			// (which it does 2×delay later), and reads are spread out.
			if !arrived[0].Before(produced[2]) {
				t.Errorf("first chunk read at %v, after the last was produced at %v: the response was buffered",
					arrived[0].Format(time.StampMicro), produced[2].Format(time.StampMicro))
			}
			if gap := arrived[2].Sub(arrived[0]); gap < delay {
				t.Errorf("first and last chunk read %v apart; the app spaced them by %v", gap, 2*delay)
			}
		}},
		{"wsgi-upload-20MB", func(t *testing.T) {
			data := make([]byte, 20<<20)
			mrand.New(mrand.NewSource(3)).Read(data)
			resp, body := s.do(t, c, s.request(t, "POST", "/hash", bytes.NewReader(data), "Content-Type", "application/octet-stream"))
			var got h2Hash
			if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, %v: %q", resp.StatusCode, err, body)
			}
			if got.SHA256 != h2Sum(data) || got.Length != len(data) {
				t.Errorf("app read %d bytes, sha256 %s; want %d, %s", got.Length, got.SHA256, len(data), h2Sum(data))
			}
			if got.Protocol != "HTTP/2.0" {
				t.Errorf("SERVER_PROTOCOL %q, want HTTP/2.0", got.Protocol)
			}
		}},
		{"concurrent-100-one-connection", s.testConcurrent},
	} {
		t.Run(tc.name, tc.run)
	}
}

// testConcurrent sends 100 requests at once, of four kinds, on one
// connection.
func (s *h2Site) testConcurrent(t *testing.T) {
	c, dials := s.client(t, 0)
	s.do(t, c, s.request(t, "GET", "/small.txt", nil)) // open the connection
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[string]bool{}
		errs  = make(chan string, 100)
	)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var req *http.Request
			var want string
			switch i % 4 {
			case 0:
				req, want = s.request(t, "GET", "/small.txt", nil), string(s.small)
			case 1:
				req, want = s.request(t, "GET", "/small.txt", nil, "Range", fmt.Sprintf("bytes=%d-%d", i, i+9)), string(s.small[i:i+10])
			case 2:
				req, want = s.request(t, "GET", "/cgi-bin/info.sh", nil), "method=GET\nprotocol=HTTP/2.0\nhttps=on\nsha256="+h2Sum(nil)+"\n"
			case 3:
				b := fmt.Sprintf("request %d", i)
				req = s.request(t, "POST", "/hash", strings.NewReader(b))
				want = fmt.Sprintf(`{"sha256": %q, "length": %d, "protocol": "HTTP/2.0"}`, h2Sum([]byte(b)), len(b))
			}
			trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
				mu.Lock()
				conns[ci.Conn.LocalAddr().String()] = true
				mu.Unlock()
			}}
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
			resp, err := c.Do(req)
			if err != nil {
				errs <- fmt.Sprintf("%d %s %s: %v", i, req.Method, req.URL.Path, err)
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.Proto != "HTTP/2.0" || resp.StatusCode/100 != 2 || string(b) != want {
				errs <- fmt.Sprintf("%d %s %s: %s %d %q (%v), want %q", i, req.Method, req.URL.Path, resp.Proto, resp.StatusCode, b, err, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := dials.Load(); n != 1 || len(conns) != 1 {
		t.Errorf("%d dials, requests on %d connections; want 1", n, len(conns))
	}
}

// testSighup sends SIGHUP while 48 requests of three kinds (a WSGI stream,
// a slow CGI script, a half-read 3 MiB file held back by a 64 KiB window)
// are in flight on one HTTP/2 connection: all finish whole, and the
// connection keeps serving.
func (s *h2Site) testSighup(t *testing.T) {
	const n = 48
	c, _ := s.client(t, 64<<10)
	s.do(t, c, s.request(t, "GET", "/small.txt", nil))
	var (
		sighupAt time.Time // set before release is closed
		started  = make(chan struct{}, n)
		release  = make(chan struct{})
		errs     = make(chan string, n)
		wg       sync.WaitGroup
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail := func(format string, a ...any) {
				errs <- fmt.Sprintf("request %d (kind %d): ", i, i%3) + fmt.Sprintf(format, a...)
			}
			once := sync.OnceFunc(func() { started <- struct{}{} })
			defer once()
			var path string
			switch i % 3 {
			case 0:
				path = "/stream/?delay=1"
			case 1:
				path = "/cgi-bin/slow.sh"
			case 2:
				path = "/large.bin"
			}
			resp, err := c.Do(s.request(t, "GET", path, nil))
			if err != nil {
				fail("%v", err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Proto != "HTTP/2.0" {
				fail("%s %d", resp.Proto, resp.StatusCode)
				return
			}
			// Read a first piece, say so, and read the rest once the
			// server has reloaded.
			br := bufio.NewReader(resp.Body)
			var head []byte
			if i%3 == 2 {
				head = make([]byte, 64<<10)
				_, err = io.ReadFull(br, head)
			} else {
				head, err = br.ReadBytes('\n')
			}
			if err != nil {
				fail("first piece: %v", err)
				return
			}
			once()
			<-release
			rest, err := io.ReadAll(br)
			if err != nil {
				fail("rest: %v", err)
				return
			}
			body := append(head, rest...)
			switch i % 3 {
			case 0:
				_, produced, err := h2StreamLines(bytes.NewReader(body))
				if err != nil {
					fail("%v", err)
				} else if produced[2].Before(sighupAt) {
					// A check of the test: the app was still running.
					fail("last chunk produced at %v, before SIGHUP at %v", produced[2].Format(time.StampMicro), sighupAt.Format(time.StampMicro))
				}
			case 1:
				if string(body) != "begin\nend\n" {
					fail("body %q", body)
				}
			case 2:
				if h2Sum(body) != h2Sum(s.large) {
					fail("%d bytes, sha256 differs", len(body))
				}
			}
		}()
	}
	timeout := time.After(30 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-started:
		case <-timeout:
			close(release)
			t.Fatalf("only %d of %d requests started within 30s", i, n)
		}
	}
	reloads := strings.Count(s.srv.Stderr(), "config reloaded")
	sighupAt = time.Now()
	s.srv.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(s.srv.Stderr(), "config reloaded") <= reloads {
		if time.Now().After(deadline) {
			close(release)
			t.Fatalf("no reload within 20s of SIGHUP")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("requests in flight during SIGHUP did not finish within 60s")
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	// The same connection serves the new generation.
	resp, body := s.do(t, c, s.request(t, "GET", "/cgi-bin/info.sh", nil))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "protocol=HTTP/2.0") {
		t.Errorf("after reload: %d %q", resp.StatusCode, body)
	}
}

// h2TestSigterm stops a server of its own with SIGTERM while a slow WSGI
// response is in flight over HTTP/2: the response completes and httpd
// exits 0 with no worker left.
func h2TestSigterm(t *testing.T, engine string) {
	s := newH2Site(t, engine)
	c, _ := s.client(t, 0)
	resp, err := c.Do(s.request(t, "GET", "/stream/?delay=1", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Proto != "HTTP/2.0" {
		t.Fatalf("%s %d", resp.Proto, resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("first chunk %q: %v", first, err)
	}
	s.srv.Signal(syscall.SIGTERM)
	if _, _, err := h2StreamLines(io.MultiReader(strings.NewReader(first), br)); err != nil {
		t.Errorf("in-flight response after SIGTERM: %v", err)
	}
	s.srv.Wait(30 * time.Second)
	if pids := wsgiWorkers(s.h.Dir); len(pids) > 0 {
		t.Errorf("WSGI workers outlived the server: %v", pids)
	}
}
