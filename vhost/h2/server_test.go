package h2_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"httpd/internal/testcert"
	"httpd/internal/testutil"
	"httpd/vhost/h2"
)

// testServer is an h2.Server behind a loopback listener whose accept loop
// hands every connection to ServeConn.
type testServer struct {
	srv      *h2.Server
	addr     string
	url      string
	accepted atomic.Int32         // connections accepted
	log      *testutil.SyncBuffer // what srv.ErrorLog received
}

// startServer serves srv with h on a fresh loopback listener, over TLS
// when tlsConf is set. Cleanup closes the listener and srv and waits for
// every ServeConn to return. A nil srv.ErrorLog is replaced by a logger
// writing to ts.log.
func startServer(t testing.TB, srv *h2.Server, h http.Handler, tlsConf *tls.Config) *testServer {
	t.Helper()
	ts := &testServer{srv: srv, log: &testutil.SyncBuffer{}}
	srv.Handler = h
	if srv.ErrorLog == nil {
		srv.ErrorLog = slog.New(slog.NewTextHandler(ts.log, nil))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	ts.url = "http://" + ts.addr
	if tlsConf != nil {
		ts.url = "https://" + ts.addr
	}
	var wg sync.WaitGroup // accept loop and ServeConn calls
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ts.accepted.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				if tlsConf != nil {
					tc := tls.Server(c, tlsConf)
					c.SetDeadline(time.Now().Add(5 * time.Second))
					if err := tc.Handshake(); err != nil {
						c.Close()
						return
					}
					c.SetDeadline(time.Time{})
					c = tc
				}
				srv.ServeConn(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		srv.Close()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("ServeConn still running 10s after Close")
		}
	})
	return ts
}

// h2cClient returns a client speaking HTTP/2 with prior knowledge over
// plain TCP.
func h2cClient(t testing.TB) *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

// tlsClient returns a client speaking HTTP/2 over TLS that trusts roots
// and sends serverName as SNI.
func tlsClient(t testing.TB, roots *x509.CertPool, serverName string) *http.Client {
	var p http.Protocols
	p.SetHTTP2(true)
	tr := &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: serverName}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

// testCert makes a self-signed certificate for 127.0.0.1 and localhost,
// and a pool that trusts it.
func testCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	c := testcert.New(t)
	return c.TLS, c.Pool
}

// reqInfo answers with one line describing the request as the handler
// sees it, its body read to the end first.
func reqInfo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	fmt.Fprintf(w, "method=%s uri=%s path=%s proto=%s/%d.%d host=%s cl=%d nobody=%t body=%q err=%v cookie=%q/%d trailer=%q tls=%t",
		r.Method, r.RequestURI, r.URL.Path, r.Proto, r.ProtoMajor, r.ProtoMinor, r.Host, r.ContentLength,
		r.Body == http.NoBody, body, err, r.Header.Get("Cookie"), len(r.Header["Cookie"]),
		r.Trailer.Get("X-Req-Trailer"), r.TLS != nil)
}

// absent is a wantHeader value meaning the field must not be sent.
const absent = "<absent>"

