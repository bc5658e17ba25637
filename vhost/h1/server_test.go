package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"httpd/internal/testutil"
)

func httpEcho(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), b)
}

func startServer(t *testing.T, s *Server, h http.HandlerFunc) string {
	t.Helper()
	s.Handler = h
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Serve(ln); close(done) }()
	t.Cleanup(func() { s.Close(); <-done })
	return ln.Addr().String()
}

// TestPipelineServe sends the pipeline split at random points to every
// engine variant and reads the four answers in order.
func TestPipelineServe(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, v := range []struct{ name string }{{"echo"}} {
		t.Run(v.name, func(t *testing.T) {
			addr := startServer(t, &Server{}, httpEcho)
			for iter := 0; iter < 20; iter++ {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				go func() {
					data := []byte(pipeline)
					for len(data) > 0 {
						n := 1 + rng.Intn(len(data))
						if iter == 0 {
							n = len(data)
						}
						c.Write(data[:n])
						data = data[n:]
						time.Sleep(time.Millisecond)
					}
				}()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(c)
				for _, want := range []string{"GET /1 ", "POST /2 hello", "POST /3 abcde", "GET /4 "} {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						t.Fatal(err)
					}
					b, _ := io.ReadAll(resp.Body)
					if resp.StatusCode != 200 || string(b) != want {
						t.Fatalf("got %d %q, want %q", resp.StatusCode, b, want)
					}
				}
				c.Close()
			}
		})
	}
}

// TestRefusals checks the answers to bad requests on the wire: status,
// and the connection closed after it.
func TestRefusals(t *testing.T) {
	addr := startServer(t, &Server{MaxHeaderBytes: 1024}, httpEcho)
	tests := []struct{ in, status string }{
		{"GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 2000) + "\r\n\r\n", "431"},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
		{"GET / HTTP/1.1\r\n\r\n", "400"},
		{"GET /\r\n\r\n", "400"},
	}
	for _, tt := range tests {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte(tt.in + "GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
		all, _ := io.ReadAll(c) // ends at the server's close
		c.Close()
		if !bytes.HasPrefix(all, []byte("HTTP/1.1 "+tt.status+" ")) || bytes.Count(all, []byte("HTTP/1.1")) != 1 {
			t.Errorf("%q: got %q", tt.in[:min(len(tt.in), 40)], all)
		}
	}
}

func TestExpectContinue(t *testing.T) {
	addr := startServer(t, &Server{}, httpEcho)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"))
	br := bufio.NewReader(c)
	line, _ := br.ReadString('\n')
	if line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q", line)
	}
	br.ReadString('\n')
	c.Write([]byte("ok"))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "POST /e ok" {
		t.Fatalf("got %q", b)
	}
}

func TestReadHeaderTimeout(t *testing.T) {
	addr := startServer(t, &Server{ReadHeaderTimeout: 200 * time.Millisecond}, httpEcho)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET / HTTP/1.1\r\nHost"))
	c.SetDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	all, err := io.ReadAll(c)
	if err != nil || !strings.HasPrefix(string(all), "HTTP/1.1 408 Request Timeout\r\n") || time.Since(start) > 3*time.Second {
		t.Fatalf("read %q %v after %v", all, err, time.Since(start))
	}
}

func TestAdapterRequest(t *testing.T) {
	reqs := make(chan *http.Request, 1)
	addr := startServer(t, &Server{}, func(w http.ResponseWriter, r *http.Request) {
		reqs <- r.Clone(r.Context())
		w.WriteHeader(204)
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("GET /a%20b?q=1 HTTP/1.1\r\nHost: h.test:8\r\nx-custom: 1\r\nX-Custom: 2\r\nuser-agent: u\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 204 {
		t.Fatal(resp, err)
	}
	got := <-reqs
	hdr := got.Header
	if got.Method != "GET" || got.URL.Path != "/a b" || got.URL.RawQuery != "q=1" || got.Host != "h.test:8" ||
		got.RequestURI != "/a%20b?q=1" || got.ProtoMinor != 1 {
		t.Fatalf("request %+v", got)
	}
	if fmt.Sprint(hdr["X-Custom"]) != "[1 2]" || hdr.Get("User-Agent") != "u" || hdr.Get("Host") != "" {
		t.Fatalf("header %v", hdr)
	}
}

// TestPanicAfterFlush: a handler that panics after part of its answer has
// gone out loses its connection, and the engine keeps serving.
func TestPanicAfterFlush(t *testing.T) {
	addr := startServer(t, &Server{ErrorLog: slog.New(slog.DiscardHandler)}, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			w.Write([]byte(strings.Repeat("x", 100)))
			w.(http.Flusher).Flush()
			panic("boom")
		}
		w.Write([]byte("fine"))
	})
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("GET /ok HTTP/1.1\r\nHost: a\r\n\r\nGET /panic HTTP/1.1\r\nHost: a\r\n\r\nGET /ok HTTP/1.1\r\nHost: a\r\n\r\n"))
		all, _ := io.ReadAll(c)
		c.Close()
		if bytes.Count(all, []byte("HTTP/1.1 200")) != 2 || !bytes.HasSuffix(all, []byte("\r\n64\r\n"+strings.Repeat("x", 100)+"\r\n")) {
			t.Fatalf("got %q", all)
		}
	}
}

