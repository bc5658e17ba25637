package h1_test

// Conformance suite for the HTTP/1.1 engine: black-box, against its exported
// API only. Most of it is differential: the same http.Handler runs on a
// net/http http.Server and on an h1.Server (each on 127.0.0.1:0), both get
// the same raw bytes, and their raw answers are compared after the Date
// header is normalised (and, for refusals, after the reason text is
// dropped). Where the engine differs on purpose, the table says what it
// must answer instead. The behaviour tests (flushing, contexts, timeouts,
// shutdown) run against both servers; the net/http run is the control that
// shows the expectation is net/http's.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"httpd/internal/testcert"
	"httpd/internal/testutil"
	"httpd/vhost/h1"
)

// ---------------------------------------------------------------------------
// Servers.

// config is what both servers are configured with.
type config struct {
	readHeaderTimeout, readTimeout, writeTimeout, idleTimeout time.Duration
	maxHeaderBytes                                            int
	connContext                                               func(context.Context, net.Conn) context.Context
	tls                                                       bool // listen for TLS (startOn)
}

// testServer is a running server of either kind.
type testServer struct {
	name     string
	engine   bool
	addr     string
	done     chan struct{} // closed when Serve returns
	serveErr error
	shutdown func(context.Context) error
	close    func() error
	rejects  *rejectLog // engine only
	logs     *testutil.SyncBuffer
}

type rejectCall struct {
	status int
	reason string
	remote string
}

// rejectLog records the engine's Rejected calls.
type rejectLog struct {
	mu    sync.Mutex
	calls []rejectCall
}

func (l *rejectLog) add(c net.Conn, status int, reason string) {
	rc := rejectCall{status: status, reason: reason}
	if c != nil && c.RemoteAddr() != nil {
		rc.remote = c.RemoteAddr().String()
	}
	l.mu.Lock()
	l.calls = append(l.calls, rc)
	l.mu.Unlock()
}

// wait reports whether a call with status was recorded within d.
func (l *rejectLog) wait(status int, d time.Duration) (rejectCall, bool) {
	end := time.Now().Add(d)
	for {
		l.mu.Lock()
		for _, c := range l.calls {
			if c.status == status {
				l.mu.Unlock()
				return c, true
			}
		}
		l.mu.Unlock()
		if time.Now().After(end) {
			return rejectCall{}, false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (l *rejectLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.calls)
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// startOn returns start for transport tr: "tcp", or "tls", where the
// server listens for TLS with a test certificate and its address says
// "tls://" so that dialAddr speaks TLS to it.
func startOn(tr string, start starter) starter {
	if tr != "tls" {
		return start
	}
	return func(t testing.TB, h http.Handler, c config) *testServer {
		c.tls = true
		s := start(t, h, c)
		s.addr = "tls://" + s.addr
		return s
	}
}

var (
	certOnce sync.Once
	certTLS  *tls.Config // the server's
	certPool *x509.CertPool
)

// listenFor is listen, wrapped in TLS when c says so.
func listenFor(t testing.TB, c config) net.Listener {
	ln := listen(t)
	if !c.tls {
		return ln
	}
	certOnce.Do(func() {
		tc := testcert.New(t)
		certTLS = &tls.Config{Certificates: []tls.Certificate{tc.TLS}, NextProtos: []string{"http/1.1"}}
		certPool = tc.Pool
	})
	return tls.NewListener(ln, certTLS)
}

// reset closes c with a TCP reset, under TLS too.
func reset(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
}

// dialAddr connects to addr, in TLS when it starts with "tls://".
func dialAddr(addr string, timeout time.Duration) (net.Conn, error) {
	if a, ok := strings.CutPrefix(addr, "tls://"); ok {
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout},
			Config: &tls.Config{RootCAs: certPool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}}}
		c, err := d.Dial("tcp", a)
		if err == nil {
			// Handshake now, so that a case's timing starts with its
			// first request byte on either transport.
			err = c.(*tls.Conn).Handshake()
		}
		return c, err
	}
	return net.DialTimeout("tcp", addr, timeout)
}

func startStd(t testing.TB, h http.Handler, c config) *testServer {
	t.Helper()
	ln := listenFor(t, c)
	sink := new(testutil.SyncBuffer)
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: c.readHeaderTimeout,
		ReadTimeout:       c.readTimeout,
		WriteTimeout:      c.writeTimeout,
		IdleTimeout:       c.idleTimeout,
		MaxHeaderBytes:    c.maxHeaderBytes,
		ConnContext:       c.connContext,
		ErrorLog:          log.New(sink, "", 0),
	}
	s := &testServer{name: "net/http", addr: ln.Addr().String(), done: make(chan struct{}),
		shutdown: hs.Shutdown, close: hs.Close, logs: sink}
	go func() { s.serveErr = hs.Serve(ln); close(s.done) }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

func startEngine(t testing.TB, h http.Handler, c config) *testServer {
	t.Helper()
	ln := listenFor(t, c)
	sink := new(testutil.SyncBuffer)
	rl := new(rejectLog)
	es := &h1.Server{
		Handler:           h,
		ReadHeaderTimeout: c.readHeaderTimeout,
		ReadTimeout:       c.readTimeout,
		WriteTimeout:      c.writeTimeout,
		IdleTimeout:       c.idleTimeout,
		MaxHeaderBytes:    c.maxHeaderBytes,
		ConnContext:       c.connContext,
		Rejected:          rl.add,
		ErrorLog:          slog.New(slog.NewTextHandler(sink, nil)),
	}
	s := &testServer{name: "h1", engine: true, addr: ln.Addr().String(), done: make(chan struct{}),
		shutdown: es.Shutdown, close: es.Close, rejects: rl, logs: sink}
	go func() { s.serveErr = es.Serve(ln); close(s.done) }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop closes the server and checks that Serve returns http.ErrServerClosed.
func (s *testServer) stop(t testing.TB) {
	closed := make(chan struct{})
	go func() { s.close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Errorf("%s: Close did not return within 5s", s.name)
		return
	}
	select {
	case <-s.done:
		if !errors.Is(s.serveErr, http.ErrServerClosed) {
			t.Errorf("%s: Serve returned %v, want http.ErrServerClosed", s.name, s.serveErr)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("%s: Serve did not return within 5s of Close", s.name)
	}
}

type starter func(t testing.TB, h http.Handler, c config) *testServer

// both runs f against net/http (the control) and against the engine, in
// parallel.
// Both transports: each server runs over plain TCP and over TLS.
func both(t *testing.T, f func(t *testing.T, start starter, engine bool)) {
	t.Parallel()
	t.Run("net-http", func(t *testing.T) { t.Parallel(); f(t, startStd, false) })
	t.Run("h1", func(t *testing.T) { t.Parallel(); f(t, startEngine, true) })
	t.Run("net-http-tls", func(t *testing.T) { t.Parallel(); f(t, startOn("tls", startStd), false) })
	t.Run("h1-tls", func(t *testing.T) { t.Parallel(); f(t, startOn("tls", startEngine), true) })
}

// ---------------------------------------------------------------------------
// Raw exchanges.

// step is one action of the client in an exchange.
type step struct {
	waitFor    string        // first wait until the output so far holds this
	delay      time.Duration // then wait this long (reading meanwhile)
	write      string        // then write this
	closeWrite bool          // then half-close
}

// exch is what a server answered on one connection.
type exch struct {
	raw      []byte
	closed   bool // the server closed (EOF or reset)
	timedOut bool // the expected answers were not complete before the deadline
	waitFail string
}

const closeWait = 300 * time.Millisecond

// slowCloseWait is closeWait for a second look when the two servers
// seemed to differ only in closing.
const slowCloseWait = 2 * time.Second

// exchange dials addr, performs steps, reads until n final answers are
// complete (or the connection closes, or timeout), then waits quietly for
// closeWait to see whether the server closes or sends more. n == 0 only
// waits for quiet.
func exchange(addr string, steps []step, methods []string, n int, timeout time.Duration, quiet time.Duration) exch {
	var e exch
	c, err := dialAddr(addr, 2*time.Second)
	if err != nil {
		e.waitFail = "dial: " + err.Error()
		return e
	}
	deadline := time.Now().Add(timeout)
	c.SetDeadline(deadline.Add(quiet + 2*time.Second)) // backstop
	type chunk struct {
		b   []byte
		err error
	}
	ch := make(chan chunk, 256)
	go func() {
		defer close(ch)
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				ch <- chunk{b: bytes.Clone(buf[:n])}
			}
			if err != nil {
				ch <- chunk{err: err}
				return
			}
		}
	}()
	eof := false
	recv := func(until time.Time) bool {
		if eof {
			return false
		}
		d := time.Until(until)
		if d <= 0 {
			return false
		}
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case ck, ok := <-ch:
			if !ok || ck.err != nil {
				eof = true
				if !ok || isClosedErr(ck.err) {
					e.closed = true
				}
				return false
			}
			e.raw = append(e.raw, ck.b...)
			return true
		case <-tm.C:
			return false
		}
	}
	for _, s := range steps {
		if s.waitFor != "" {
			for !bytes.Contains(e.raw, []byte(s.waitFor)) {
				if !recv(deadline) {
					e.waitFail = fmt.Sprintf("did not see %q", s.waitFor)
					break
				}
			}
		}
		if s.delay > 0 {
			until := time.Now().Add(s.delay)
			for time.Now().Before(until) {
				if !recv(until) && eof {
					time.Sleep(time.Until(until))
				}
			}
		}
		if s.write != "" {
			c.SetWriteDeadline(time.Now().Add(timeout))
			c.Write([]byte(s.write)) // errors show as the server's answer (or its absence)
		}
		if s.closeWrite {
			c.(interface{ CloseWrite() error }).CloseWrite()
		}
	}
	for n > 0 && !eof {
		rs, pending := parseResponses(e.raw, methods, false)
		if finals(rs) >= n && !pending {
			break
		}
		if !recv(deadline) && !eof {
			e.timedOut = true
			break
		}
	}
	for !eof {
		if !recv(time.Now().Add(quiet)) {
			break
		}
	}
	c.Close()
	for range ch {
	}
	return e
}

func isClosedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) ||
		// Over TLS, a server that gives up mid-record (a write timeout)
		// leaves a record the client cannot authenticate: the stream is
		// over all the same.
		strings.Contains(err.Error(), "tls: bad record MAC")
}

// requestMethods returns the methods of the requests in in, as far as
// net/http can parse them (HEAD answers have no body).
func requestMethods(in string) []string {
	br := bufio.NewReader(strings.NewReader(in))
	var ms []string
	for len(ms) < 1000 {
		req, err := http.ReadRequest(br)
		if err != nil {
			break
		}
		ms = append(ms, req.Method)
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			break
		}
	}
	return ms
}

// ---------------------------------------------------------------------------
// Responses.

// resp is one parsed answer.
type resp struct {
	statusLine string
	code       int
	header     []string // lines sorted by name (stable), Date normalised
	rawHeader  []string // lines as received
	body       []byte   // decoded
	chunked    bool
	trailer    []string
	final      bool
	problem    string // truncated, garbage
}