// TestServe sends one request per case through Go's HTTP/2 client with
// prior knowledge and checks the answer.
func TestServe(t *testing.T) {
	tests := []struct {
		name       string
		h          http.HandlerFunc
		method     string
		path       string
		body       string
		unknownLen bool // send the body without a content-length
		header     http.Header
		trailer    http.Header // request trailers
		wantStatus int
		wantBody   string
		wantHeader map[string]string // absent: must not be sent
		wantLen    int64             // resp.ContentLength; checked unless 0 and body non-empty
		check      func(t *testing.T, resp *http.Response)
	}{
		{
			name: "GET", h: reqInfo, method: "GET", path: "/a/b?q=1&r=%41",
			wantStatus: 200,
			wantBody:   `method=GET uri=/a/b?q=1&r=%41 path=/a/b proto=HTTP/2.0/2.0 host=example.test cl=0 nobody=true body="" err=<nil> cookie=""/0 trailer="" tls=false`,
		},
		{
			name: "HEAD has no body", method: "HEAD", path: "/",
			h: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "hello, head")
			},
			wantStatus: 200, wantBody: "",
		},
		{
			name: "POST with length", h: reqInfo, method: "POST", path: "/post", body: "hello world",
			wantStatus: 200,
			wantBody:   `method=POST uri=/post path=/post proto=HTTP/2.0/2.0 host=example.test cl=11 nobody=false body="hello world" err=<nil> cookie=""/0 trailer="" tls=false`,
		},
		{
			name: "POST without length", h: reqInfo, method: "POST", path: "/post", body: "streamed", unknownLen: true,
			wantStatus: 200,
			wantBody:   `method=POST uri=/post path=/post proto=HTTP/2.0/2.0 host=example.test cl=-1 nobody=false body="streamed" err=<nil> cookie=""/0 trailer="" tls=false`,
		},
		{
			name: "POST empty body with length", h: reqInfo, method: "POST", path: "/", body: "",
			header:     http.Header{"Content-Type": {"text/plain"}},
			wantStatus: 200,
			wantBody:   `method=POST uri=/ path=/ proto=HTTP/2.0/2.0 host=example.test cl=0 nobody=true body="" err=<nil> cookie=""/0 trailer="" tls=false`,
		},
		{
			name: "cookies joined", h: reqInfo, method: "GET", path: "/",
			header:     http.Header{"Cookie": {"a=1", "b=2", "c=3"}},
			wantStatus: 200,
			wantBody:   `method=GET uri=/ path=/ proto=HTTP/2.0/2.0 host=example.test cl=0 nobody=true body="" err=<nil> cookie="a=1; b=2; c=3"/1 trailer="" tls=false`,
		},
		{
			name: "request trailers", h: reqInfo, method: "POST", path: "/t", body: "with trailer",
			trailer:    http.Header{"X-Req-Trailer": {"tv"}},
			wantStatus: 200,
			wantBody:   `method=POST uri=/t path=/t proto=HTTP/2.0/2.0 host=example.test cl=12 nobody=false body="with trailer" err=<nil> cookie=""/0 trailer="tv" tls=false`,
		},
		{
			name: "defaults on a small body", method: "GET", path: "/",
			h: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "<html><body>hi")
			},
			wantStatus: 200, wantBody: "<html><body>hi", wantLen: 14,
			wantHeader: map[string]string{"Content-Type": "text/html; charset=utf-8", "Content-Length": "14"},
			check: func(t *testing.T, resp *http.Response) {
				d, err := http.ParseTime(resp.Header.Get("Date"))
				if err != nil || time.Since(d) > time.Minute || time.Until(d) > time.Minute {
					t.Errorf("Date %q: %v", resp.Header.Get("Date"), err)
				}
			},
		},
		{
			name: "handler headers kept", method: "GET", path: "/",
			h: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/x-test")
				w.Header().Set("Date", "Mon, 02 Jan 2006 15:04:05 GMT")
				w.Header().Add("X-Multi", "1")
				w.Header().Add("X-Multi", "2")
				w.WriteHeader(201)
				io.WriteString(w, "{}")
			},
			wantStatus: 201, wantBody: "{}",
			wantHeader: map[string]string{"Content-Type": "application/x-test", "Date": "Mon, 02 Jan 2006 15:04:05 GMT"},
			check: func(t *testing.T, resp *http.Response) {
				if got := resp.Header["X-Multi"]; !slices.Equal(got, []string{"1", "2"}) {
					t.Errorf("X-Multi = %q", got)
				}
			},
		},
		{
			name: "no body, no content type", method: "GET", path: "/",
			h:          func(w http.ResponseWriter, r *http.Request) {},
			wantStatus: 200, wantBody: "",
			wantHeader: map[string]string{"Content-Type": absent},
		},
		{
			name: "204 has no body", method: "GET", path: "/",
			h: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(204)
				io.WriteString(w, "not allowed")
			},
			wantStatus: 204, wantBody: "",
			wantHeader: map[string]string{"Content-Type": absent},
		},
		{
			name: "304 has no body", method: "GET", path: "/",
			h: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Etag", `"x"`)
				w.WriteHeader(304)
				io.WriteString(w, "not allowed")
			},
			wantStatus: 304, wantBody: "",
			wantHeader: map[string]string{"Etag": `"x"`},
		},
		{
			name: "flush drops the content length", method: "GET", path: "/",
			h: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "a")
				w.(http.Flusher).Flush()
				io.WriteString(w, "b")
			},
			wantStatus: 200, wantBody: "ab", wantLen: -1,
			wantHeader: map[string]string{"Content-Length": absent},
		},
		{
			name: "declared trailers", method: "GET", path: "/",
			h: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Trailer", "X-Sum, X-Count")
				io.WriteString(w, "body")
				w.Header().Set("X-Sum", "abc")
				w.Header().Set("X-Count", "4")
			},
			wantStatus: 200, wantBody: "body",
			check: func(t *testing.T, resp *http.Response) {
				if resp.Trailer.Get("X-Sum") != "abc" || resp.Trailer.Get("X-Count") != "4" {
					t.Errorf("trailer %v", resp.Trailer)
				}
			},
		},
		{
			name: "TrailerPrefix trailers", method: "GET", path: "/",
			h: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "body")
				w.(http.Flusher).Flush()
				w.Header().Set(http.TrailerPrefix+"X-Late", "z")
			},
			wantStatus: 200, wantBody: "body",
			check: func(t *testing.T, resp *http.Response) {
				if resp.Trailer.Get("X-Late") != "z" {
					t.Errorf("trailer %v", resp.Trailer)
				}
			},
		},
		{
			name: "status without body", method: "GET", path: "/",
			h: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(404)
			},
			wantStatus: 404, wantBody: "",
		},
	}
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tests[atoi(r.Header.Get("X-Case"))].h(w, r)
	}), nil)
	client := h2cClient(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" || tt.method == "POST" {
				body = strings.NewReader(tt.body)
				if tt.unknownLen {
					body = io.MultiReader(body)
				}
			}
			req, err := http.NewRequest(tt.method, ts.url+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = "example.test"
			for k, v := range tt.header {
				req.Header[k] = v
			}
			req.Header.Set("X-Case", fmt.Sprint(i))
			req.Trailer = tt.trailer
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("reading body: %v", err)
			}
			if resp.ProtoMajor != 2 {
				t.Errorf("response proto %s", resp.Proto)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if string(b) != tt.wantBody {
				t.Errorf("body\n got %q\nwant %q", b, tt.wantBody)
			}
			for k, v := range tt.wantHeader {
				got, ok := resp.Header[k]
				switch {
				case v == absent && ok:
					t.Errorf("header %s: %q, want none", k, got)
				case v != absent && (len(got) != 1 || got[0] != v):
					t.Errorf("header %s: %q, want %q", k, got, v)
				}
			}
			if _, ok := resp.Header["Date"]; !ok {
				t.Errorf("no Date header")
			}
			if tt.wantLen != 0 && resp.ContentLength != tt.wantLen {
				t.Errorf("ContentLength %d, want %d", resp.ContentLength, tt.wantLen)
			}
			if tt.check != nil {
				tt.check(t, resp)
			}
		})
	}
	if n := ts.accepted.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// atoi returns the number that s starts with.