// TestHijack: a handler takes the connection over, with the bytes the
// client pipelined behind its request.
func TestHijack(t *testing.T) {
	addr := startServer(t, &Server{}, func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		line, _ := rw.ReadString('\n')
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\n\r\necho " + line)
		rw.Flush()
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: x\r\n\r\nhello\n"))
	all, _ := io.ReadAll(c)
	if string(all) != "HTTP/1.1 101 Switching Protocols\r\n\r\necho hello\n" {
		t.Fatalf("got %q", all)
	}
}

// echoClient starts an echo server and returns it with a function that
// sends a GET on one keep-alive connection and checks the echo.
func echoClient(t *testing.T) (*Server, func(path string)) {
	t.Helper()
	s := &Server{IdleTimeout: 10 * time.Second}
	addr := startServer(t, s, httpEcho)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	return s, func(path string) {
		t.Helper()
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", path)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "GET "+path+" " {
			t.Fatalf("got %q", b)
		}
	}
}

// waitConn waits up to 5s for the server's one connection to be in the
// state ok looks for.
func waitConn(t *testing.T, s *Server, what string, ok func(*conn) bool) {
	t.Helper()
	testutil.WaitUntil(t, "the idle connection: it "+what, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		found := false
		for sc := range s.conns {
			found = ok(sc)
		}
		return found
	})
}

// TestIdleMovesToSmallStack: a keep-alive connection idle past
// shrinkAfter is moved by the sweep to a fresh goroutine, and serves its
// next request as before.
func TestIdleMovesToSmallStack(t *testing.T) {
	s, get := echoClient(t)
	get("/1")
	waitConn(t, s, "was not moved to a small stack", func(sc *conn) bool {
		return sc.small.Load() && sc.state.Load() == stateIdle
	})
	get("/2")
}

// TestIdleHoldsNoRequest: a connection waiting for its next request no
// longer points at the last one (its request, header maps and writer),
// which 5,000 idle connections would keep alive.
func TestIdleHoldsNoRequest(t *testing.T) {
	s, get := echoClient(t)
	get("/1")
	waitConn(t, s, "still holds its last request", func(sc *conn) bool {
		return sc.state.Load() == stateIdle && sc.cur.Load() == nil
	})
}

// TestWakeupFromPollerRenewsYield: a connection that waited in the
// netpoller and woke renews yielding and ends a starving spell.
func TestWakeupFromPollerRenewsYield(t *testing.T) {
	s, get := echoClient(t)
	get("/1")
	// Once idle, the connection's first read finds nothing and it waits
	// in the netpoller, marked as waiting.
	f := s.fairness()
	waitConn(t, s, "is not marked as waiting", func(sc *conn) bool {
		return sc.state.Load() == stateIdle && f.watched.waiting(sc.fd)
	})
	f.starving.Store(true)
	before := nanotime()
	f.polled.Store(before - 2*int64(yieldWindow))
	get("/2")
	if got := f.polled.Load(); got < before {
		t.Fatalf("the wakeup was not recorded: polled %d, request sent at %d", got, before)
	}
	if f.starving.Load() {
		t.Fatal("the wakeup did not end the starving spell")
	}
}