func (r *resp) get(name string) (string, bool) {
	for _, l := range r.header {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

func finals(rs []resp) int {
	n := 0
	for _, r := range rs {
		if r.final {
			n++
		}
	}
	return n
}

// parseResponses splits data into answers. methods are the methods of the
// requests, in order (for HEAD). With eof, a body delimited by the close is
// complete and anything unfinished is reported as truncated; without, an
// unfinished answer makes pending true.
func parseResponses(data []byte, methods []string, eof bool) (out []resp, pending bool) {
	pos, req := 0, 0
	for pos < len(data) {
		rest := data[pos:]
		he := bytes.Index(rest, []byte("\r\n\r\n"))
		if he < 0 {
			if eof {
				out = append(out, resp{problem: fmt.Sprintf("truncated or garbage: %q", clip(rest))})
				return out, false
			}
			return out, true
		}
		lines := strings.Split(string(rest[:he]), "\r\n")
		r := resp{statusLine: lines[0]}
		f := strings.SplitN(lines[0], " ", 3)
		code := 0
		if len(f) >= 2 && strings.HasPrefix(f[0], "HTTP/") && len(f[1]) == 3 {
			code, _ = strconv.Atoi(f[1])
		}
		if code < 100 {
			out = append(out, resp{problem: fmt.Sprintf("garbage: %q", clip(rest))})
			return out, false
		}
		r.code = code
		r.rawHeader = lines[1:]
		date := ""
		for _, l := range lines[1:] {
			if k, v, ok := strings.Cut(l, ":"); ok && k == "Date" && date == "" {
				// The Date line is compared apart from its position (see
				// TestHeaderOrder) and value (when valid and recent).
				if tm, err := http.ParseTime(strings.TrimSpace(v)); err == nil && strings.HasPrefix(v, " ") && time.Since(tm).Abs() < time.Hour {
					date = "Date: <date>"
				} else {
					date = l
				}
				continue
			}
			r.header = append(r.header, l)
		}
		if date != "" {
			r.header = append(r.header, date)
		}
		// Compared as a set (values of one field keep their order): where
		// net/http puts Date, Content-Length and Content-Type relative to
		// the handler's fields is checked by TestHeaderOrder alone.
		slices.SortStableFunc(r.header, func(a, b string) int {
			ka, _, _ := strings.Cut(a, ":")
			kb, _, _ := strings.Cut(b, ":")
			return strings.Compare(strings.ToLower(ka), strings.ToLower(kb))
		})
		body := rest[he+4:]
		consumed := he + 4
		method := "GET"
		if req < len(methods) {
			method = methods[req]
		}
		te, _ := r.get("Transfer-Encoding")
		cl, hasCL := r.get("Content-Length")
		switch {
		case code < 200 && code != 101:
			// interim answer
		case method == "HEAD" || code == 204 || code == 304:
			r.final = true
		case strings.EqualFold(te, "chunked"):
			r.final = true
			r.chunked = true
			b, tr, n, state := decodeChunked(body)
			switch state {
			case chunkOK:
				r.body, r.trailer = b, tr
				consumed += n
			case chunkIncomplete:
				if !eof {
					return out, true
				}
				r.body = b
				r.problem = "chunked body truncated by close"
				consumed = len(rest)
			default:
				r.body = b
				r.problem = fmt.Sprintf("bad chunked framing at %q", clip(body[n:]))
				consumed = len(rest)
			}
		case hasCL:
			r.final = true
			n, err := strconv.Atoi(cl)
			if err != nil || n < 0 {
				r.problem = "bad Content-Length " + cl
				r.body = body
				consumed = len(rest)
				break
			}
			if len(body) < n {
				if !eof {
					return out, true
				}
				r.body = body
				r.problem = fmt.Sprintf("body truncated by close: %d of %d bytes", len(body), n)
				consumed = len(rest)
				break
			}
			r.body = body[:n]
			consumed += n
		default:
			r.final = true
			if !eof {
				return out, true
			}
			r.body = body
			consumed = len(rest)
		}
		if r.final {
			req++
		}
		out = append(out, r)
		pos += consumed
	}
	return out, false
}

const (
	chunkOK = iota
	chunkIncomplete
	chunkBad
)

// decodeChunked decodes a chunked body (strictly, CRLF everywhere).
func decodeChunked(b []byte) (body []byte, trailer []string, n int, state int) {
	pos := 0
	for {
		i := bytes.Index(b[pos:], []byte("\r\n"))
		if i < 0 {
			return body, nil, pos, chunkIncomplete
		}
		line := string(b[pos : pos+i])
		if j := strings.IndexByte(line, ';'); j >= 0 {
			line = line[:j]
		}
		size, err := strconv.ParseUint(line, 16, 63)
		if err != nil {
			return body, nil, pos, chunkBad
		}
		pos += i + 2
		if size == 0 {
			break
		}
		if uint64(len(b)-pos) < size+2 {
			body = append(body, b[pos:min(len(b), pos+int(size))]...)
			return body, nil, pos, chunkIncomplete
		}
		body = append(body, b[pos:pos+int(size)]...)
		pos += int(size)
		if string(b[pos:pos+2]) != "\r\n" {
			return body, nil, pos, chunkBad
		}
		pos += 2
	}
	for {
		i := bytes.Index(b[pos:], []byte("\r\n"))
		if i < 0 {
			return body, trailer, pos, chunkIncomplete
		}
		line := string(b[pos : pos+i])
		pos += i + 2
		if line == "" {
			return body, trailer, pos, chunkOK
		}
		trailer = append(trailer, line)
	}
}

func clip(b []byte) []byte {
	if len(b) > 300 {
		return b[:300]
	}
	return b
}

// rejectCodes are the statuses the engine answers by itself.
var rejectCodes = map[int]bool{400: true, 408: true, 413: true, 417: true, 431: true, 501: true, 505: true}

func bodyString(b []byte) string {
	if len(b) <= 1024 {
		return strconv.Quote(string(b))
	}
	sum := sha256.Sum256(b)
	return fmt.Sprintf("<%d bytes, sha256 %x…, starts %q>", len(b), sum[:8], b[:64])
}

// norm renders an answer for comparison. A refusal (a status in
// rejectCodes) is rendered as its status only: reason phrase, headers and
// body text may differ.
func (r *resp) norm(anyFraming bool) string {
	if r.statusLine == "" {
		return "!" + r.problem
	}
	if rejectCodes[r.code] {
		return fmt.Sprintf("<refused %d>", r.code)
	}
	var b strings.Builder
	b.WriteString(r.statusLine)
	b.WriteByte('\n')
	for _, h := range r.header {
		if anyFraming {
			k, _, _ := strings.Cut(h, ":")
			if strings.EqualFold(k, "Content-Length") || strings.EqualFold(k, "Transfer-Encoding") {
				continue
			}
		}
		b.WriteString(h)
		b.WriteByte('\n')
	}
	if !r.final {
		return b.String()
	}
	b.WriteString("body ")
	b.WriteString(bodyString(r.body))
	for _, tr := range r.trailer {
		b.WriteString("\ntrailer " + tr)
	}
	if r.problem != "" {
		b.WriteString("\n!" + r.problem)
	}
	return b.String()
}

// render renders a whole exchange.
func render(e exch, methods []string, anyFraming bool) string {
	rs, pending := parseResponses(e.raw, methods, e.closed)
	var parts []string
	for i := range rs {
		parts = append(parts, rs[i].norm(anyFraming))
	}
	s := strings.Join(parts, "\n-----\n")
	if pending {
		s += "\n!unfinished answer at the deadline"
	}
	if e.timedOut {
		s += "\n[no complete answer before the deadline]"
	}
	if e.closed {
		s += "\n[closed]"
	} else {
		s += "\n[open]"
	}
	if e.waitFail != "" {
		s += "\n[" + e.waitFail + "]"
	}
	return s
}

// ---------------------------------------------------------------------------
// Handlers.

// echo answers with a description of the request (with an explicit
// Content-Length, so that the framing of the answer never depends on the
// size of the description).
func echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.Header().Set("X-Echo-Error", "1")
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q %s %d.%d\n", r.Method, r.RequestURI, r.Proto, r.ProtoMajor, r.ProtoMinor)
	u := r.URL
	fmt.Fprintf(&b, "url scheme=%q opaque=%q user=%q host=%q path=%q rawpath=%q query=%q fragment=%q\n",
		u.Scheme, u.Opaque, u.User.String(), u.Host, u.Path, u.RawPath, u.RawQuery, u.Fragment)
	fmt.Fprintf(&b, "host=%q close=%v contentlength=%d te=%q\n", r.Host, r.Close, r.ContentLength, r.TransferEncoding)
	for _, k := range slices.Sorted(maps.Keys(r.Header)) {
		fmt.Fprintf(&b, "h %s: %q\n", k, r.Header[k])
	}
	fmt.Fprintf(&b, "body %q\n", body)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	io.WriteString(w, b.String())
}

// echoTrailer is echo plus r.Trailer after the body.
func echoTrailer(w http.ResponseWriter, r *http.Request) {
	before := fmt.Sprint(r.Trailer)
	body, err := io.ReadAll(r.Body)
	fmt.Fprintf(w, "before %s\nbody %q err %v\nafter %v\n", before, body, err, r.Trailer)
}

// noRead answers without reading the body.
func noRead(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, "did not read "+r.URL.Path+"\n")
}

func writeString(s string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, s) }
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = "abcdefghijklmnopqrstuvwxyz0123456789\n"[i%37]
	}
	return b
}

// ---------------------------------------------------------------------------
// The differential table.

type diffCase struct {
	name  string
	in    string // the raw bytes sent (unless steps)
	steps []step
	n     int // final answers to wait for; 0 means 1, -1 means none (wait for quiet)
	// want, for a deliberate difference, is the status the engine must
	// answer (in net/http's error format) before closing; 0 means "as
	// net/http".
	want int
	// bodyErr: the refusal (want) may come from the handler's failing body
	// read instead of from the engine (chunk framing errors).
	bodyErr    bool
	h          http.HandlerFunc // nil: echo
	setup      func(t *testing.T) http.HandlerFunc
	cfg        config
	anyFraming bool // ignore Content-Length / Transfer-Encoding in the comparison
	// ignoreClose: whether the server closes is not compared (net/http
	// blocks reading a body it will discard that never comes).
	ignoreClose bool
	timeout     time.Duration // for the expected answers; 0: 5s
}

const get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"

func hdrs(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "X-H%d: %d\r\n", i, i)
	}
	return b.String()
}

