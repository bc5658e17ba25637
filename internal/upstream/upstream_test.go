package upstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// scripted is an upstream that answers each request it reads with the
// next of its answers, as raw bytes, and closes the connection after an
// answer whose close flag is set.
type scripted struct {
	ln       net.Listener
	accepted atomic.Int32
	mu       sync.Mutex
	answers  []answer
	next     int
}

type answer struct {
	raw   string
	close bool
}

func newScripted(t *testing.T, answers ...answer) *scripted {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scripted{ln: ln, answers: answers}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			go s.serve(c)
		}
	}()
	return s
}

func (s *scripted) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		s.mu.Lock()
		if s.next >= len(s.answers) {
			s.mu.Unlock()
			_, _ = io.Copy(io.Discard, br) // no answer: hold the connection until the client closes it
			return
		}
		a := s.answers[s.next]
		s.next++
		s.mu.Unlock()
		if _, err := io.WriteString(c, a.raw); err != nil || a.close {
			return
		}
	}
}

func (s *scripted) options() *Options {
	addr := s.ln.Addr().String()
	return &Options{
		ResponseHeaderTimeout: 5 * time.Second,
		Dial: func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
	}
}

func get(t *testing.T, p *Pool, o *Options, method string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequest(method, "http://upstream/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.RoundTrip(req, o, nil)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

func TestRoundTripFraming(t *testing.T) {
	cases := []struct {
		name    string
		method  string
		raw     string
		close   bool // the upstream closes after the answer
		status  int
		body    string
		trailer http.Header
		dials   uint64 // for two requests
	}{
		{"content-length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, 200, "hello", nil, 1},
		{"chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n", false, 200, "hello", nil, 1},
		{"trailers", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 42\r\n\r\n", false, 200, "hello",
			http.Header{"X-Sum": {"42"}}, 1},
		{"until close", "GET", "HTTP/1.1 200 OK\r\n\r\nhello", true, 200, "hello", nil, 2},
		{"connection close", "GET", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello", false, 200, "hello", nil, 2},
		{"http/1.0", "GET", "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, 200, "hello", nil, 2},
		{"http/1.0 keep-alive", "GET", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5\r\n\r\nhello", false, 200, "hello", nil, 1},
		{"204", "GET", "HTTP/1.1 204 No Content\r\n\r\n", false, 204, "", nil, 1},
		{"304 with length", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", false, 304, "", nil, 1},
		{"head", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", false, 200, "", nil, 1},
		{"early hints", "GET", "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, 200, "ok", nil, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newScripted(t, answer{tc.raw, tc.close}, answer{tc.raw, tc.close})
			p := NewPool(4, time.Minute)
			defer p.CloseIdle()
			o := s.options()
			for i := range 2 {
				resp, body, err := get(t, p, o, tc.method)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if resp.StatusCode != tc.status || body != tc.body {
					t.Errorf("request %d: %d %q, want %d %q", i, resp.StatusCode, body, tc.status, tc.body)
				}
				for k, v := range tc.trailer {
					if got := resp.Trailer.Get(k); got != v[0] {
						t.Errorf("trailer %s = %q, want %q", k, got, v[0])
					}
				}
			}
			if dials, _, _, _ := p.Stats(); dials != tc.dials {
				t.Errorf("%d connections for two requests, want %d", dials, tc.dials)
			}
		})
	}
}

func TestRoundTrip1xxTrace(t *testing.T) {
	s := newScripted(t, answer{"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false})
	p := NewPool(4, 0)
	defer p.CloseIdle()
	var got []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		got = append(got, h.Get("Link"))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "http://u/", nil)
	resp, err := p.RoundTrip(req, s.options(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(got) != 1 || got[0] != "</a.css>" {
		t.Errorf("1xx seen: %q", got)
	}
}

func TestRoundTripStaleRetried(t *testing.T) {
	// The upstream closes each connection after its answer although it
	// did not say so: the kept connection is stale for the second
	// request, which goes again on a new one.
	ok := answer{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true}
	s := newScripted(t, ok, ok, ok)
	p := NewPool(4, 0)
	defer p.CloseIdle()
	o := s.options()
	for i := range 2 {
		if _, body, err := get(t, p, o, "GET"); err != nil || body != "ok" {
			t.Fatalf("request %d: %q %v", i, body, err)
		}
	}
	if dials, reuses, retries, _ := p.Stats(); dials != 2 || reuses != 1 || retries != 1 {
		t.Errorf("dials %d, reuses %d, retries %d; want 2, 1, 1", dials, reuses, retries)
	}
}

func TestRoundTripPartialBodyClosesConnection(t *testing.T) {
	a := answer{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false}
	s := newScripted(t, a, a)
	p := NewPool(4, 0)
	defer p.CloseIdle()
	o := s.options()
	req, _ := http.NewRequest("GET", "http://u/", nil)
	resp, err := p.RoundTrip(req, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, _, _, idle := p.Stats(); idle != 0 {
		t.Errorf("%d idle connections after a body closed early, want 0", idle)
	}
	if _, body, err := get(t, p, o, "GET"); err != nil || body != "hello" {
		t.Fatalf("second request: %q %v", body, err)
	}
	if dials, _, _, _ := p.Stats(); dials != 2 {
		t.Errorf("%d dials, want 2", dials)
	}
}

func TestRoundTripRequestBody(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Length", r.Header.Get("Content-Length"))
		w.Write(b)
	}))
	defer up.Close()
	addr := strings.TrimPrefix(up.URL, "http://")
	o := &Options{Dial: func(ctx context.Context) (net.Conn, error) { return net.Dial("tcp", addr) }}
	p := NewPool(4, 0)
	defer p.CloseIdle()
	for _, chunked := range []bool{false, true, false} {
		var body io.Reader = strings.NewReader(strings.Repeat("x", 100000))
		if chunked {
			body = io.MultiReader(body)
		}
		req, _ := http.NewRequest("POST", "http://u/", body)
		resp, err := p.RoundTrip(req, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(b) != 100000 {
			t.Errorf("chunked %v: echo of %d bytes", chunked, len(b))
		}
	}
	if dials, _, _, _ := p.Stats(); dials != 1 {
		t.Errorf("%d dials for three requests, want 1", dials)
	}
}

type failingReader struct{ n int }

var errClientBody = errors.New("client body broke")

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n > 0 {
		n := min(len(p), f.n)
		f.n -= n
		return n, nil
	}
	return 0, errClientBody
}

func TestRoundTripBodyError(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer up.Close()
	addr := strings.TrimPrefix(up.URL, "http://")
	o := &Options{Dial: func(ctx context.Context) (net.Conn, error) { return net.Dial("tcp", addr) }}
	p := NewPool(4, 0)
	defer p.CloseIdle()
	req, _ := http.NewRequest("POST", "http://u/", &failingReader{n: 1000})
	_, err := p.RoundTrip(req, o, nil)
	var be *BodyError
	if !errors.As(err, &be) || !errors.Is(err, errClientBody) {
		t.Fatalf("error %v, want a BodyError", err)
	}
}

func TestRoundTripResponseHeaderTimeout(t *testing.T) {
	s := newScripted(t) // reads the request, never answers
	p := NewPool(4, 0)
	defer p.CloseIdle()
	o := s.options()
	o.ResponseHeaderTimeout = 100 * time.Millisecond
	start := time.Now()
	_, _, err := get(t, p, o, "GET")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("error %v, want a timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestRoundTripCancel(t *testing.T) {
	s := newScripted(t)
	p := NewPool(4, 0)
	defer p.CloseIdle()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://u/", nil)
	done := make(chan error, 1)
	go func() {
		_, err := p.RoundTrip(req, &Options{Dial: s.options().Dial}, nil)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RoundTrip did not end when the request was cancelled")
	}
}

func TestPoolReleaseClosesIdle(t *testing.T) {
	a := answer{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false}
	s := newScripted(t, a, a)
	p := NewPool(4, 0)
	p.Acquire(4, 0) // the generation being retired
	p.Acquire(4, 0) // the next one
	o := s.options()
	get(t, p, o, "GET")
	p.Release()
	if _, _, _, idle := p.Stats(); idle != 1 {
		t.Fatalf("%d idle after the old holder left, want 1 (kept for the new one)", idle)
	}
	p.Release()
	if _, _, _, idle := p.Stats(); idle != 0 {
		t.Errorf("%d idle after the last holder left, want 0", idle)
	}
}

// FuzzResponse feeds arbitrary bytes as an upstream's answer: the client
// must not panic or hang, and must keep a connection only when the
// answer ended exactly.
func FuzzResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X\r\n\r\n5\r\nhello\r\n0\r\nX: y\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: <a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"garbage",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o := &Options{Dial: func(ctx context.Context) (net.Conn, error) {
			cl, sv := net.Pipe()
			go func() {
				defer sv.Close()
				br := bufio.NewReader(sv)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				sv.Write(data)
			}()
			return cl, nil
		}}
		p := NewPool(1, 0)
		req, _ := http.NewRequest("GET", "http://u/", nil)
		resp, err := p.RoundTrip(req, o, nil)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
		}
		if _, _, _, idle := p.Stats(); idle > 0 {
			c := p.idle[0]
			if c.br.Buffered() != 0 {
				t.Errorf("a kept connection holds %d unread bytes", c.br.Buffered())
			}
		}
		p.CloseIdle()
	})
}