// watchedPair returns a non-blocking socket pair whose first end is in
// f's watch set, as a connection's would be.
func watchedPair(t *testing.T, f *Fairness) [2]int {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Close(fds[0])
		syscall.Close(fds[1])
	})
	f.watched.add(fds[0])
	return fds
}

// newFairness is a Fairness of the test's own.
func newFairness(t *testing.T) *Fairness {
	f := new(Fairness)
	t.Cleanup(func() { f.Close() })
	return f
}

// TestYieldNow: yielding goes on while wakeups come, and past yieldWindow
// it stops only for a waiting connection that has bytes, or while a
// request is in its handler, until a wakeup.
func TestYieldNow(t *testing.T) {
	f := newFairness(t)
	fds := watchedPair(t, f)
	buf := make([]byte, 16)
	stale := func() int64 { return nanotime() - 2*int64(yieldWindow) }
	for _, tc := range []struct {
		name     string
		polled   func() int64
		starving bool
		waiting  bool
		bytes    bool
		handlers int64 // requests in their handlers
		want     bool
		renewed  bool // polled moved to now
	}{
		{"wakeup within the window", nanotime, false, true, true, 1, true, false},
		{"past the window, none waiting has bytes", stale, false, true, false, 0, true, true},
		{"past the window, bytes on a busy connection", stale, false, false, true, 0, true, true},
		{"past the window, a waiting connection has bytes", stale, false, true, true, 0, false, false},
		{"past the window, more requests in handlers than other Ps", stale, false, false, false, int64(runtime.GOMAXPROCS(0)), false, false},
		{"past the window, requests in handlers on the other Ps", stale, false, false, false, int64(runtime.GOMAXPROCS(0) - 1), true, true},
		{"starving until a wakeup", stale, true, true, false, 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for { // empty the socket and the watch set's backlog
				if n, _ := syscall.Read(fds[0], buf); n <= 0 {
					break
				}
			}
			f.watched.waitingWithBytes()
			f.watched.setWaiting(fds[0], tc.waiting)
			f.starving.Store(tc.starving)
			f.inHandler.Add(tc.handlers)
			defer f.inHandler.Add(-tc.handlers)
			if tc.bytes {
				syscall.Write(fds[1], []byte("GET"))
			}
			p := tc.polled()
			f.polled.Store(p)
			if got := f.yieldNow(nanotime()); got != tc.want {
				t.Fatalf("yieldNow = %v, want %v", got, tc.want)
			}
			if renewed := f.polled.Load() != p; renewed != tc.renewed {
				t.Fatalf("polled renewed = %v, want %v", renewed, tc.renewed)
			}
			if !tc.want && !f.starving.Load() {
				t.Fatal("not yielding, but not marked as starving")
			}
		})
	}
	f.starving.Store(false)
	f.watched.setWaiting(fds[0], false)
}

// TestAcceptIsWatched: a listener whose Serve waits in Accept is marked
// as waiting, and a connection queued on it is seen by the look for
// starving connections.
func TestAcceptIsWatched(t *testing.T) {
	s := &Server{}
	addr := startServer(t, s, httpEcho)
	lfd := -1
	for deadline := time.Now().Add(5 * time.Second); lfd < 0 || !s.fairness().watched.waiting(lfd); time.Sleep(10 * time.Millisecond) {
		s.mu.Lock()
		for l := range s.listeners {
			_, lfd = rawConn(*l)
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the listener in Accept is not marked as waiting")
		}
	}

	// A listener nobody accepts on stands for one whose Serve is starved.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, fd := rawConn(ln)
	s.fairness().watched.add(fd)
	s.fairness().watched.waitingWithBytes()
	s.fairness().watched.setWaiting(fd, true)
	defer s.fairness().watched.setWaiting(fd, false)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !s.fairness().watched.waitingWithBytes() {
		t.Fatal("a connection queued on a waiting listener was not seen")
	}
	if c2, err := net.Dial("tcp", addr); err == nil {
		c2.Close()
	}
}