func requestCases() []diffCase {
	return []diffCase{
		// Methods.
		{name: "GET", in: get},
		{name: "POST with body", in: "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"},
		{name: "PUT", in: "PUT /p HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"},
		{name: "DELETE", in: "DELETE /d HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "PATCH", in: "PATCH /p HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx"},
		{name: "HEAD", in: "HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "TRACE", in: "TRACE /t HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "OPTIONS path", in: "OPTIONS /o HTTP/1.1\r\nHost: a\r\n\r\n"},
		// net/http answers "OPTIONS *" itself; the engine hands it to the
		// handler (httpd answers it in one place for both engines), so
		// the handler here answers as net/http does.
		{name: "OPTIONS *", in: "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", h: serverOptions},
		{name: "OPTIONS * with body", in: "OPTIONS * HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" + get, n: 2, h: serverOptions},
		{name: "extension method token", in: "M-SEARCH~1 /x HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "lower-case method", in: "get / HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "method with bad byte", in: "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "method with NUL", in: "GE\x00T / HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "empty method", in: " / HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "CONNECT authority form", in: "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n"},
		{name: "CONNECT without Host", in: "CONNECT a.example:443 HTTP/1.1\r\n\r\n"},
		{name: "CONNECT origin form", in: "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n"},

		// Targets.
		{name: "query string", in: "GET /a/b?x=1&y=%20z&&k HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "escaped path", in: "GET /a%2Fb%20c/%7Euser HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "lower-case escapes", in: "GET /a%2fb%c3%a9 HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "bad escape in path", in: "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "truncated escape in path", in: "GET /a% HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "bad escape in query", in: "GET /a?x=%zz HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "fragment in target", in: "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "semicolon in query", in: "GET /a?x=1;y=2 HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "double slash path", in: "GET //a//b HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "dot segments", in: "GET /a/../b/./c HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "UTF-8 in path", in: "GET /é?ü=1 HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "long target", in: "GET /" + strings.Repeat("x", 8000) + " HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "absolute form", in: "GET http://example.com/x?y=1 HTTP/1.1\r\nHost: other\r\n\r\n"},
		{name: "absolute form https with port", in: "GET https://example.com:8443/ HTTP/1.1\r\nHost: example.com:8443\r\n\r\n"},
		{name: "absolute form upper-case scheme", in: "GET HTTP://EXAMPLE.com/A HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "absolute form with userinfo", in: "GET http://u:p@example.com/ HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "absolute form without path", in: "GET http://example.com HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "absolute form other scheme", in: "GET ftp://example.com/a HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "absolute form without Host header", in: "GET http://example.com/ HTTP/1.1\r\n\r\n"},
		{name: "asterisk with GET", in: "GET * HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "relative target", in: "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "target with control byte", in: "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "target with DEL", in: "GET /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "target with tab", in: "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "target with space", in: "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"},

		// Request line and version.
		{name: "bare LF line ends", in: "GET /lf HTTP/1.1\nHost: a\nX: 1\n\n"},
		{name: "mixed line ends", in: "GET /lf HTTP/1.1\r\nHost: a\nX: 1\r\n\n"},
		{name: "HTTP/1.0 without Host", in: "GET / HTTP/1.0\r\n\r\n"},
		{name: "HTTP/1.0 with Host", in: "GET / HTTP/1.0\r\nHost: a\r\n\r\n"},
		{name: "HTTP/1.0 keep-alive", in: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"},
		{name: "HTTP/1.0 keep-alive pipelined", in: "GET /1 HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\nGET /3 HTTP/1.0\r\n\r\n", n: 2},
		{name: "HTTP/1.0 POST", in: "POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi"},
		{name: "HTTP/1.1 Connection: close", in: "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"},
		{name: "Connection: close among tokens", in: "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\r\n\r\n"},
		{name: "Connection: close in second field", in: "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo\r\nConnection: close\r\n\r\n" + get, n: 2},
		{name: "HTTP/1.1 Connection: keep-alive", in: "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n"},
		{name: "HTTP/1.2", in: "GET / HTTP/1.2\r\nHost: a\r\n\r\n"},
		{name: "HTTP/1.9 keep-alive", in: "GET /1 HTTP/1.9\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n", n: 2},
		{name: "HTTP/2.0", in: "GET / HTTP/2.0\r\nHost: a\r\n\r\n"},
		{name: "HTTP/0.9 version", in: "GET / HTTP/0.9\r\nHost: a\r\n\r\n"},
		{name: "HTTP/3.0", in: "GET / HTTP/3.0\r\nHost: a\r\n\r\n"},
		{name: "HTTP/2 preface", in: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", want: 505},
		{name: "lower-case version", in: "GET / http/1.1\r\nHost: a\r\n\r\n"},
		{name: "version with trailing space", in: "GET / HTTP/1.1 \r\nHost: a\r\n\r\n"},
		{name: "version HTTP/11", in: "GET / HTTP/11\r\nHost: a\r\n\r\n"},
		{name: "version HTTP/1.10", in: "GET / HTTP/1.10\r\nHost: a\r\n\r\n"},
		{name: "no version", in: "GET /\r\nHost: a\r\n\r\n"},
		{name: "double space", in: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "leading space", in: " GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "leading empty line", in: "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "empty line after POST body", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab\r\n" + get, n: 2},
		{name: "binary garbage", in: "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n"},

		// Host.
		{name: "missing Host on 1.1", in: "GET / HTTP/1.1\r\nX: 1\r\n\r\n"},
		{name: "two Host fields", in: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
		{name: "two identical Host fields", in: "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"},
		{name: "empty Host", in: "GET / HTTP/1.1\r\nHost:\r\n\r\n"},
		{name: "Host with port", in: "GET / HTTP/1.1\r\nHost: a.example:8080\r\n\r\n"},
		{name: "Host IPv6 literal", in: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"},
		{name: "Host with space", in: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"},
		{name: "Host with slash", in: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"},
		{name: "Host with at sign", in: "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"},
		{name: "Host with UTF-8", in: "GET / HTTP/1.1\r\nHost: é.example\r\n\r\n"},
		{name: "Host with underscore and tilde", in: "GET / HTTP/1.1\r\nHost: a_b~c\r\n\r\n"},
		{name: "lower-case host field", in: "GET / HTTP/1.1\r\nhost: A.Example\r\n\r\n"},
		{name: "Host on 1.0", in: "GET / HTTP/1.0\r\nHost: x\r\n\r\n"},

		// Header fields.
		{name: "canonical keys and repeated fields", in: "GET / HTTP/1.1\r\nHost: a\r\nx-foo: 1\r\nX-FOO: 2\r\nX-Foo: 3\r\naccept-ENCODING: gzip\r\nx_under: u\r\nx-1-a: n\r\n\r\n"},
		{name: "value whitespace trimmed", in: "GET / HTTP/1.1\r\nHost: a\r\nX:  a b \t\r\nY:\tc\r\n\r\n"},
		{name: "empty value", in: "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nY-Empty:   \r\n\r\n"},
		{name: "value with obs-text", in: "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xe9 \xff\r\n\r\n"},
		{name: "value with inner tab", in: "GET / HTTP/1.1\r\nHost: a\r\nX: a\tb\r\n\r\n"},
		{name: "value with NUL", in: "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n"},
		{name: "value with CR", in: "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"},
		{name: "value ending in CR CR", in: "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n"},
		{name: "value with DEL", in: "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n"},
		{name: "value with ESC", in: "GET / HTTP/1.1\r\nHost: a\r\nX: a\x1bb\r\n\r\n"},
		{name: "space before colon", in: "GET / HTTP/1.1\r\nHost: a\r\nX : 1\r\n\r\n"},
		{name: "space before colon on Host", in: "GET / HTTP/1.1\r\nHost : a\r\n\r\n"},
		{name: "name with bad byte", in: "GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n"},
		{name: "name with UTF-8", in: "GET / HTTP/1.1\r\nHost: a\r\nXé: 1\r\n\r\n"},
		{name: "empty name", in: "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n"},
		{name: "line without colon", in: "GET / HTTP/1.1\r\nHost: a\r\nfoo\r\n\r\n"},
		{name: "obs-fold", in: "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", want: 400},
		{name: "obs-fold with tab", in: "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", want: 400},
		{name: "whitespace before first field", in: "GET / HTTP/1.1\r\n Host: a\r\n\r\n"},
		{name: "Pragma no-cache", in: "GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n"},
		{name: "100 fields", in: "GET / HTTP/1.1\r\nHost: a\r\n" + hdrs(99) + "\r\n"},
		{name: "101 fields", in: "GET / HTTP/1.1\r\nHost: a\r\n" + hdrs(100) + "\r\n", want: 431},
		{name: "head over MaxHeaderBytes", in: "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 20000) + "\r\n\r\n",
			cfg: config{maxHeaderBytes: 4096}, want: 431}, // net/http allows 4 KiB over the limit
		{name: "head just over MaxHeaderBytes", in: "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 4200) + "\r\n\r\n",
			cfg: config{maxHeaderBytes: 4096}, want: 431}, // net/http allows 4 KiB over the limit
		{name: "head over default limit", in: "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 1<<20+5000) + "\r\n\r\n"},
		{name: "head under MaxHeaderBytes", in: "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 3000) + "\r\n\r\n",
			cfg: config{maxHeaderBytes: 4096}},
	}
}

func framingCases() []diffCase {
	const post = "POST /b HTTP/1.1\r\nHost: a\r\n"
	const chunked = post + "Transfer-Encoding: chunked\r\n\r\n"
	return []diffCase{
		// Content-Length.
		{name: "Content-Length 0", in: post + "Content-Length: 0\r\n\r\n"},
		{name: "Content-Length leading zeros", in: post + "Content-Length: 0003\r\n\r\nabc"},
		{name: "Content-Length with spaces", in: post + "Content-Length:  3 \r\n\r\nabc"},
		{name: "Content-Length plus sign", in: post + "Content-Length: +3\r\n\r\nabc"},
		{name: "Content-Length negative", in: post + "Content-Length: -1\r\n\r\n"},
		{name: "Content-Length hex", in: post + "Content-Length: 0x3\r\n\r\nabc"},
		{name: "Content-Length list", in: post + "Content-Length: 3, 3\r\n\r\nabc"},
		{name: "Content-Length empty", in: post + "Content-Length:\r\n\r\n"},
		{name: "Content-Length duplicate same", in: post + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc"},
		{name: "Content-Length duplicate differ", in: post + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
		{name: "Content-Length on GET", in: "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi" + get, n: 2},
		{name: "body then pipelined", in: post + "Content-Length: 5\r\n\r\nhello" + get, n: 2},

		// Chunked.
		{name: "chunked", in: chunked + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"},
		{name: "chunked upper-case coding", in: post + "Transfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
		{name: "chunked hex sizes", in: chunked + "a\r\n0123456789\r\nA\r\n0123456789\r\n00010\r\n0123456789abcdef\r\n0\r\n\r\n"},
		{name: "chunked empty", in: chunked + "0\r\n\r\n"},
		{name: "chunked extensions", in: chunked + "5;a=b;c=\"d e\"\r\nhello\r\n0;last\r\n\r\n"},
		{name: "chunked extension after BWS", in: chunked + "5 ;a=b\r\nhello\r\n0\r\n\r\n"},
		{name: "chunked trailers", in: chunked + "5\r\nhello\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n"},
		{name: "chunked trailers seen by handler", in: post + "Transfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", h: echoTrailer},
		{name: "chunked then pipelined", in: chunked + "3\r\nabc\r\n0\r\n\r\n" + get, n: 2},
		{name: "chunked many small chunks", in: chunked + strings.Repeat("1\r\nx\r\n", 500) + "0\r\n\r\n"},
		{name: "chunked bad hex", in: chunked + "g\r\nhello\r\n0\r\n\r\n"},
		{name: "chunked size too large", in: chunked + "10000000000000000\r\nx\r\n0\r\n\r\n"},
		{name: "chunked negative size", in: chunked + "-1\r\nx\r\n0\r\n\r\n"},
		{name: "chunked data longer than size", in: chunked + "3\r\nhello\r\n0\r\n\r\n"},
		{name: "chunked extension with control byte", in: chunked + "5;a\x01\r\nhello\r\n0\r\n\r\n", want: 400, bodyErr: true},
		{name: "chunked trailer without colon", in: chunked + "5\r\nhello\r\n0\r\nbad\r\n\r\n"},

		// Deliberate differences.
		{name: "Content-Length with Transfer-Encoding", in: post + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", want: 400},
		{name: "Transfer-Encoding with Content-Length", in: post + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n", want: 400},
		{name: "Transfer-Encoding gzip", in: post + "Transfer-Encoding: gzip\r\n\r\n"},
		{name: "Transfer-Encoding gzip, chunked", in: post + "Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", want: 501},
		{name: "Transfer-Encoding chunked, chunked", in: post + "Transfer-Encoding: chunked, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", want: 501},
		{name: "Transfer-Encoding identity", in: post + "Transfer-Encoding: identity\r\n\r\n", want: 501},
		{name: "Transfer-Encoding empty", in: post + "Transfer-Encoding:\r\n\r\n", want: 501},
		{name: "Transfer-Encoding twice", in: post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
		{name: "Transfer-Encoding on HTTP/1.0", in: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", want: 501},
		{name: "Transfer-Encoding gzip on HTTP/1.0", in: "POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", want: 501},
		{name: "chunk size line bare LF", in: chunked + "5\nhello\r\n0\r\n\r\n", want: 400, bodyErr: true},
		{name: "chunk data bare LF", in: chunked + "5\r\nhello\n0\r\n\r\n", want: 400, bodyErr: true},
		{name: "last chunk bare LF", in: chunked + "5\r\nhello\r\n0\n\r\n", want: 400, bodyErr: true},
		{name: "final CRLF bare LF", in: chunked + "5\r\nhello\r\n0\r\n\n", want: 400, bodyErr: true},
		{name: "trailer bare LF", in: chunked + "5\r\nhello\r\n0\r\nX-T: 1\n\r\n", want: 400, bodyErr: true},
		{name: "chunk size line bare CR", in: chunked + "5\rhello\r\n0\r\n\r\n", want: 400, bodyErr: true},
		{name: "chunk size trailing space", in: chunked + "5 \r\nhello\r\n0\r\n\r\n", want: 400, bodyErr: true},
		{name: "chunk size trailing tab", in: chunked + "5\t\r\nhello\r\n0\r\n\r\n", want: 400, bodyErr: true},
		{name: "last chunk trailing space", in: chunked + "5\r\nhello\r\n0 \r\n\r\n", want: 400, bodyErr: true},

		// Bodies the handler does not read.
		{name: "unread body then pipelined", in: post + "Content-Length: 5\r\n\r\nhello" + get, n: 2, h: noRead},
		{name: "unread chunked body then pipelined", in: chunked + "5\r\nhello\r\n0\r\nX: y\r\n\r\n" + get, n: 2, h: noRead},
		{name: "unread body over 256 KiB", in: post + "Content-Length: 300000\r\n\r\n" + string(pattern(300000)) + get, n: 2, h: noRead},
		{name: "unread body over 256 KiB chunked", in: chunked + "493e0\r\n" + string(pattern(300000)) + "\r\n0\r\n\r\n" + get, n: 2, h: noRead},

		// Pipelining.
		{name: "pipelined GETs", in: "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\nGET /4 HTTP/1.1\r\nHost: a\r\n\r\n", n: 4},
		{name: "pipelined mixed", in: "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n" + post + "Content-Length: 5\r\n\r\nhello" + chunked + "3\r\nabc\r\n0\r\n\r\nHEAD /4 HTTP/1.1\r\nHost: a\r\n\r\nGET /5 HTTP/1.1\r\nHost: a\r\n\r\n", n: 5},
		{name: "pipelined close stops", in: "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n", n: 2},
		{name: "pipelined then bad", in: get + get + "BAD\r\n\r\n" + get, n: 3},
		{name: "pipelined 50", in: strings.Repeat("GET /p HTTP/1.1\r\nHost: a\r\n\r\n", 50), n: 50},

		// Slow and split input.
		{name: "head byte by byte", steps: splitSteps("GET /slow?x=1 HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n", 1, 2*time.Millisecond)},
		{name: "body in small writes", steps: append([]step{{write: post + "Content-Length: 40\r\n\r\n"}}, splitSteps(string(pattern(40)), 3, 5*time.Millisecond)...)},
		{name: "chunked body in small writes", steps: append([]step{{write: chunked}}, splitSteps("5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n", 2, 3*time.Millisecond)...)},
		{name: "half-close after request", steps: []step{{write: get, closeWrite: true}}},
		{name: "half-close after pipelined requests", steps: []step{{write: get + post + "Content-Length: 2\r\n\r\nhi", closeWrite: true}}, n: 2},
		// Both answer 400 and close: wait for the answer, not for a quiet
		// moment, which a loaded machine can outlast before answering.
		{name: "half-close in head", steps: []step{{write: "GET / HTTP/1.1\r\nHost: a\r\n", closeWrite: true}}},
		{name: "half-close in body", steps: []step{{write: post + "Content-Length: 10\r\n\r\nabc", closeWrite: true}}},

		// Expect.
		{name: "Expect 100-continue, handler reads", steps: []step{
			{write: post + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"},
			{waitFor: "100 Continue\r\n\r\n", write: "hello"}}},
		{name: "Expect 100-continue, chunked, handler reads", steps: []step{
			{write: chunked[:len(chunked)-2] + "Expect: 100-continue\r\n\r\n"},
			{waitFor: "100 Continue\r\n\r\n", write: "5\r\nhello\r\n0\r\n\r\n"}}},
		{name: "Expect 100-continue, handler does not read", h: noRead, ignoreClose: true,
			in: post + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"},
		{name: "Expect 100-continue, body sent at once", in: post + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"},
		{name: "Expect 100-continue, no body", in: post + "Expect: 100-continue\r\nContent-Length: 0\r\n\r\n"},
		{name: "Expect 100-continue on GET without body", in: "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n"},
		{name: "Expect 100-continue on HTTP/1.0", in: "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"},
		{name: "Expect upper-case", in: post + "Expect: 100-Continue\r\nContent-Length: 2\r\n\r\nhi"},
		{name: "Expect unknown", in: post + "Expect: foo\r\nContent-Length: 2\r\n\r\nhi"},
		{name: "Expect list", in: post + "Expect: 100-continue, foo\r\nContent-Length: 2\r\n\r\nhi"},
		{name: "Expect empty", in: post + "Expect:\r\nContent-Length: 2\r\n\r\nhi"},
	}
}

// splitSteps writes s in pieces of n bytes, d apart.
func splitSteps(s string, n int, d time.Duration) []step {
	var st []step
	for len(s) > 0 {
		k := min(n, len(s))
		st = append(st, step{delay: d, write: s[:k]})
		s = s[k:]
	}
	return st
}

// responseCases vary the handler.
func responseCases() []diffCase {
	h10 := "GET / HTTP/1.0\r\n\r\n"
	head := "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"
	big := pattern(100 << 10)
	return []diffCase{
		{name: "implicit 200", h: func(w http.ResponseWriter, r *http.Request) {}},
		{name: "implicit 200 HTTP/1.0", in: h10, h: func(w http.ResponseWriter, r *http.Request) {}},
		{name: "WriteHeader 201", h: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }},
		{name: "WriteHeader 404 with body", h: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
			io.WriteString(w, "nope")
		}},
		{name: "WriteHeader 418 then 500 ignored", h: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(418)
			w.WriteHeader(500)
		}},
		{name: "WriteHeader 599", h: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(599) }},
		{name: "status without text", h: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) }},
		{name: "http.Error", h: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "teapot", http.StatusTeapot) }},
		{name: "http.NotFound", h: http.NotFound},
		{name: "http.Redirect", in: "GET /from?q=1 HTTP/1.1\r\nHost: a\r\n\r\n", h: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/to", http.StatusFound)
		}},
		{name: "headers sorted", h: func(w http.ResponseWriter, r *http.Request) {
			for _, k := range []string{"Zeta", "Alpha", "X-Mid", "Cache-Control", "Etag", "Vary"} {
				w.Header().Set(k, "v-"+k)
			}
			w.Header()["lower-case"] = []string{"raw key"}
			w.Header().Add("Set-Cookie", "a=1")
			w.Header().Add("Set-Cookie", "b=2")
			io.WriteString(w, "sorted")
		}},
		{name: "invalid response header name and value", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Bad Name"] = []string{"x"}
			w.Header()["X-Nl"] = []string{"a\r\nInjected: 1"}
			w.Header()["X-Nul"] = []string{"a\x00b"}
			io.WriteString(w, "ok")
		}},
		{name: "small body gets Content-Length and sniffed type", h: writeString("hello, world\n")},
		{name: "sniff html", h: writeString("<!DOCTYPE html><html><body>hi</body></html>")},
		{name: "sniff binary", h: writeString("\x00\x01\x02\x03binary")},
		{name: "sniff png", h: writeString("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")},
		{name: "Content-Type suppressed", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			io.WriteString(w, "<html>no type</html>")
		}},
		{name: "Content-Type set", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, "{}")
		}},
		{name: "many small writes", h: func(w http.ResponseWriter, r *http.Request) {
			for i := range 100 {
				fmt.Fprintf(w, "%d,", i)
			}
		}},
		{name: "empty writes", h: func(w http.ResponseWriter, r *http.Request) {
			w.Write(nil)
			w.Write([]byte{})
		}},
		{name: "HEAD small body", in: head, h: writeString("hello")},
		{name: "HEAD large body", in: head, h: func(w http.ResponseWriter, r *http.Request) { w.Write(big) }},
		{name: "HEAD with declared length", in: head, h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1234")
		}},
		{name: "HEAD no body", in: head, h: func(w http.ResponseWriter, r *http.Request) {}},
		{name: "HEAD then GET", in: head + get, n: 2, h: writeString("body")},
		{name: "204 with write", h: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(204)
			io.WriteString(w, "not allowed")
		}},
		{name: "204 with Content-Length set", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			w.WriteHeader(204)
		}},
		{name: "304 with headers", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Etag", `"x"`)
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(304)
			io.WriteString(w, "not allowed")
		}},
		{name: "204 then pipelined", in: get + get, n: 2, h: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }},
		{name: "mid-size body", h: func(w http.ResponseWriter, r *http.Request) { w.Write(pattern(10 << 10)) }, anyFraming: true},
		{name: "large body chunked on 1.1", h: func(w http.ResponseWriter, r *http.Request) { w.Write(big) }},
		{name: "large body in pieces chunked on 1.1", h: func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < len(big); i += 1000 {
				w.Write(big[i:min(i+1000, len(big))])
			}
		}, anyFraming: true},
		{name: "large body then pipelined", in: get + get, n: 2, h: func(w http.ResponseWriter, r *http.Request) { w.Write(big) }},
		{name: "large body on 1.0 close-delimited", in: h10, h: func(w http.ResponseWriter, r *http.Request) { w.Write(big) }},
		{name: "large body on 1.0 keep-alive", in: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", h: func(w http.ResponseWriter, r *http.Request) { w.Write(big) }},
		{name: "small body on 1.0 keep-alive", in: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + h10, n: 2, h: writeString("small")},
		{name: "declared Content-Length", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "0123456789")
		}},
		{name: "declared Content-Length large", in: get + get, n: 2, h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Write(big)
		}},
		{name: "declared Content-Length, short body", in: get + get, n: 1, h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "01234")
		}},
		{name: "declared Content-Length, long body cut", in: get + get, n: 2, h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			_, err := io.WriteString(w, "0123456789")
			w.Header().Set("X-Ignored", fmt.Sprint(err))
		}},
		{name: "declared Content-Length 0", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "0")
		}},
		{name: "declared Content-Length invalid", anyFraming: true, h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "abc")
			io.WriteString(w, "body")
		}},
		{name: "header set after Write not sent", h: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "body")
			w.Header().Set("X-Late", "1")
			w.Header().Set("Content-Type", "application/x-late")
		}},
		{name: "WriteHeader after Write ignored", h: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "body")
			w.WriteHeader(500)
		}},
		{name: "Transfer-Encoding chunked set by handler", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Transfer-Encoding", "chunked")
			io.WriteString(w, "body")
		}},
		{name: "Connection: close set by handler", in: get + get, n: 1, h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		}},
		{name: "Connection: keep-alive set by handler on 1.0", in: h10, h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "keep-alive")
			io.WriteString(w, "hmm")
		}},
		{name: "handler sets Date", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Date", "Thu, 01 Jan 1970 00:00:00 GMT")
		}},
		{name: "handler suppresses Date", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Date"] = nil
			io.WriteString(w, "x")
		}},
		{name: "trailers declared", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "body")
			w.Header().Set("X-Sum", "42")
		}},
		{name: "trailers by prefix", h: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "body")
			w.Header().Set(http.TrailerPrefix+"X-Late", "1")
		}},
		{name: "103 Early Hints", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Set("X-After", "1")
			io.WriteString(w, "page")
		}},
		{name: "two 1xx then 200", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</a.js>; rel=preload")
			w.WriteHeader(103)
			w.Header().Add("Link", "</b.js>; rel=preload")
			w.WriteHeader(103)
			w.WriteHeader(202)
		}},
		{name: "Flush then body", h: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "one ")
			w.(http.Flusher).Flush()
			io.WriteString(w, "two")
		}},
		{name: "Flush before writing", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Early", "1")
			w.(http.Flusher).Flush()
		}},
		{name: "Flush on 1.0", in: h10, h: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "one ")
			w.(http.Flusher).Flush()
			io.WriteString(w, "two")
		}},
		{name: "Flush on HEAD", in: head, h: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "one ")
			w.(http.Flusher).Flush()
		}},
		{name: "panic before writing", in: get + "GET /panic HTTP/1.1\r\nHost: a\r\n\r\n" + get, n: 2, h: func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/panic" {
				io.WriteString(w, "partial")
				panic("boom")
			}
			io.WriteString(w, "fine")
		}},
		{name: "panic after Flush", h: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic("boom")
		}},
		{name: "ErrAbortHandler", in: get + get, n: 1, h: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "partial")
			panic(http.ErrAbortHandler)
		}},
		{name: "ErrAbortHandler after Flush", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}},
		{name: "file: ServeContent", setup: serveFile, in: "GET /f.txt HTTP/1.1\r\nHost: a\r\n\r\n" + get, n: 2},
		{name: "file: ServeContent HEAD", setup: serveFile, in: "HEAD /f.txt HTTP/1.1\r\nHost: a\r\n\r\n"},
		{name: "file: Range", setup: serveFile, in: "GET /f.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=10-19\r\n\r\n" + get, n: 2},
		{name: "file: suffix Range", setup: serveFile, in: "GET /f.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=-7\r\n\r\n"},
		{name: "file: open Range", setup: serveFile, in: "GET /f.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=100000-\r\n\r\n"},
		{name: "file: large Range", setup: serveFile, in: "GET /f.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=1000-150000\r\n\r\n" + get, n: 2},
		{name: "file: unsatisfiable Range", setup: serveFile, in: "GET /f.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=999999-\r\n\r\n"},
		{name: "file: If-Modified-Since", setup: serveFile, in: "GET /f.txt HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: Sun, 01 Jan 2040 00:00:00 GMT\r\n\r\n"},
		{name: "file: If-Range mismatch", setup: serveFile, in: "GET /f.txt HTTP/1.1\r\nHost: a\r\nRange: bytes=0-3\r\nIf-Range: Mon, 02 Jan 2006 15:04:05 GMT\r\n\r\n"},
		{name: "file: io.Copy with Content-Length (sendfile)", setup: copyFile(true), in: get + get, n: 2},
		{name: "file: io.Copy without Content-Length", setup: copyFile(false), in: get + get, n: 2},
		{name: "file: io.Copy on 1.0", setup: copyFile(false), in: h10},
		{name: "file: io.Copy on HEAD", setup: copyFile(true), in: head},
	}
}