func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// bigData is 20 MiB of reproducible bytes and their SHA-256.
var bigData = sync.OnceValues(func() ([]byte, string) {
	b := make([]byte, 20<<20)
	mrand.NewChaCha8([32]byte{1, 2, 3}).Read(b)
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
})

// TestLargeUpload sends 20 MiB, far past the 65535-byte initial windows,
// to a handler that hashes it.
func TestLargeUpload(t *testing.T) {
	data, sum := bigData()
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %x %v", n, h.Sum(nil), err)
	}), nil)
	client := h2cClient(t)
	for _, tt := range []struct {
		name string
		body io.Reader
	}{
		{"with length", bytes.NewReader(data)},
		{"without length", io.MultiReader(bytes.NewReader(data))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.Post(ts.url+"/up", "application/octet-stream", tt.body)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := fmt.Sprintf("%d %s <nil>", len(data), sum)
			if err != nil || string(b) != want {
				t.Errorf("got %q, %v; want %q", b, err, want)
			}
		})
	}
}

// TestLargeDownload has the handler write 20 MiB, with and without a
// declared length.
func TestLargeDownload(t *testing.T) {
	data, sum := bigData()
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("cl") {
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		}
		for rest := data; len(rest) > 0; {
			n := min(len(rest), 100_000)
			if _, err := w.Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
		}
	}), nil)
	client := h2cClient(t)
	for _, q := range []string{"", "?cl"} {
		t.Run("query="+q, func(t *testing.T) {
			resp, err := client.Get(ts.url + "/down" + q)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			n, err := io.Copy(h, resp.Body)
			resp.Body.Close()
			if err != nil || n != int64(len(data)) || hex.EncodeToString(h.Sum(nil)) != sum {
				t.Errorf("got %d bytes, %v; hash ok %t", n, err, hex.EncodeToString(h.Sum(nil)) == sum)
			}
			if q != "" && resp.ContentLength != int64(len(data)) {
				t.Errorf("ContentLength %d", resp.ContentLength)
			}
		})
	}
}