// TestTryReadMarksWaiting: a read that finds nothing marks the connection
// as waiting; bytes found by the first read of a wait are not a wakeup,
// and those found after one are.
func TestTryReadMarksWaiting(t *testing.T) {
	f := newFairness(t)
	fds := watchedPair(t, f)
	c := &conn{fair: f, fd: fds[0]}
	defer c.release()
	for _, tc := range []struct {
		name    string
		tries   int
		data    bool
		ok      bool
		marked  bool
		waiting bool
	}{
		{"first read finds bytes", 0, true, true, false, false},
		{"first read finds nothing", 0, false, false, false, true},
		{"read after a wakeup", 1, true, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.data {
				syscall.Write(fds[1], []byte("GET"))
			}
			f.polled.Store(0)
			c.tries = tc.tries
			if ok := c.tryRead(uintptr(fds[0])); ok != tc.ok {
				t.Fatalf("tryRead = %v, want %v", ok, tc.ok)
			}
			if marked := f.polled.Load() != 0; marked != tc.marked {
				t.Fatalf("wakeup recorded = %v, want %v", marked, tc.marked)
			}
			if w := f.watched.waiting(fds[0]); w != tc.waiting {
				t.Fatalf("waiting = %v, want %v", w, tc.waiting)
			}
		})
	}
}

// TestDoneWhileBodyRead: a handler may ask for Done on another goroutine
// while it reads the body (run with -race); the client going away (a
// reset) after the body still cancels the context.
func TestDoneWhileBodyRead(t *testing.T) {
	cancelled := make(chan bool, 1)
	addr := startServer(t, &Server{}, func(w http.ResponseWriter, r *http.Request) {
		done := make(chan (<-chan struct{}))
		go func() { done <- r.Context().Done() }()
		io.ReadAll(r.Body)
		select {
		case <-<-done:
			cancelled <- true
		case <-time.After(5 * time.Second):
			cancelled <- false
		}
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"))
	time.Sleep(50 * time.Millisecond) // Done is asked while the body is awaited
	c.Write([]byte("hello"))
	time.Sleep(100 * time.Millisecond)
	c.(*net.TCPConn).SetLinger(0) // close with a reset
	c.Close()
	if !<-cancelled {
		t.Fatal("the context was not cancelled when the client went away")
	}
}

// TestHalfCloseKeepsContext: a client that shuts down its sending side
// after its request is still there to read the answer; its request's
// context is not cancelled, and the answer arrives whole.
func TestHalfCloseKeepsContext(t *testing.T) {
	addr := startServer(t, &Server{}, func(w http.ResponseWriter, r *http.Request) {
		done := r.Context().Done()
		// Wait until the FIN has arrived, then give the watcher time
		// to take it for the client going away.
		c := w.(*response).ex.c
		var b [1]byte
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); runtime.Gosched() {
			n := -1
			c.rc.Control(func(fd uintptr) {
				n, _, _ = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			})
			if n == 0 {
				break
			}
		}
		select {
		case <-done:
			http.Error(w, "cancelled", http.StatusInternalServerError)
		case <-time.After(300 * time.Millisecond):
			io.WriteString(w, "still here")
		}
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "HTTP/1.0 200 OK\r\n") || !strings.HasSuffix(string(b), "\r\n\r\nstill here") {
		t.Fatalf("answer %q", b)
	}
}

// corkState reads TCP_CORK on the connection an answer goes out on.
func corkState(t *testing.T, w http.ResponseWriter) int {
	return tcpOption(t, w, syscall.TCP_CORK)
}

// tcpOption reads a TCP socket option on the connection an answer goes
// out on.
func tcpOption(t *testing.T, w http.ResponseWriter, opt int) int {
	var v int
	var serr error
	if err := w.(*response).ex.c.rc.Control(func(fd uintptr) {
		v, serr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, opt)
	}); err != nil || serr != nil {
		t.Errorf("getsockopt %d: %v %v", opt, err, serr)
	}
	return v
}

// fileHandler answers with the file at path through ReadFrom, as
// http.ServeContent does, calling before and after around it.
func fileHandler(t *testing.T, path string, size int, before, after func(w http.ResponseWriter)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(path)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(size))
		before(w)
		if _, err := w.(io.ReaderFrom).ReadFrom(f); err != nil {
			t.Errorf("ReadFrom: %v", err)
		}
		after(w)
	}
}