// fileSize is the size of the file the file cases serve.
const fileSize = 200 << 10

func writeFile(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "f.txt")
	if err := os.WriteFile(p, pattern(fileSize), 0o644); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(p, mt, mt); err != nil {
		t.Fatal(err)
	}
	return p
}

func serveFile(t *testing.T) http.HandlerFunc {
	p := writeFile(t)
	return func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(p)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer f.Close()
		fi, _ := f.Stat()
		http.ServeContent(w, r, "f.txt", fi.ModTime(), f)
	}
}

func copyFile(withLength bool) func(t *testing.T) http.HandlerFunc {
	return func(t *testing.T) http.HandlerFunc {
		p := writeFile(t)
		return func(w http.ResponseWriter, r *http.Request) {
			f, err := os.Open(p)
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			defer f.Close()
			if withLength {
				w.Header().Set("Content-Length", strconv.Itoa(fileSize))
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			n, err := io.Copy(w, f)
			if n != fileSize || err != nil {
				w.Header().Set("X-Copy-Error", fmt.Sprint(n, err))
			}
		}
	}
}

func TestDifferentialRequests(t *testing.T)  { runDiffTable(t, requestCases()) }
func TestDifferentialFraming(t *testing.T)   { runDiffTable(t, framingCases()) }
func TestDifferentialResponses(t *testing.T) { runDiffTable(t, responseCases()) }

// serverOptions answers "OPTIONS *" as net/http does (and as httpd does
// for both its engines), echoing any other request.
func serverOptions(w http.ResponseWriter, r *http.Request) {
	if r.Method != "OPTIONS" || r.RequestURI != "*" {
		echo(w, r)
		return
	}
	w.Header().Set("Content-Length", "0")
	if r.ContentLength != 0 {
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4<<10))
	}
}