// TestConcurrentStreams runs 100 requests at once on one connection:
// every handler waits until all 100 have started.
func TestConcurrentStreams(t *testing.T) {
	const n = 100
	var started atomic.Int32
	all := make(chan struct{})
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/warm" {
			return
		}
		if started.Add(1) == n {
			close(all)
		}
		select {
		case <-all:
		case <-time.After(10 * time.Second):
			http.Error(w, "not all started", 500)
			return
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s", r.URL.Path, body)
	}), nil)
	client := h2cClient(t)
	// One request first, so the client knows the server's settings and
	// puts every later stream on this connection.
	resp, err := client.Get(ts.url + "/warm")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	errs := make(chan error, n)
	for i := range n {
		go func() {
			path := fmt.Sprintf("/r%d", i)
			resp, err := client.Post(ts.url+path, "text/plain", strings.NewReader(strings.Repeat("x", i)))
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := path + " " + strings.Repeat("x", i); err != nil || resp.StatusCode != 200 || string(b) != want {
				err = fmt.Errorf("%s: %d %q %v", path, resp.StatusCode, b, err)
			}
			errs <- err
		}()
	}
	for range n {
		if err := testutil.Recv(t, errs, 15*time.Second, "responses"); err != nil {
			t.Error(err)
		}
	}
	if c := ts.accepted.Load(); c != 1 {
		t.Errorf("%d connections, want 1", c)
	}
}

// TestConcurrentDownloads runs 20 downloads of 1 MiB at once on one
// connection, so the streams share the connection window.
func TestConcurrentDownloads(t *testing.T) {
	data, _ := bigData()
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.Write(data[i<<20 : (i+1)<<20])
	}), nil)
	client := h2cClient(t)
	errs := make(chan error, 20)
	for i := range 20 {
		go func() {
			resp, err := client.Get(fmt.Sprintf("%s/%d", ts.url, i))
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && !bytes.Equal(b, data[i<<20:(i+1)<<20]) {
				err = fmt.Errorf("download %d: %d bytes, not the data", i, len(b))
			}
			errs <- err
		}()
	}
	for range 20 {
		if err := testutil.Recv(t, errs, 15*time.Second, "downloads"); err != nil {
			t.Error(err)
		}
	}
}

// TestFullDuplexEcho streams 8 MiB through a handler that copies the
// request body to the response as it comes, while the client is still
// sending: neither direction may wait for the other to end.
func TestFullDuplexEcho(t *testing.T) {
	data, _ := bigData()
	data = data[:8<<20]
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).EnableFullDuplex()
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
			if err != nil {
				return
			}
		}
	}), nil)
	client := h2cClient(t)
	const chunk = 64 << 10
	pr, pw := io.Pipe()
	defer pw.Close()
	echoed := make(chan struct{})
	// The client sends chunk i+1 only once chunk i has come back.
	go func() {
		defer pw.Close()
		for off := 0; off < len(data); off += chunk {
			if _, err := pw.Write(data[off : off+chunk]); err != nil {
				return
			}
			select {
			case <-echoed:
			case <-time.After(10 * time.Second):
				pw.CloseWithError(errors.New("no echo in 10s"))
				return
			}
		}
	}()
	resp, err := client.Post(ts.url+"/echo", "application/octet-stream", pr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, chunk)
	for off := 0; off < len(data); off += chunk {
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			t.Fatalf("echo of the chunk at %d: %v", off, err)
		}
		if !bytes.Equal(buf, data[off:off+chunk]) {
			t.Fatalf("echo of the chunk at %d differs", off)
		}
		select {
		case echoed <- struct{}{}:
		case <-time.After(10 * time.Second):
			t.Fatalf("the client's writer is gone")
		}
	}
	if n, err := io.Copy(io.Discard, resp.Body); n != 0 || err != nil {
		t.Errorf("after the echo: %d more bytes, %v", n, err)
	}
}