// corkProbe is a body source that records TCP_CORK while it is read.
type corkProbe struct {
	t      *testing.T
	w      http.ResponseWriter
	r      io.Reader
	corked bool
}

func (p *corkProbe) Read(b []byte) (int, error) {
	if corkState(p.t, p.w) == 1 {
		p.corked = true
	}
	return p.r.Read(b)
}

// setCorkedBytes sets corkedBytes for one test.
func setCorkedBytes(t *testing.T, n int64) {
	old := corkedBytes
	corkedBytes = n
	t.Cleanup(func() { corkedBytes = old })
}

// requestBigFile serves an 8 MiB file through fileHandler, calling after
// once ReadFrom returns, and sends one request for it on a connection
// that reads nothing yet. It returns the file's bytes, the connection and
// the server side's socket.
func requestBigFile(t *testing.T, after func(http.ResponseWriter)) ([]byte, net.Conn, syscall.RawConn) {
	t.Helper()
	body := bytes.Repeat([]byte("0123456789abcdef"), 512<<10) // 8 MiB
	path := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	rcs := make(chan syscall.RawConn, 1)
	addr := startServer(t, &Server{}, fileHandler(t, path, len(body),
		func(w http.ResponseWriter) { rcs <- w.(*response).ex.c.rc }, after))
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if _, err := io.WriteString(nc, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	return body, nc, <-rcs
}

// TestReadFromUncorksAfterFirstBytes sends a file too large for the
// socket buffers to a client that reads a little more than corkedBytes
// and then stops: while the rest of the transfer stalls inside ReadFrom,
// TCP_CORK must already be cleared.
func TestReadFromUncorksAfterFirstBytes(t *testing.T) {
	setCorkedBytes(t, 64<<10)
	done := make(chan struct{})
	body, nc, rc := requestBigFile(t, func(http.ResponseWriter) { close(done) })
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 2*corkedBytes) // past the corked part for certain
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		var v int
		_ = rc.Control(func(fd uintptr) { v, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK) })
		select {
		case <-done:
			t.Fatal("ReadFrom returned before the client read the file: the transfer never stalled")
		default:
		}
		if v == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("TCP_CORK still set after the first corkedBytes went out")
		}
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(append(first, rest...), body) {
		t.Fatalf("body: %d bytes, err %v; want the %d bytes of the file", len(first)+len(rest), err, len(body))
	}
	<-done
}

// TestReadFromCorksFiles sends a file too large for the socket buffers to
// a client that does not read yet, so the transfer stalls inside ReadFrom:
// TCP_CORK must be set then, and cleared once the file is out (left set,
// the last partial segment of every answer would wait 200 ms).
func TestReadFromCorksFiles(t *testing.T) {
	setCorkedBytes(t, 1<<30) // the whole file goes out corked
	after := make(chan int, 1)
	body, nc, rc := requestBigFile(t, func(w http.ResponseWriter) { after <- corkState(t, w) })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		var v int
		_ = rc.Control(func(fd uintptr) { v, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK) })
		if v == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("TCP_CORK was not set while the file went out")
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("body: %d bytes, err %v; want the %d bytes of the file", len(got), err, len(body))
	}
	if v := <-after; v != 0 {
		t.Errorf("TCP_CORK after ReadFrom = %d, want 0", v)
	}
}