// transports are what the differential tables and the fuzz seeds run
// on: every case gives the same answers over plain TCP and over TLS.
var transports = []string{"tcp", "tls"}

// collector gathers a case's messages: the cases run concurrently on
// goroutines (go test's -parallel defaults to GOMAXPROCS, and the cases
// mostly wait), then each is reported in its own subtest.
type collector struct {
	mu         sync.Mutex
	errs, logs []string
}

func (c *collector) Helper() {}

func (c *collector) Errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

func (c *collector) Logf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logs = append(c.logs, fmt.Sprintf(format, args...))
}

// reporter is what the checks need of a *testing.T.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

// concurrency bounds the cases (and fuzz seeds) in flight at once.
const concurrency = 24

func runDiffTable(t *testing.T, cases []diffCase) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) { t.Parallel(); runDiffTableOn(t, cases, tr) })
	}
}

func runDiffTableOn(t *testing.T, cases []diffCase, tr string) {
	results := make([]*collector, len(cases))
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i, tc := range cases {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c := new(collector)
			runDiff(t, c, tc, tr)
			results[i] = c
		})
	}
	wg.Wait()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, l := range results[i].logs {
				t.Log(l)
			}
			for _, e := range results[i].errs {
				t.Error(e)
			}
		})
	}
}

func caseInput(tc diffCase) (string, []step) {
	steps := tc.steps
	if steps == nil {
		in := tc.in
		if in == "" {
			in = get
		}
		steps = []step{{write: in}}
	}
	var all strings.Builder
	for _, s := range steps {
		all.WriteString(s.write)
	}
	return all.String(), steps
}

// runDiff runs one case; t owns the servers, r gets the messages.
func runDiff(t *testing.T, r reporter, tc diffCase, tr string) {
	var h http.Handler = http.HandlerFunc(echo)
	if tc.h != nil {
		h = tc.h
	}
	if tc.setup != nil {
		h = tc.setup(t)
	}
	std := startOn(tr, startStd)(t, h, tc.cfg)
	eng := startOn(tr, startEngine)(t, h, tc.cfg)
	in, steps := caseInput(tc)
	methods := requestMethods(in)
	n := tc.n
	switch n {
	case 0:
		n = 1
	case -1:
		n = 0
	}
	timeout := tc.timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	stdTimeout := timeout
	if tc.want != 0 {
		stdTimeout = time.Second // only logged; net/http may wait for more
	}
	both := func(quiet time.Duration) (se, ee exch) {
		var wg sync.WaitGroup
		wg.Go(func() { se = exchange(std.addr, steps, methods, n, stdTimeout, quiet) })
		wg.Go(func() { ee = exchange(eng.addr, steps, methods, n, timeout, quiet) })
		wg.Wait()
		if tc.ignoreClose {
			se.closed, ee.closed = false, false
		}
		return se, ee
	}
	se, ee := both(closeWait)
	if tc.want == 0 && se.closed != ee.closed {
		// Whether a side closes is seen within closeWait, which a loaded
		// machine can overrun: look once more, longer.
		se, ee = both(slowCloseWait)
	}
	sr := render(se, methods, tc.anyFraming)
	er := render(ee, methods, tc.anyFraming)
	if tc.want != 0 {
		checkRefusal(r, in, eng, ee, methods, tc.want, tc.bodyErr)
		r.Logf("net/http answers (differs on purpose):\n%s", sr)
		return
	}
	if sr != er {
		r.Errorf("engine differs from net/http\ninput: %q\n--- net/http:\n%s\n--- engine:\n%s", clip([]byte(in)), sr, er)
		return
	}
	// A refusal net/http makes before any handler runs must be reported
	// through Rejected.
	rs, _ := parseResponses(se.raw, methods, se.closed)
	if len(rs) > 0 {
		last := rs[len(rs)-1]
		_, hasDate := last.get("Date")
		if rejectCodes[last.code] && !hasDate {
			if _, ok := eng.rejects.wait(last.code, time.Second); !ok {
				r.Errorf("engine refused with %d but Rejected was not called with it (calls: %s)", last.code, eng.rejects)
			}
		}
	}
}

// checkRefusal checks a deliberate refusal: the answers before it as usual
// (2xx), then status want in net/http's error format, then close.
func checkRefusal(t reporter, in string, eng *testServer, e exch, methods []string, want int, bodyErr bool) {
	t.Helper()
	rs, _ := parseResponses(e.raw, methods, e.closed)
	got := render(e, methods, false)
	if len(rs) == 0 {
		t.Errorf("input %q: engine answered nothing, want %d\n%s", clip([]byte(in)), want, got)
		return
	}
	last := rs[len(rs)-1]
	for _, r := range rs[:len(rs)-1] {
		if r.code/100 != 2 {
			t.Errorf("input %q: engine answered %d before its refusal\n%s", clip([]byte(in)), r.code, got)
		}
	}
	if last.code != want {
		t.Errorf("input %q: engine answered %d, want %d\n%s", clip([]byte(in)), last.code, want, got)
		return
	}
	if !e.closed {
		t.Errorf("input %q: engine did not close after its %d", clip([]byte(in)), want)
	}
	if _, ok := last.get("X-Echo-Error"); bodyErr && ok {
		return // the handler's body read failed: fine for chunk framing errors
	}
	checkErrorFormat(t, &last, want)
	if _, ok := eng.rejects.wait(want, time.Second); !ok {
		t.Errorf("Rejected not called with %d (calls: %s)", want, eng.rejects)
	}
}