// TestStreaming checks that Flush sends the first chunk while the
// handler still runs.
func TestStreaming(t *testing.T) {
	release := make(chan struct{})
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "second")
	}), nil)
	client := h2cClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.url+"/s", nil)
	resp, err := client.Do(req)
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 5)
	_, err = io.ReadFull(resp.Body, buf)
	close(release)
	if err != nil || string(buf) != "first" {
		t.Fatalf("first chunk: %q, %v", buf, err)
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "second" {
		t.Fatalf("rest: %q, %v", rest, err)
	}
	if resp.ContentLength != -1 {
		t.Errorf("ContentLength %d, want -1", resp.ContentLength)
	}
}

// TestPanic checks that a handler panic resets only its stream, logs
// unless the value is http.ErrAbortHandler, and leaves the connection up.
func TestPanic(t *testing.T) {
	tests := []struct {
		name    string
		value   any
		flush   bool // send the headers before panicking
		wantLog string
	}{
		{"panic", "boom-value", false, "boom-value"},
		{"panic after headers", "late-boom", true, "late-boom"},
		{"ErrAbortHandler", http.ErrAbortHandler, false, ""},
		{"ErrAbortHandler after headers", http.ErrAbortHandler, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, &h2.Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/ok" {
					io.WriteString(w, "ok")
					return
				}
				if tt.flush {
					io.WriteString(w, "partial")
					w.(http.Flusher).Flush()
				}
				panic(tt.value)
			}), nil)
			client := h2cClient(t)
			resp, err := client.Get(ts.url + "/panic")
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if err == nil || !strings.Contains(err.Error(), "INTERNAL_ERROR") {
				t.Errorf("got error %v, want a stream reset with INTERNAL_ERROR", err)
			}
			resp, err = client.Get(ts.url + "/ok")
			if err != nil {
				t.Fatalf("request after the panic: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "ok" {
				t.Errorf("after the panic: %q", b)
			}
			if n := ts.accepted.Load(); n != 1 {
				t.Errorf("%d connections, want 1: the panic closed the connection", n)
			}
			log := ts.log.String()
			if tt.wantLog == "" && log != "" {
				t.Errorf("logged %q, want nothing", log)
			}
			if tt.wantLog != "" && !strings.Contains(log, tt.wantLog) {
				t.Errorf("log %q does not mention %q", log, tt.wantLog)
			}
		})
	}
}

// TestClientCancel checks that the client's RST_STREAM cancels the
// handler's context.
func TestClientCancel(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan error, 1)
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
			cancelled <- r.Context().Err()
		case <-time.After(10 * time.Second):
			cancelled <- errors.New("context not cancelled in 10s")
		}
	}), nil)
	client := h2cClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.url+"/", nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	testutil.Recv(t, started, 5*time.Second, "handler start")
	cancel()
	if err := testutil.Recv(t, errc, 5*time.Second, "client return"); err == nil {
		t.Errorf("client got a response after cancelling")
	}
	if err := testutil.Recv(t, cancelled, 15*time.Second, "handler"); !errors.Is(err, context.Canceled) {
		t.Errorf("handler context: %v", err)
	}
}

// TestTLS serves over TLS with ALPN h2 and checks r.TLS.
func TestTLS(t *testing.T) {
	cert, roots := testCert(t)
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			fmt.Fprintf(w, "no TLS, %s", r.Proto)
			return
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintf(w, "%s %s complete=%t sni=%q remote=%s", r.Proto, r.TLS.NegotiatedProtocol, r.TLS.HandshakeComplete, r.TLS.ServerName, host)
	}), &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}})
	client := tlsClient(t, roots, "localhost")
	resp, err := client.Get(ts.url + "/tls")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `HTTP/2.0 h2 complete=true sni="localhost" remote=127.0.0.1`; string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
	if resp.ProtoMajor != 2 || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "h2" {
		t.Errorf("client side: %s, TLS %v", resp.Proto, resp.TLS != nil)
	}
}