// TestReadFromBoundsUnsent checks that a file larger than notSentLowat
// sets TCP_NOTSENT_LOWAT on its connection before it goes out, and that a
// small one leaves the socket as it is.
func TestReadFromBoundsUnsent(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
		set  bool // TCP_NOTSENT_LOWAT is notSentLowat after the answer
	}{
		{"small file", 4 << 10, false},
		{"at the bound", notSentLowat, false},
		{"large file", 1 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := bytes.Repeat([]byte{'x'}, tc.size)
			path := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(path, body, 0o644); err != nil {
				t.Fatal(err)
			}
			got := make(chan int, 1)
			addr := startServer(t, &Server{}, fileHandler(t, path, tc.size,
				func(http.ResponseWriter) {},
				func(w http.ResponseWriter) { got <- tcpOption(t, w, tcpNotSentLowat) }))
			resp, err := http.Get("http://" + addr + "/")
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || !bytes.Equal(b, body) {
				t.Fatalf("body: %d bytes, err %v; want the %d bytes of the file", len(b), err, tc.size)
			}
			// Unset, the option reads back as the sysctl
			// net.ipv4.tcp_notsent_lowat (by default 2^32-1, or -1 as an int).
			if v := <-got; (v == notSentLowat) != tc.set {
				t.Errorf("TCP_NOTSENT_LOWAT = %d, set by the server: %v; want set: %v", v, v == notSentLowat, tc.set)
			}
		})
	}
}

// TestReadFromDoesNotCorkReaders checks that a body from a reader that is
// not a file (it may produce a little at a time) goes out uncorked, and
// whole.
func TestReadFromDoesNotCorkReaders(t *testing.T) {
	body := strings.Repeat("0123456789abcdef", 8<<10) // 128 KiB
	corked := make(chan bool, 1)
	addr := startServer(t, &Server{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		p := &corkProbe{t: t, w: w, r: strings.NewReader(body)}
		if _, err := w.(io.ReaderFrom).ReadFrom(p); err != nil {
			t.Errorf("ReadFrom: %v", err)
		}
		corked <- p.corked
	})
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != body {
		t.Fatalf("body: %d bytes, err %v; want %d bytes", len(b), err, len(body))
	}
	if <-corked {
		t.Error("TCP_CORK was set while a reader that is not a file was copied")
	}
}

// TestWriteHeaderBlockMatchesMap: a head given ready-made, in two parts,
// goes out byte for byte as the same fields set in the header map would,
// for GET and HEAD, HTTP/1.1 and HTTP/1.0.
func TestWriteHeaderBlockMatchesMap(t *testing.T) {
	body := "<p>hello</p>"
	fields := map[string]string{"Accept-Ranges": "bytes", "Content-Length": "12",
		"Content-Type": "text/html; charset=utf-8", "Etag": `"x"`, "Server": "httpd"}
	addr := startServer(t, &Server{}, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			type blockWriter interface {
				WriteHeaderBlock(code int, block, more []byte, length int64, closing bool)
			}
			w.(blockWriter).WriteHeaderBlock(200, []byte("Accept-Ranges: bytes\r\nContent-Length: 12\r\n"+
				"Content-Type: text/html; charset=utf-8\r\nEtag: \"x\"\r\n"), []byte("Server: httpd\r\n"), 12, false)
		} else {
			for k, v := range fields {
				w.Header().Set(k, v)
			}
			w.WriteHeader(200)
		}
		if r.Method != "HEAD" {
			io.WriteString(w, body)
		}
	})
	date := regexp.MustCompile(`Date: [^\r]*\r\n`)
	get := func(method, path, proto string) string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "%s %s %s\r\nHost: a\r\nConnection: close\r\n\r\n", method, path, proto)
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		return date.ReplaceAllString(string(b), "Date: -\r\n")
	}
	for _, method := range []string{"GET", "HEAD"} {
		for _, proto := range []string{"HTTP/1.1", "HTTP/1.0"} {
			viaMap, viaBlock := get(method, "/map", proto), get(method, "/block", proto)
			if viaMap != viaBlock {
				t.Errorf("%s %s: the ready head sent\n%q\nthe map\n%q", method, proto, viaBlock, viaMap)
			}
			if !strings.Contains(viaBlock, "Server: httpd\r\n") || (method == "GET") != strings.HasSuffix(viaBlock, body) {
				t.Errorf("%s %s: %q", method, proto, viaBlock)
			}
		}
	}
}