// checkErrorFormat checks that an engine refusal looks like net/http's:
// "HTTP/1.1 400 Bad Request", Content-Type text/plain, Connection: close,
// body "400 Bad Request…".
func checkErrorFormat(t reporter, r *resp, code int) {
	t.Helper()
	text := http.StatusText(code)
	if !strings.HasPrefix(r.statusLine, fmt.Sprintf("HTTP/1.1 %d %s", code, text)) {
		t.Errorf("status line %q, want HTTP/1.1 %d %s", r.statusLine, code, text)
	}
	if v, _ := r.get("Content-Type"); v != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q in %q", v, r.header)
	}
	if v, _ := r.get("Connection"); v != "close" {
		t.Errorf("Connection %q in %q", v, r.header)
	}
	if !bytes.HasPrefix(r.body, []byte(fmt.Sprintf("%d %s", code, text))) {
		t.Errorf("body %q, want it to start with %q", r.body, fmt.Sprintf("%d %s", code, text))
	}
}

// ---------------------------------------------------------------------------
// Behaviour tests (net/http as control, then the engine).

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := dialAddr(addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c, bufio.NewReader(c)
}

func readResp(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading answer: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return res, string(b)
}

// waitClosed reports whether the server closes c within d, and what it
// sent before.
func waitClosed(c net.Conn, br *bufio.Reader, d time.Duration) (bool, []byte) {
	c.SetReadDeadline(time.Now().Add(d))
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := br.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return isClosedErr(err), got
		}
	}
}

// TestRequestFields checks what the handler sees, field by field.
func TestRequestFields(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		type seen struct {
			r      *http.Request
			body   string
			noBody bool
			nilBd  bool
		}
		ch := make(chan seen, 4)
		s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sv := seen{r: r.Clone(context.Background()), noBody: r.Body == http.NoBody, nilBd: r.Body == nil}
			if r.Body != nil {
				b, _ := io.ReadAll(r.Body)
				sv.body = string(b)
			}
			ch <- sv
		}), config{})
		c, br := dial(t, s.addr)
		io.WriteString(c, "GET /a%2Fb%20c?q=1&r=%zz HTTP/1.1\r\nHost: h.test:8\r\nx-custom: 1\r\nX-Custom: 2\r\nuser-agent: u\r\n\r\n")
		readResp(t, br, "GET")
		g := testutil.Recv(t, ch, 5*time.Second, "handler")
		r := g.r
		check := func(name string, got, want any) {
			t.Helper()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s = %q, want %q", name, fmt.Sprint(got), fmt.Sprint(want))
			}
		}
		check("Method", r.Method, "GET")
		check("URL.Path", r.URL.Path, "/a/b c")
		check("URL.RawPath", r.URL.RawPath, "/a%2Fb%20c")
		check("URL.RawQuery", r.URL.RawQuery, "q=1&r=%zz")
		check("URL.Host", r.URL.Host, "")
		check("URL.Scheme", r.URL.Scheme, "")
		check("Host", r.Host, "h.test:8")
		check("RequestURI", r.RequestURI, "/a%2Fb%20c?q=1&r=%zz")
		check("Proto", r.Proto, "HTTP/1.1")
		check("ProtoMajor", r.ProtoMajor, 1)
		check("ProtoMinor", r.ProtoMinor, 1)
		check("Header[X-Custom]", r.Header["X-Custom"], []string{"1", "2"})
		check("Header[User-Agent]", r.Header["User-Agent"], []string{"u"})
		check("Header[Host]", r.Header["Host"], []string(nil))
		check("len(Header)", len(r.Header), 2)
		check("ContentLength", r.ContentLength, 0)
		check("TransferEncoding", r.TransferEncoding, []string(nil))
		check("Close", r.Close, false)
		check("Body == http.NoBody", g.noBody, true)
		check("RemoteAddr", r.RemoteAddr, c.LocalAddr().String())
		check("TLS", r.TLS == nil, !strings.HasPrefix(s.addr, "tls://"))

		io.WriteString(c, "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
		readResp(t, br, "POST")
		g = testutil.Recv(t, ch, 5*time.Second, "handler")
		check("chunked ContentLength", g.r.ContentLength, -1)
		check("chunked TransferEncoding", g.r.TransferEncoding, []string{"chunked"})
		check("chunked Header[Transfer-Encoding]", g.r.Header["Transfer-Encoding"], []string(nil))
		check("chunked body", g.body, "abc")

		io.WriteString(c, "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\nxyz")
		readResp(t, br, "POST")
		g = testutil.Recv(t, ch, 5*time.Second, "handler")
		check("ContentLength", g.r.ContentLength, 3)
		check("Header[Content-Length]", g.r.Header["Content-Length"], []string{"3"})
		check("Close with Connection: close", g.r.Close, true)
		check("body", g.body, "xyz")

		c2, br2 := dial(t, s.addr)
		io.WriteString(c2, "GET http://Example.COM:81/x?y HTTP/1.0\r\nHost: ignored\r\n\r\n")
		readResp(t, br2, "GET")
		g = testutil.Recv(t, ch, 5*time.Second, "handler")
		check("1.0 Proto", g.r.Proto, "HTTP/1.0")
		check("1.0 ProtoMinor", g.r.ProtoMinor, 0)
		check("1.0 Close", g.r.Close, true)
		check("absolute Host", g.r.Host, "Example.COM:81")
		check("absolute URL.Host", g.r.URL.Host, "Example.COM:81")
		check("absolute URL.Scheme", g.r.URL.Scheme, "http")
		check("absolute RequestURI", g.r.RequestURI, "http://Example.COM:81/x?y")
		check("absolute Header[Host]", g.r.Header["Host"], []string(nil))
	})
}

// TestContextValues checks the request context: LocalAddrContextKey,
// ServerContextKey (when set), ConnContext, and the conn given to it.
func TestContextValues(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		type key struct{}
		var connRemote atomic.Value
		type seen struct{ local, server, custom any }
		ch := make(chan seen, 1)
		s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			ch <- seen{ctx.Value(http.LocalAddrContextKey), ctx.Value(http.ServerContextKey), ctx.Value(key{})}
		}), config{connContext: func(ctx context.Context, c net.Conn) context.Context {
			connRemote.Store(c.RemoteAddr().String())
			return context.WithValue(ctx, key{}, "conn-value")
		}})
		c, br := dial(t, s.addr)
		io.WriteString(c, get)
		readResp(t, br, "GET")
		g := testutil.Recv(t, ch, 5*time.Second, "handler")
		la, ok := g.local.(net.Addr)
		if !ok || la.String() != strings.TrimPrefix(s.addr, "tls://") {
			t.Errorf("LocalAddrContextKey = %#v, want the listener's address %s", g.local, s.addr)
		}
		if g.server == nil {
			t.Logf("ServerContextKey not set")
		} else {
			t.Logf("ServerContextKey is a %T", g.server)
		}
		if g.custom != "conn-value" {
			t.Errorf("ConnContext value = %v, want conn-value", g.custom)
		}
		if got, _ := connRemote.Load().(string); got != c.LocalAddr().String() {
			t.Errorf("ConnContext got a conn with RemoteAddr %q, want %q", got, c.LocalAddr())
		}
	})
}

// TestContextCancelOnClientClose: the client goes away while the handler
// waits on its context; the handler must see the cancellation within 1s.
func TestContextCancelOnClientClose(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		for _, req := range []string{get, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"} {
			started := make(chan struct{}, 1)
			done := make(chan time.Duration, 1)
			s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.ReadAll(r.Body)
				started <- struct{}{}
				t0 := time.Now()
				select {
				case <-r.Context().Done():
					done <- time.Since(t0)
				case <-time.After(5 * time.Second):
					done <- -1
				}
			}), config{})
			c, _ := dial(t, s.addr)
			io.WriteString(c, req)
			testutil.Recv(t, started, 5*time.Second, "handler start")
			closedAt := time.Now()
			// A reset: net/http takes a FIN for the client going away
			// too, the engine does not (see TestHalfCloseKeepsContext).
			reset(c)
			if d := testutil.Recv(t, done, 6*time.Second, "handler end"); d < 0 {
				t.Errorf("%q: context not cancelled within 5s of the client closing", req[:4])
			} else if since := time.Since(closedAt); since > time.Second {
				t.Errorf("%q: context cancelled %v after the client closed, want < 1s", req[:4], since)
			}
		}
	})
}

// TestContextCancelledAfterHandler: a request's context is cancelled once
// its handler returns.
func TestContextCancelledAfterHandler(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		ch := make(chan context.Context, 2)
		s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ch <- r.Context()
			if r.Context().Err() != nil {
				t.Errorf("context already done in the handler: %v", r.Context().Err())
			}
			io.WriteString(w, "ok")
		}), config{})
		c, br := dial(t, s.addr)
		io.WriteString(c, get+get)
		readResp(t, br, "GET")
		readResp(t, br, "GET")
		for i := range 2 {
			ctx := testutil.Recv(t, ch, time.Second, "context")
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
				t.Errorf("request %d: context not cancelled 1s after the handler returned", i)
			}
		}
	})
}

// TestFlush: what is flushed reaches the client while the handler still runs.
func TestFlush(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		release := make(chan struct{}, 2)
		s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "first|")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-time.After(3 * time.Second):
			}
			time.Sleep(200 * time.Millisecond)
			io.WriteString(w, "second")
		}), config{})
		for _, proto := range []string{"HTTP/1.1", "HTTP/1.0"} {
			c, br := dial(t, s.addr)
			t0 := time.Now()
			io.WriteString(c, "GET / "+proto+"\r\nHost: a\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%s: head not received while the handler waits: %v", proto, err)
			}
			buf := make([]byte, 6)
			if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != "first|" {
				t.Fatalf("%s: flushed part not received while the handler waits: %q %v", proto, buf, err)
			}
			if d := time.Since(t0); d > 1500*time.Millisecond {
				t.Errorf("%s: flushed part took %v", proto, d)
			}
			if proto == "HTTP/1.1" && (len(res.TransferEncoding) != 1 || res.TransferEncoding[0] != "chunked") {
				t.Errorf("%s: flushed answer has Transfer-Encoding %q, want chunked", proto, res.TransferEncoding)
			}
			release <- struct{}{}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			rest, err := io.ReadAll(res.Body)
			if string(rest) != "second" || err != nil {
				t.Errorf("%s: rest %q %v", proto, rest, err)
			}
		}
	})
}