// TestResponseController checks the deadlines and full duplex through
// http.ResponseController, and Server.ReadTimeout.
func TestResponseController(t *testing.T) {
	tests := []struct {
		name string
		srv  *h2.Server
		h    http.HandlerFunc
		want string
	}{
		{
			name: "SetReadDeadline ends a stalled body read",
			srv:  &h2.Server{},
			h: func(w http.ResponseWriter, r *http.Request) {
				b := make([]byte, 3)
				if _, err := io.ReadFull(r.Body, b); err != nil {
					fmt.Fprintf(w, "first read: %v", err)
					return
				}
				rc := http.NewResponseController(w)
				if err := rc.SetReadDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
					fmt.Fprintf(w, "SetReadDeadline: %v", err)
					return
				}
				rest, err := io.ReadAll(r.Body)
				fmt.Fprintf(w, "read %q, then %q, error %t", b, rest, err != nil)
			},
			want: `read "abc", then "", error true`,
		},
		{
			name: "ReadTimeout ends a stalled body read",
			srv:  &h2.Server{ReadTimeout: 200 * time.Millisecond},
			h: func(w http.ResponseWriter, r *http.Request) {
				b, err := io.ReadAll(r.Body)
				fmt.Fprintf(w, "read a prefix %t, error %t", strings.HasPrefix("abc", string(b)), err != nil)
			},
			want: `read a prefix true, error true`,
		},
		{
			name: "SetWriteDeadline and EnableFullDuplex",
			srv:  &h2.Server{},
			h: func(w http.ResponseWriter, r *http.Request) {
				rc := http.NewResponseController(w)
				werr := rc.SetWriteDeadline(time.Now().Add(5 * time.Second))
				ferr := rc.EnableFullDuplex()
				if ferr != nil && errors.Is(ferr, http.ErrNotSupported) {
					ferr = nil
				}
				// Full duplex: answer before the body ends.
				io.WriteString(w, "ready ")
				rc.Flush()
				buf := make([]byte, 3)
				_, rerr := io.ReadFull(r.Body, buf)
				fmt.Fprintf(w, "%v %v %q %v", werr, ferr, buf, rerr)
			},
			want: `ready <nil> <nil> "abc" <nil>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, tt.srv, tt.h, nil)
			client := h2cClient(t)
			pr, pw := io.Pipe()
			defer pw.Close()
			go pw.Write([]byte("abc")) // and no end until the test ends
			resp, err := client.Post(ts.url+"/", "text/plain", pr)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(b) != tt.want {
				t.Errorf("got %q, %v; want %q", b, err, tt.want)
			}
		})
	}
}

// TestShutdown checks that Shutdown sends GOAWAY at once, lets the open
// stream finish, and returns only after it.
func TestShutdown(t *testing.T) {
	srv := &h2.Server{}
	started, release := make(chan struct{}), make(chan struct{})
	ts := startServer(t, srv, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	}), nil)
	idle := dialRaw(t, ts.addr)
	client := h2cClient(t)
	type result struct {
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := client.Get(ts.url + "/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{string(b), err}
	}()
	testutil.Recv(t, started, 5*time.Second, "handler start")
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	// The idle connection gets GOAWAY and is closed.
	idle.until("GOAWAY on the idle connection", func() bool { return idle.goaway != nil })
	if *idle.goaway != http2.ErrCodeNo {
		t.Errorf("GOAWAY code %v, want NO_ERROR", *idle.goaway)
	}
	idle.waitClosed()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a stream open", err)
	default:
	}
	close(release)
	if r := testutil.Recv(t, res, 10*time.Second, "the open request"); r.err != nil || r.body != "finished" {
		t.Errorf("open request: %q, %v", r.body, r.err)
	}
	if err := testutil.Recv(t, shut, 10*time.Second, "Shutdown"); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	// A connection that comes after Shutdown is not served; writes to it
	// may fail.
	late := dialPreface(t, ts.addr)
	late.fr.WriteSettings()
	late.writeHeaders(1, true, request("GET", "/late")...)
	late.waitClosed()
	if s := late.stream(1); s.status != "" {
		t.Errorf("a connection after Shutdown was served: %s", s.status)
	}
	// Shutdown and Close again are harmless.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	srv.Close()
}

// TestShutdownUnused checks Shutdown on a server that never served.
func TestShutdownUnused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := new(h2.Server).Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := new(h2.Server).Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestShutdownContext checks that Shutdown gives up when its context
// ends, and that Close then ends the stream and its context.
func TestShutdownContext(t *testing.T) {
	srv := &h2.Server{}
	started := make(chan struct{})
	handlerCtx := make(chan error, 1)
	ts := startServer(t, srv, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
			handlerCtx <- r.Context().Err()
		case <-time.After(15 * time.Second):
			handlerCtx <- errors.New("not cancelled")
		}
	}), nil)
	idle := dialRaw(t, ts.addr)
	client := h2cClient(t)
	errc := make(chan error, 1)
	go func() {
		resp, err := client.Get(ts.url + "/stuck")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		errc <- err
	}()
	testutil.Recv(t, started, 5*time.Second, "handler start")
	ctx, cancel := context.WithCancel(context.Background())
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	idle.until("GOAWAY on the idle connection", func() bool { return idle.goaway != nil })
	cancel()
	if err := testutil.Recv(t, shut, 5*time.Second, "Shutdown"); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown: %v, want context.Canceled", err)
	}
	srv.Close()
	if err := testutil.Recv(t, handlerCtx, 5*time.Second, "handler context"); err == nil || err.Error() == "not cancelled" {
		t.Errorf("handler context after Close: %v", err)
	}
	if err := testutil.Recv(t, errc, 5*time.Second, "client"); err == nil {
		t.Errorf("client got a whole response from a closed server")
	}
}

// TestIdleTimeout checks that an idle connection gets GOAWAY and is
// closed, and that a stream open longer than the timeout is not cut.
func TestIdleTimeout(t *testing.T) {
	const idle = 500 * time.Millisecond
	ts := startServer(t, &h2.Server{IdleTimeout: idle}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			// A stream open for longer than the idle timeout.
			time.Sleep(3 * idle)
		}
		io.WriteString(w, "ok")
	}), nil)
	t.Run("idle connection", func(t *testing.T) {
		begin := time.Now()
		c := dialRaw(t, ts.addr)
		c.until("GOAWAY", func() bool { return c.goaway != nil })
		if el := time.Since(begin); el < idle {
			t.Errorf("GOAWAY after %v, before the idle timeout %v", el, idle)
		}
		if *c.goaway != http2.ErrCodeNo {
			t.Errorf("GOAWAY code %v", *c.goaway)
		}
		c.waitClosed()
	})
	t.Run("after a request", func(t *testing.T) {
		c := dialRaw(t, ts.addr)
		c.get(1, "/")
		s := c.waitStream(1)
		if s.status != "200" || s.body.String() != "ok" {
			t.Fatalf("got %s %q", s.status, s.body.String())
		}
		c.until("GOAWAY", func() bool { return c.goaway != nil })
		c.waitClosed()
	})
	t.Run("busy connection", func(t *testing.T) {
		client := h2cClient(t)
		resp, err := client.Get(ts.url + "/slow")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != "ok" {
			t.Errorf("got %q, %v", b, err)
		}
	})
}

// TestWriteTimeout has a client that opens its windows wide and then
// stops reading: the blocked socket write must time out and fail the
// handler's writes.
func TestWriteTimeout(t *testing.T) {
	werr := make(chan error, 1)
	ts := startServer(t, &h2.Server{WriteTimeout: 200 * time.Millisecond}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for range 1024 { // 64 MiB, far more than the socket buffers
			if _, err := w.Write(chunk); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}), nil)
	c := dialRaw(t, ts.addr, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1})
	if err := c.fr.WriteWindowUpdate(0, 1<<31-1-65535); err != nil {
		t.Fatal(err)
	}
	c.get(1, "/big")
	if err := testutil.Recv(t, werr, 15*time.Second, "handler write error"); err == nil {
		t.Errorf("handler wrote 64 MiB to a client that reads nothing")
	}
	// The connection is gone: reading drains what the kernel holds, then
	// ends.
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c.c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("connection still open after the write timeout")
	}
}