func TestRenewIdle(t *testing.T) {
	const s = int64(time.Second)
	tests := []struct {
		left int64
		d    time.Duration
		want bool
	}{
		{0, 300 * time.Second, true},                                   // no deadline
		{-5 * s, 300 * time.Second, true},                              // passed
		{299 * s, 300 * time.Second, true},                             // less than the timeout away
		{300 * s, 300 * time.Second, false},                            // exactly the timeout
		{300*s + s/2, 300 * time.Second, false},                        // within the slack (1 s)
		{301 * s, 300 * time.Second, false},                            // the slack's end
		{302 * s, 300 * time.Second, true},                             // further than timeout and slack
		{400 * int64(time.Millisecond), 300 * time.Millisecond, true},  // 300 ms: slack 37.5 ms
		{330 * int64(time.Millisecond), 300 * time.Millisecond, false}, // within it
	}
	for _, tt := range tests {
		if got := renewIdle(tt.left, tt.d); got != tt.want {
			t.Errorf("renewIdle(%v, %v) = %v, want %v", time.Duration(tt.left), tt.d, got, tt.want)
		}
	}
}

// TestIdleKeepsDeadline: back-to-back requests on a keep-alive connection
// leave its idle deadline where the first one put it, at least the idle
// timeout ahead.
func TestIdleKeepsDeadline(t *testing.T) {
	s, get := echoClient(t) // IdleTimeout 10s
	get("/1")
	var first time.Time
	waitConn(t, s, "has no idle deadline", func(sc *conn) bool {
		if sc.state.Load() != stateIdle { // read first: it orders the read of rdl after its write
			return false
		}
		first = sc.rdl
		return !first.IsZero()
	})
	if left := time.Until(first); left < 9*time.Second || left > 11*time.Second+idleSlack(10*time.Second) {
		t.Fatalf("idle deadline %v away, want 10s to 10s and the slack", left)
	}
	get("/2")
	waitConn(t, s, "moved its idle deadline", func(sc *conn) bool {
		return sc.state.Load() == stateIdle && sc.rdl.Equal(first)
	})
}

// TestHeaderMapReused: answers get the header maps of earlier ones,
// emptied: nothing set for one answer shows in the next, and maps are
// made far fewer times than answers (not never: sync.Pool may drop one,
// and under the race detector it drops some on purpose).
func TestHeaderMapReused(t *testing.T) {
	var mu sync.Mutex
	var maps []uintptr
	addr := startServer(t, &Server{}, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		h := w.Header()
		if len(h) != 0 {
			t.Errorf("%s: the header map holds %v", r.URL.Path, h)
		}
		maps = append(maps, reflect.ValueOf(h).Pointer())
		h.Set("X-Path", r.URL.Path)
		if r.URL.Path == "/1" {
			h.Set("X-Only-First", "1")
		}
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	paths := []string{"/1"}
	for i := 2; i <= 40; i++ {
		paths = append(paths, "/"+strconv.Itoa(i))
	}
	for _, p := range paths {
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", p)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		if got := resp.Header.Get("X-Path"); got != p {
			t.Errorf("%s: X-Path %q", p, got)
		}
		if p != "/1" && resp.Header.Get("X-Only-First") != "" {
			t.Errorf("%s: a field of the first answer came along", p)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	distinct := map[uintptr]bool{}
	for _, m := range maps {
		distinct[m] = true
	}
	// The race detector's pool drops a quarter of what it is given:
	// about 11 maps for 40 answers, where 30 is far out of reach.
	if len(maps) != len(paths) || len(distinct) > len(paths)*3/4 {
		t.Errorf("%d answers had %d header maps: want them reused", len(maps), len(distinct))
	}
}