// TestResponseController: Flush, SetReadDeadline, SetWriteDeadline and
// EnableFullDuplex are supported (and work).
func TestResponseController(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			switch r.URL.Path {
			case "/methods":
				var errs []string
				for name, f := range map[string]func() error{
					"SetReadDeadline":  func() error { return rc.SetReadDeadline(time.Now().Add(time.Minute)) },
					"SetWriteDeadline": func() error { return rc.SetWriteDeadline(time.Now().Add(time.Minute)) },
					"EnableFullDuplex": rc.EnableFullDuplex,
					"Flush":            rc.Flush,
				} {
					if err := f(); err != nil {
						errs = append(errs, name+": "+err.Error())
					}
				}
				slices.Sort(errs)
				_, rf := w.(io.ReaderFrom)
				_, hj := w.(http.Hijacker)
				fmt.Fprintf(w, "errs=%q readerfrom=%v hijacker=%v", errs, rf, hj)
			case "/readdeadline":
				rc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				t0 := time.Now()
				b, err := io.ReadAll(r.Body)
				var ne net.Error
				fmt.Fprintf(w, "read %q timeout=%v after<1s=%v", b, errors.As(err, &ne) && ne.Timeout(), time.Since(t0) < time.Second)
			case "/duplex":
				if err := rc.EnableFullDuplex(); err != nil {
					fmt.Fprintf(w, "EnableFullDuplex: %v", err)
					return
				}
				w.WriteHeader(200)
				rc.Flush()
				br := bufio.NewReader(r.Body)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					io.WriteString(w, "pong "+line)
					rc.Flush()
				}
			}
		}), config{})

		c, br := dial(t, s.addr)
		io.WriteString(c, "GET /methods HTTP/1.1\r\nHost: a\r\n\r\n")
		_, body := readResp(t, br, "GET")
		if !strings.HasPrefix(body, "errs=[] ") {
			t.Errorf("ResponseController: %s", body)
		}
		if !strings.Contains(body, "readerfrom=true") {
			t.Errorf("ResponseWriter does not implement io.ReaderFrom (no sendfile path): %s", body)
		}
		t.Logf("%s", body)

		c, br = dial(t, s.addr)
		io.WriteString(c, "POST /readdeadline HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab")
		_, body = readResp(t, br, "POST")
		if body != `read "ab" timeout=true after<1s=true` {
			t.Errorf("SetReadDeadline: %s", body)
		}

		c, br = dial(t, s.addr)
		io.WriteString(c, "POST /duplex HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("full duplex: head: %v", err)
		}
		rb := bufio.NewReader(res.Body)
		for i := range 3 {
			ping := fmt.Sprintf("ping %d\n", i)
			fmt.Fprintf(c, "%x\r\n%s\r\n", len(ping), ping)
			line, err := rb.ReadString('\n')
			if err != nil || line != "pong "+ping {
				t.Fatalf("full duplex round %d: %q %v", i, line, err)
			}
		}
		io.WriteString(c, "0\r\n\r\n")
		if rest, err := io.ReadAll(rb); err != nil || len(rest) != 0 {
			t.Errorf("full duplex end: %q %v", rest, err)
		}
	})
}

// TestExpectContinueOrder: 100 Continue goes out only once the handler
// reads the body.
func TestExpectContinueOrder(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		reading := make(chan struct{})
		s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(200 * time.Millisecond)
			close(reading)
			b, _ := io.ReadAll(r.Body)
			w.Write(b)
		}), config{})
		c, br := dial(t, s.addr)
		io.WriteString(c, "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
		line, err := br.ReadString('\n')
		if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("got %q %v, want 100 Continue", line, err)
		}
		select {
		case <-reading:
		default:
			t.Errorf("100 Continue sent before the handler read the body")
		}
		if l, _ := br.ReadString('\n'); l != "\r\n" {
			t.Fatalf("100 Continue followed by %q", l)
		}
		io.WriteString(c, "data")
		res, body := readResp(t, br, "PUT")
		if res.StatusCode != 200 || body != "data" {
			t.Errorf("got %d %q", res.StatusCode, body)
		}
	})
}

// TestPanic: a panicking handler loses its connection; the server keeps
// serving; the panic is logged, http.ErrAbortHandler is not.
func TestPanic(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/panic":
				panic("boom-" + r.URL.RawQuery)
			case "/abort":
				panic(http.ErrAbortHandler)
			}
			io.WriteString(w, "ok")
		}), config{})
		for _, p := range []string{"/abort", "/panic?q1"} {
			c, br := dial(t, s.addr)
			io.WriteString(c, "GET "+p+" HTTP/1.1\r\nHost: a\r\n\r\n")
			if closed, got := waitClosed(c, br, 3*time.Second); !closed || len(got) != 0 {
				t.Errorf("%s: closed=%v after %q; want closed without an answer", p, closed, got)
			}
			c, br = dial(t, s.addr)
			io.WriteString(c, get)
			if res, body := readResp(t, br, "GET"); res.StatusCode != 200 || body != "ok" {
				t.Errorf("after %s: %d %q", p, res.StatusCode, body)
			}
			if p == "/abort" {
				time.Sleep(100 * time.Millisecond)
				if l := s.logs.String(); l != "" {
					t.Errorf("http.ErrAbortHandler logged: %q", l)
				}
			}
		}
		end := time.Now().Add(2 * time.Second)
		for !strings.Contains(s.logs.String(), "boom-q1") && time.Now().Before(end) {
			time.Sleep(10 * time.Millisecond)
		}
		if l := s.logs.String(); !strings.Contains(l, "boom-q1") {
			t.Errorf("panic not logged to ErrorLog; log: %q", l)
		}
	})
}

// TestBodyStreamed: a body larger than 1 MiB reaches the handler while it
// is still being sent, in full.
func TestBodyStreamed(t *testing.T) {
	const size = 3 << 20
	body := pattern(size)
	sum := sha256.Sum256(body)
	want := hex.EncodeToString(sum[:])
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			both(t, func(t *testing.T, start starter, engine bool) {
				early := make(chan struct{})
				s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					h := sha256.New()
					if _, err := io.CopyN(h, r.Body, 64<<10); err != nil {
						http.Error(w, err.Error(), 500)
						return
					}
					close(early)
					n, err := io.Copy(h, r.Body)
					fmt.Fprintf(w, "%d %x %v", n+64<<10, h.Sum(nil), err)
				}), config{})
				c, br := dial(t, s.addr)
				c.SetDeadline(time.Now().Add(10 * time.Second))
				var enc func([]byte) []byte
				if chunked {
					io.WriteString(c, "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
					enc = func(p []byte) []byte {
						b := fmt.Appendf(nil, "%x\r\n", len(p))
						b = append(b, p...)
						return append(b, "\r\n"...)
					}
				} else {
					fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n", size)
					enc = func(p []byte) []byte { return p }
				}
				half := size / 2
				for i := 0; i < half; i += 32 << 10 {
					c.Write(enc(body[i : i+32<<10]))
				}
				select {
				case <-early:
				case <-time.After(3 * time.Second):
					t.Errorf("handler saw nothing of the body while half of it (%d bytes) was sent: not streamed", half)
				}
				for i := half; i < size; i += 32 << 10 {
					c.Write(enc(body[i : i+32<<10]))
				}
				if chunked {
					io.WriteString(c, "0\r\n\r\n")
				}
				res, got := readResp(t, br, "POST")
				if res.StatusCode != 200 || got != fmt.Sprintf("%d %s <nil>", size, want) {
					t.Errorf("got %d %q, want %d bytes with sha256 %s", res.StatusCode, got, size, want)
				}
			})
		})
	}
}

// TestReadHeaderTimeout: a partial head gets 408 from the engine (net/http
// closes silently), then close.
func TestReadHeaderTimeout(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		s := start(t, http.HandlerFunc(echo), config{readHeaderTimeout: 300 * time.Millisecond})
		c, br := dial(t, s.addr)
		t0 := time.Now()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost")
		closed, got := waitClosed(c, br, 4*time.Second)
		d := time.Since(t0)
		if !closed {
			t.Fatalf("connection with a partial head not closed after %v (got %q)", d, got)
		}
		if d < 250*time.Millisecond {
			t.Errorf("closed after %v, before ReadHeaderTimeout", d)
		}
		if d > 2500*time.Millisecond {
			t.Errorf("closed after %v, long after ReadHeaderTimeout (300ms)", d)
		}
		if !engine {
			// net/http (Go 1.26) answers a timed-out partial head with a
			// plain 400 (older versions closed silently).
			if rs, _ := parseResponses(got, nil, true); len(got) != 0 && (len(rs) != 1 || rs[0].code != 400) {
				t.Errorf("net/http sent %q", got)
			}
			return
		}
		rs, _ := parseResponses(got, nil, true)
		if len(rs) != 1 || rs[0].code != 408 {
			t.Fatalf("engine answered %q, want 408 Request Timeout", got)
		}
		checkErrorFormat(t, &rs[0], 408)
		if _, ok := s.rejects.wait(408, time.Second); !ok {
			t.Errorf("Rejected not called with 408 (calls: %s)", s.rejects)
		}
	})
}

// TestReadHeaderTimeoutSlowHead: a head trickling in, each byte within the
// timeout but the whole not, still times out.
func TestReadHeaderTimeoutSlowHead(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		s := start(t, http.HandlerFunc(echo), config{readHeaderTimeout: 300 * time.Millisecond})
		c, br := dial(t, s.addr)
		t0 := time.Now()
		stop := make(chan struct{})
		defer close(stop)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				if _, err := io.WriteString(c, "y"); err != nil {
					return
				}
			}
		}()
		closed, got := waitClosed(c, br, 4*time.Second)
		if d := time.Since(t0); !closed || d > 2500*time.Millisecond {
			t.Errorf("trickled head: closed=%v after %v (got %q)", closed, d, got)
		}
	})
}

// TestReadHeaderTimeoutNotWhileIdle: ReadHeaderTimeout does not close an
// idle keep-alive connection (IdleTimeout unset means ReadTimeout, unset).
func TestReadHeaderTimeoutNotWhileIdle(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		s := start(t, http.HandlerFunc(echo), config{readHeaderTimeout: 200 * time.Millisecond})
		c, br := dial(t, s.addr)
		io.WriteString(c, get)
		readResp(t, br, "GET")
		time.Sleep(700 * time.Millisecond)
		io.WriteString(c, "GET /again HTTP/1.1\r\nHost: a\r\n\r\n")
		if res, _ := readResp(t, br, "GET"); res.StatusCode != 200 {
			t.Errorf("second request on the idle connection: %d", res.StatusCode)
		}
	})
}

// TestReadHeaderTimeoutFreshConn: a connection that never sends a byte is
// closed (silently) by ReadHeaderTimeout, as net/http does.
func TestReadHeaderTimeoutFreshConn(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		s := start(t, http.HandlerFunc(echo), config{readHeaderTimeout: 300 * time.Millisecond})
		c, br := dial(t, s.addr)
		closed, got := waitClosed(c, br, 3*time.Second)
		if !closed || len(got) != 0 {
			t.Errorf("silent new connection: closed=%v within 3s, got %q; want closed silently (ReadHeaderTimeout 300ms)", closed, got)
		}
	})
}

// TestIdleTimeout: an idle keep-alive connection is closed silently.
func TestIdleTimeout(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		s := start(t, http.HandlerFunc(echo), config{idleTimeout: 300 * time.Millisecond})
		c, br := dial(t, s.addr)
		io.WriteString(c, get)
		readResp(t, br, "GET")
		t0 := time.Now()
		closed, got := waitClosed(c, br, 4*time.Second)
		d := time.Since(t0)
		if !closed || len(got) != 0 {
			t.Fatalf("idle connection: closed=%v after %v, got %q; want closed silently", closed, d, got)
		}
		if d < 250*time.Millisecond || d > 2500*time.Millisecond {
			t.Errorf("idle connection closed after %v, IdleTimeout is 300ms", d)
		}
	})
}

// TestIdleTimeoutFromReadTimeout: IdleTimeout 0 falls back to ReadTimeout.
func TestIdleTimeoutFromReadTimeout(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		s := start(t, http.HandlerFunc(echo), config{readTimeout: 300 * time.Millisecond})
		c, br := dial(t, s.addr)
		io.WriteString(c, get)
		readResp(t, br, "GET")
		closed, got := waitClosed(c, br, 4*time.Second)
		if !closed || len(got) != 0 {
			t.Errorf("idle connection with ReadTimeout: closed=%v, got %q; want closed silently", closed, got)
		}
	})
}

// TestReadTimeoutSlowBody: a body that does not arrive within ReadTimeout
// fails the handler's read and the connection is closed.
func TestReadTimeoutSlowBody(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		readErr := make(chan error, 1)
		s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, err := io.ReadAll(r.Body)
			readErr <- err
			if err != nil {
				http.Error(w, err.Error(), 400)
			}
		}), config{readTimeout: 500 * time.Millisecond})
		c, br := dial(t, s.addr)
		t0 := time.Now()
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\n")
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for range 20 {
				select {
				case <-stop:
					return
				case <-time.After(150 * time.Millisecond):
				}
				if _, err := io.WriteString(c, "x"); err != nil {
					return
				}
			}
		}()
		err := testutil.Recv(t, readErr, 4*time.Second, "the handler's body read")
		if err == nil {
			t.Errorf("slow body read completed after %v despite ReadTimeout 500ms", time.Since(t0))
		}
		if d := time.Since(t0); d > 2500*time.Millisecond {
			t.Errorf("body read failed only after %v", d)
		}
		if closed, got := waitClosed(c, br, 3*time.Second); !closed {
			t.Errorf("connection not closed after the body timeout (got %q)", got)
		}
	})
}

// TestWriteTimeout: a handler that writes after WriteTimeout fails and the
// client gets no complete answer.
func TestWriteTimeout(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(500 * time.Millisecond)
			w.Write(pattern(1 << 20))
		}), config{writeTimeout: 200 * time.Millisecond})
		c, br := dial(t, s.addr)
		io.WriteString(c, get)
		closed, got := waitClosed(c, br, 4*time.Second)
		if !closed {
			t.Fatalf("connection not closed after WriteTimeout")
		}
		if rs, _ := parseResponses(got, nil, true); len(rs) == 1 && rs[0].code == 200 && rs[0].problem == "" {
			t.Errorf("complete answer despite WriteTimeout: %d bytes", len(got))
		}
	})
}

// TestShutdownIdle: Shutdown closes idle connections promptly and returns;
// Serve returns http.ErrServerClosed; new connections are refused.
func TestShutdownIdle(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		s := start(t, http.HandlerFunc(echo), config{})
		c, br := dial(t, s.addr)
		io.WriteString(c, get)
		readResp(t, br, "GET")
		done := make(chan error, 1)
		t0 := time.Now()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done <- s.shutdown(ctx)
		}()
		if closed, got := waitClosed(c, br, 2*time.Second); !closed || len(got) != 0 {
			t.Errorf("idle connection: closed=%v, got %q after Shutdown", closed, got)
		}
		if err := testutil.Recv(t, done, 3*time.Second, "Shutdown"); err != nil {
			t.Errorf("Shutdown = %v", err)
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("Shutdown with only idle connections took %v", d)
		}
		select {
		case <-s.done:
			if !errors.Is(s.serveErr, http.ErrServerClosed) {
				t.Errorf("Serve = %v, want http.ErrServerClosed", s.serveErr)
			}
		case <-time.After(2 * time.Second):
			t.Errorf("Serve did not return after Shutdown")
		}
		if c, err := dialAddr(s.addr, time.Second); err == nil {
			c.SetDeadline(time.Now().Add(time.Second))
			io.WriteString(c, get)
			b, _ := io.ReadAll(c)
			c.Close()
			if len(b) != 0 {
				t.Errorf("answered after Shutdown: %q", b)
			}
		}
	})
}

// TestShutdownInFlight: Shutdown waits for the active request, which
// completes with Connection: close.
func TestShutdownInFlight(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		started := make(chan struct{}, 1)
		release := make(chan struct{})
		s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
			io.WriteString(w, "finished")
		}), config{})
		c, br := dial(t, s.addr)
		io.WriteString(c, get)
		testutil.Recv(t, started, 3*time.Second, "handler start")
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done <- s.shutdown(ctx)
		}()
		select {
		case err := <-done:
			t.Errorf("Shutdown returned %v while a request was in flight", err)
		case <-time.After(300 * time.Millisecond):
		}
		close(release)
		res, body := readResp(t, br, "GET")
		if res.StatusCode != 200 || body != "finished" {
			t.Errorf("in-flight request: %d %q", res.StatusCode, body)
		}
		if !res.Close {
			t.Errorf("in-flight answer during Shutdown has no Connection: close (header %v)", res.Header)
		}
		if err := testutil.Recv(t, done, 2*time.Second, "Shutdown after the request"); err != nil {
			t.Errorf("Shutdown = %v", err)
		}
		if closed, got := waitClosed(c, br, 2*time.Second); !closed || len(got) != 0 {
			t.Errorf("connection after the in-flight answer: closed=%v, got %q", closed, got)
		}
	})
}

// TestShutdownExpired: Shutdown with an expiring context returns its error
// while a request is still in flight.
func TestShutdownExpired(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		started := make(chan struct{}, 1)
		release := make(chan struct{})
		defer close(release)
		s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
		}), config{})
		c, _ := dial(t, s.addr)
		io.WriteString(c, get)
		testutil.Recv(t, started, 3*time.Second, "handler start")
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- s.shutdown(ctx) }()
		err := testutil.Recv(t, done, 3*time.Second, "Shutdown with an expiring context")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown = %v, want context.DeadlineExceeded", err)
		}
		cctx, ccancel := context.WithCancel(context.Background())
		ccancel()
		if err := s.shutdown(cctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Shutdown with a cancelled context = %v, want context.Canceled", err)
		}
	})
}

// TestClose: Close drops active connections at once.
func TestClose(t *testing.T) {
	both(t, func(t *testing.T, start starter, engine bool) {
		started := make(chan struct{}, 1)
		release := make(chan struct{})
		defer close(release)
		s := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}), config{})
		c, br := dial(t, s.addr)
		io.WriteString(c, get)
		testutil.Recv(t, started, 3*time.Second, "handler start")
		idle, ibr := dial(t, s.addr)
		io.WriteString(idle, get)
		t0 := time.Now()
		go s.close()
		if closed, _ := waitClosed(c, br, 2*time.Second); !closed {
			t.Errorf("active connection not closed by Close")
		}
		if closed, _ := waitClosed(idle, ibr, 2*time.Second); !closed {
			t.Errorf("second connection not closed by Close")
		}
		select {
		case <-s.done:
		case <-time.After(2 * time.Second):
			t.Errorf("Serve did not return within 2s of Close")
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("Close took %v", d)
		}
	})
}

// TestManyClients: 200 concurrent keep-alive clients, 20 requests each,
// through net/http's client.
func TestManyClients(t *testing.T) {
	t.Parallel()
	s := startEngine(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, b)
	}), config{})
	tr := &http.Transport{MaxIdleConnsPerHost: 200, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var failed atomic.Int64
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			for j := range 20 {
				var res *http.Response
				var err error
				want := ""
				if j%2 == 0 {
					res, err = client.Get(fmt.Sprintf("http://%s/c%d/r%d", s.addr, i, j))
					want = fmt.Sprintf("GET /c%d/r%d ", i, j)
				} else {
					payload := strings.Repeat(fmt.Sprintf("%d-%d,", i, j), 50)
					res, err = client.Post(fmt.Sprintf("http://%s/c%d/r%d", s.addr, i, j), "text/plain", strings.NewReader(payload))
					want = fmt.Sprintf("POST /c%d/r%d %s", i, j, payload)
				}
				if err != nil {
					if failed.Add(1) < 5 {
						t.Errorf("client %d request %d: %v", i, j, err)
					}
					continue
				}
				b, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != 200 || string(b) != want {
					if failed.Add(1) < 5 {
						t.Errorf("client %d request %d: %d %q %v", i, j, res.StatusCode, clip(b), err)
					}
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of 4000 requests failed", n)
	}
}

// TestRejectedCallback: Rejected gets the connection (its remote address)
// and the status.
func TestRejectedCallback(t *testing.T) {
	t.Parallel()
	s := startEngine(t, http.HandlerFunc(echo), config{})
	for _, tc := range []struct {
		in   string
		code int
	}{
		{"GET / HTTP/1.1\r\n\r\n", 400},
		{"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"GET / HTTP/1.1\r\nHost: a\r\n" + hdrs(101) + "\r\n", 431},
		{"POST / HTTP/1.1\r\nHost: a\r\nExpect: x\r\nContent-Length: 1\r\n\r\nx", 417},
	} {
		c, br := dial(t, s.addr)
		io.WriteString(c, tc.in)
		closed, got := waitClosed(c, br, 3*time.Second)
		if rs, _ := parseResponses(got, nil, true); !closed || len(rs) != 1 || rs[0].code != tc.code {
			t.Errorf("%q: closed=%v got %q, want %d", tc.in, closed, got, tc.code)
		}
		call, ok := s.rejects.wait(tc.code, time.Second)
		if !ok {
			t.Errorf("%q: Rejected not called with %d (calls: %s)", tc.in, tc.code, s.rejects)
		} else if call.remote != c.LocalAddr().String() {
			t.Errorf("%q: Rejected got a conn with RemoteAddr %q, want %q", tc.in, call.remote, c.LocalAddr())
		} else if call.reason == "" {
			t.Errorf("%q: Rejected got an empty reason", tc.in)
		}
	}
}

// TestHeaderOrder: the handler's fields go out sorted by name, as net/http
// writes them; "exact" compares the whole head line by line with
// net/http's (which puts Date, Content-Length and a sniffed Content-Type
// after the handler's sorted fields).
func TestHeaderOrder(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, k := range []string{"Zeta", "Alpha", "X-Mid", "Cache-Control", "Etag", "Vary", "Content-Language"} {
			w.Header().Set(k, "v")
		}
		w.Header().Add("Set-Cookie", "b=2")
		w.Header().Add("Set-Cookie", "a=1")
		io.WriteString(w, "<html>sorted</html>")
	})
	std := startStd(t, h, config{})
	eng := startEngine(t, h, config{})
	head := func(s *testServer) []string {
		e := exchange(s.addr, []step{{write: get}}, nil, 1, 5*time.Second, 0)
		rs, _ := parseResponses(e.raw, nil, e.closed)
		if len(rs) != 1 {
			t.Fatalf("%s: %q", s.name, e.raw)
		}
		var out []string
		for _, l := range rs[0].rawHeader {
			if strings.HasPrefix(l, "Date: ") {
				l = "Date: <date>"
			}
			out = append(out, l)
		}
		return out
	}
	sh, eh := head(std), head(eng)
	var handlerFields []string
	for _, l := range eh {
		k, _, _ := strings.Cut(l, ":")
		switch k {
		case "Date", "Content-Length", "Content-Type":
		default:
			handlerFields = append(handlerFields, k)
		}
	}
	if !slices.IsSorted(handlerFields) {
		t.Errorf("the handler's fields are not sorted: %q", handlerFields)
	}
	if i, j := slices.Index(eh, "Set-Cookie: b=2"), slices.Index(eh, "Set-Cookie: a=1"); i < 0 || j < 0 || i > j {
		t.Errorf("values of one field not in the order set: %q", eh)
	}
	t.Run("exact", func(t *testing.T) {
		if !slices.Equal(sh, eh) {
			t.Errorf("head lines differ from net/http's\nnet/http: %q\nengine:   %q", sh, eh)
		}
	})
}
