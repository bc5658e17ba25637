package h1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var errTooManyFiles = syscall.EMFILE

// Connection states. A connection is active while a goroutine serves it,
// idle while it waits for the next request with no goroutine of its own
// but the waiter, and closed for good. Shutdown may close only idle ones.
const (
	stateActive int32 = iota
	stateIdle
	stateClosed
	stateHijacked
	stateShrink // idle, and the sweep is moving its wait to a small stack
)

// Buffer sizes: the read buffer starts at readBufSize and grows, while a
// head is incomplete, up to MaxHeaderBytes; the output buffer is flushed
// once it holds flushSize bytes.
const (
	readBufSize = 4 << 10
	outBufSize  = 4 << 10
	flushSize   = 16 << 10
	// bigWrite is the size from which a body write is sent from where it
	// lies (writev) instead of being copied into the output buffer.
	bigWrite = 8 << 10
	// discardLimit is how much of an unread request body is read and
	// dropped after the handler, to keep the connection; net/http's
	// maxPostHandlerReadBytes.
	discardLimit = 256 << 10
)

var (
	reqPool  = sync.Pool{New: func() any { return new(request) }}
	readPool = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}
	outPool  = sync.Pool{New: func() any { b := make([]byte, 0, outBufSize); return &b }}
	// hdrPool holds emptied answer header maps: a map is made about once
	// per busy connection, not once per request (see conn.serve).
	hdrPool sync.Pool
)

// conn is one client connection.
type conn struct {
	srv  *Server
	fair *Fairness // srv's
	nc   net.Conn
	rc   syscall.RawConn // nil when nc has no file descriptor (TLS, pipes)
	// wrc watches for the client going away: rc, or the raw TCP
	// connection under TLS, where it only peeks (never reads) so the
	// TLS stream is left alone. nil when there is none.
	wrc  syscall.RawConn
	tls  *tls.ConnectionState // set on every request; nil on plain TCP
	base context.Context      // the server's context, before ConnContext
	ctx  context.Context      // the connection's context: ConnContext, LocalAddrContextKey
	addr string               // nc.RemoteAddr().String(), made once

	state     atomic.Int32
	idleSince atomic.Int64 // nanotime when the connection last went idle
	small     atomic.Bool  // the goroutine waiting has a fresh stack

	// The read buffer: buf[r:w] is read and not yet consumed. nil while
	// idle.
	bufp *[]byte
	buf  []byte
	r, w int

	// The output buffer, nil while idle.
	outp *[]byte
	out  []byte

	req *request // the head being served, pooled; nil while idle
	// cur is the context of the request being served (or the last one),
	// canceled when Close ends the connection under it.
	cur       atomic.Pointer[reqContext]
	reading   bool // a request head has begun (for the 408 answer)
	afterPost bool // the last request was a POST
	closing   bool // close after the current answer

	rdl time.Time // the read deadline set on nc, zero for none

	// Idle waiting and client-gone watching, through rc.
	tryReadFn func(fd uintptr) bool
	peekFn    func(fd uintptr) bool
	rn        int
	rerr      error
	tries     int // calls of tryRead in this wait; a second one follows a wakeup
	fd        int // the descriptor behind rc, -1 without one
	peekByte  [1]byte
	gone      bool // the watcher saw an error: the client reset the connection

	flushes int  // writes of c.out so far
	noCork  bool // TCP_CORK failed once: not a TCP socket
	lowat   bool // TCP_NOTSENT_LOWAT has been tried
	iov     [3][]byte
}

// start runs a new connection.
func (c *conn) start() {
	ctx := c.base
	if c.srv.ConnContext != nil {
		ctx = c.srv.ConnContext(ctx, c.nc)
		if ctx == nil {
			panic("h1: ConnContext returned nil")
		}
	}
	c.ctx = context.WithValue(ctx, http.LocalAddrContextKey, c.nc.LocalAddr())
	c.addr = c.nc.RemoteAddr().String()
	c.small.Store(true) // a new goroutine's stack
	if tc, ok := c.nc.(*tls.Conn); ok && !c.handshake(tc) {
		c.close()
		return
	}
	if c.idle(true) {
		c.run()
	}
}

// handshake finishes the TLS handshake, if the caller has not (Serve
// on a tls.Listener), within ReadHeaderTimeout, and keeps its state for
// every request's TLS field.
func (c *conn) handshake(tc *tls.Conn) bool {
	if !tc.ConnectionState().HandshakeComplete {
		if d := c.srv.ReadHeaderTimeout; d > 0 {
			_ = tc.SetDeadline(time.Now().Add(d))
		}
		if err := tc.HandshakeContext(c.ctx); err != nil {
			return false
		}
		_ = tc.SetDeadline(time.Time{})
	}
	st := tc.ConnectionState()
	c.tls = &st
	return true
}

func (c *conn) idleTimeout() time.Duration {
	if c.srv.IdleTimeout > 0 {
		return c.srv.IdleTimeout
	}
	return c.srv.ReadTimeout
}

// idle gives the buffers back and waits for the next request. It reports
// whether one arrived (its first bytes are in c.buf and the connection is
// active); if not, the connection is closed or in another goroutine's
// hands, and the caller must return.
//
// On a new connection (first) the wait is bounded by ReadHeaderTimeout,
// as in net/http: a client that connects and says nothing is not idle.
func (c *conn) idle(first bool) bool {
	c.release()
	now := nanotime()
	if d := c.srv.ReadHeaderTimeout; first && d > 0 {
		c.setReadDeadline(time.Now().Add(d))
	} else if d := c.idleTimeout(); d > 0 {
		// The deadline is set idleSlack beyond the timeout and moves
		// only once it is less than the timeout away: a busy connection
		// renews it about once per idleSlack, not on every request (a
		// timer change and three clock reads each time).
		if renewIdle(c.deadlineLeft(now), d) {
			c.setReadDeadline(time.Now().Add(d + idleSlack(d)))
		}
	} else if !c.rdl.IsZero() {
		c.setReadDeadline(time.Time{})
	}
	c.idleSince.Store(now)
	if !c.small.Load() && c.srv.hot.Add(1) > maxHot {
		// Enough connections wait on large stacks already.
		c.srv.hot.Add(-1)
		c.small.Store(true)
		c.state.Store(stateIdle)
		go c.idleThenRun()
		return false
	}
	c.state.Store(stateIdle)
	if c.srv.inShutdown.Load() && c.state.CompareAndSwap(stateIdle, stateClosed) {
		c.coolDown()
		c.close()
		return false
	}
	if c.fair.yieldNow(now) {
		// Let the other connections run first: by the time this one
		// is back, its client has often sent the next request, and the
		// read below finds it instead of failing with EAGAIN and
		// waiting.
		runtime.Gosched()
	}
	n, err := c.wait()
	c.coolDown()
	if c.state.CompareAndSwap(stateIdle, stateActive) {
		return c.woke(n)
	}
	if !c.state.CompareAndSwap(stateShrink, stateActive) {
		c.release() // Shutdown or Close took it
		return false
	}
	// The sweep cut the wait short to move it to a small stack (see
	// sweep). Its lock orders its deadline before this one.
	c.srv.mu.Lock()
	c.srv.mu.Unlock()
	c.setReadDeadline(c.rdl)
	if n > 0 {
		return c.woke(n) // bytes came meanwhile
	}
	if !isTimeout(err) {
		c.close()
		return false
	}
	c.small.Store(true)
	c.state.Store(stateIdle)
	go c.idleThenRun()
	return false
}

// coolDown leaves the count of connections waiting on large stacks.
func (c *conn) coolDown() {
	if !c.small.Load() {
		c.srv.hot.Add(-1)
	}
}

// maxHot bounds the connections that wait on the stack of the goroutine
// that served their last request (see shrinkAfter): enough for every
// connection of a busy benchmark, few enough that their stacks stay a
// few MiB however many clients come at once.
const maxHot = 512

// idleThenRun waits on a fresh goroutine: a small stack for a connection
// that has been idle a while.
func (c *conn) idleThenRun() {
	n, _ := c.wait() // on an error n is 0, and woke closes
	if !c.state.CompareAndSwap(stateIdle, stateActive) {
		c.release() // Shutdown or Close took it
		return
	}
	if c.woke(n) {
		c.run()
	}
}

// woke starts serving what wait read; false if the client left.
func (c *conn) woke(n int) bool {
	if n <= 0 {
		c.close()
		return false
	}
	c.small.Store(false)
	c.r, c.w = 0, n
	return true
}

// wait blocks until the client sends bytes or the read deadline passes,
// and reads them into a pooled buffer.
func (c *conn) wait() (int, error) {
	if c.rc == nil {
		// No descriptor to wait on (TLS): wait in Read, holding only
		// the read buffer; the rest is taken once bytes have come.
		c.grabRead()
		n, err := c.nc.Read(c.buf)
		if n > 0 {
			c.grab()
		}
		return n, err
	}
	c.rn, c.rerr, c.tries = 0, nil, 0
	if err := c.rc.Read(c.tryReadFn); err != nil {
		return 0, err
	}
	return c.rn, c.rerr
}

// epoch makes nanotime monotonic.
var epoch = time.Now()

func nanotime() int64 { return int64(time.Since(epoch)) }

// tryRead reads once without blocking; false means nothing is there yet.
func (c *conn) tryRead(fd uintptr) bool {
	if c.tries++; c.tries > 1 {
		c.fair.woke(c.fd)
	}
	c.grab()
	for {
		n, err := syscall.Read(int(fd), c.buf)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			c.release()
			c.fair.watched.setWaiting(c.fd, true)
			return false
		case nil:
			if n == 0 {
				c.rerr = io.EOF
			}
			c.rn = n
		default:
			c.rerr = err
		}
		return true
	}
}

// grab takes the buffers from their pools.
func (c *conn) grab() {
	if c.bufp == nil {
		c.bufp = readPool.Get().(*[]byte)
		c.buf = *c.bufp
		c.r, c.w = 0, 0
	}
	if c.outp == nil {
		c.outp = outPool.Get().(*[]byte)
		c.out = (*c.outp)[:0]
	}
	if c.req == nil {
		c.req = reqPool.Get().(*request)
	}
}

// grabRead takes the read buffer from its pool, as grab does (which
// repeats it, to stay one call on the plain path).
func (c *conn) grabRead() {
	if c.bufp == nil {
		c.bufp = readPool.Get().(*[]byte)
		c.buf = *c.bufp
		c.r, c.w = 0, 0
	}
}

// release gives the buffers back.
func (c *conn) release() {
	if c.bufp != nil {
		if cap(c.buf) <= 64<<10 { // a head that grew the buffer past this does not keep it
			*c.bufp = c.buf[:cap(c.buf)]
			readPool.Put(c.bufp)
		}
		c.bufp, c.buf, c.r, c.w = nil, nil, 0, 0
	}
	if c.outp != nil {
		if cap(c.out) <= 64<<10 {
			*c.outp = c.out[:0]
			outPool.Put(c.outp)
		}
		c.outp, c.out = nil, nil
	}
	if c.req != nil {
		c.req.raw = nil
		reqPool.Put(c.req)
		c.req = nil
	}
}

// close closes the connection for good.
func (c *conn) close() {
	c.state.Store(stateClosed)
	c.release()
	c.fair.watched.setWaiting(c.fd, false)
	c.nc.Close()
	c.srv.forget(c)
}

// cork sets or clears TCP_CORK, as nginx's tcp_nopush does around
// sendfile: while it is set, the kernel sends only full segments, so the
// head shares a segment with the file's first bytes instead of leaving
// alone (TCP_NODELAY is on). Clearing it sends what is left. It reports
// whether the option took. ReadFrom holds it for the head and the first
// corkedBytes of a file only.
func (c *conn) cork(on bool) bool {
	if c.rc == nil || c.noCork {
		return false
	}
	v := 0
	if on {
		v = 1
	}
	var serr error
	err := c.rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK, v)
	})
	if err != nil || serr != nil {
		c.noCork = true
		return false
	}
	return true
}

// notSentLowat bounds the bytes a connection leaves queued in its socket
// and not yet sent (TCP_NOTSENT_LOWAT). Without it, sendfile fills the
// whole send buffer (megabytes, once autotuned), and the queued rest is
// pushed out later by the client's acknowledgements, in whatever context
// processes them: on loopback that is the client's own CPU. With it, the
// socket holds at most this much unsent, polls writable again once half
// of that has gone, and each refill is sent from the server's call. It
// also bounds the kernel memory a slow download ties up. Bytes in flight
// are not limited: this caps only the queue behind the congestion window.
const notSentLowat = 128 << 10

// tcpNotSentLowat is TCP_NOTSENT_LOWAT from linux/tcp.h (Linux 3.12),
// which package syscall predates.
const tcpNotSentLowat = 25

// setLowat sets TCP_NOTSENT_LOWAT once per connection, before the first
// large sendfile. A socket without it (not TCP, or an old kernel) is left
// as it is.
func (c *conn) setLowat() {
	if c.lowat || c.rc == nil {
		return
	}
	c.lowat = true
	_ = c.rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotSentLowat, notSentLowat)
	})
}

// idleSlack is how much longer than the idle timeout d a keep-alive
// connection may wait for its next request: an eighth of d, at most a
// second.
func idleSlack(d time.Duration) time.Duration { return min(d/8, time.Second) }

// renewIdle reports whether a read deadline left nanoseconds away (0 or
// less: none, or passed) must be set anew for an idle wait of d: it must
// be at least d away, and not more than d and idleSlack(d).
func renewIdle(left int64, d time.Duration) bool {
	return left < int64(d) || left > int64(d+idleSlack(d))
}

// deadlineLeft is how far the read deadline is from now (nanotime), 0
// when there is none. It reads no clock: rdl carries its monotonic
// reading.
func (c *conn) deadlineLeft(now int64) int64 {
	if c.rdl.IsZero() {
		return 0
	}
	return int64(c.rdl.Sub(epoch)) - now
}

func (c *conn) setReadDeadline(t time.Time) {
	c.rdl = t
	_ = c.nc.SetReadDeadline(t)
}

// run serves every request the client sends until the connection goes
// idle or closes.
func (c *conn) run() {
	for {
		err := c.readHead()
		if err == errPreface {
			c.handOver(nil, nil)
			return
		}
		if err != nil {
			c.fail(err)
			return
		}
		keep := c.serve()
		// The finished request is let go: an idle connection that held
		// its exchange (request, header maps, writer) kept 3 KiB alive.
		c.cur.Store(nil)
		if !keep {
			if st := c.state.Load(); st == stateHijacked || st == stateClosed {
				return
			}
			_ = c.flush()
			c.close()
			return
		}
		if c.r < c.w && len(c.out) < flushSize {
			continue // a pipelined request: its answer joins this one
		}
		if err := c.flush(); err != nil {
			c.close()
			return
		}
		if c.r < c.w {
			continue
		}
		if !c.idle(false) {
			return
		}
	}
}

// readHead parses the next request head into c.req, reading as needed.
func (c *conn) readHead() error {
	c.reading = false
	max := c.srv.MaxHeaderBytes
	if max <= 0 {
		max = http.DefaultMaxHeaderBytes
	}
	timed := false
	for {
		// RFC 9112 §2.2 tolerance, as net/http: up to four CR or LF
		// bytes after a POST body are skipped.
		for skip := 0; c.afterPost && skip < 4 && c.r < c.w && (c.buf[c.r] == '\r' || c.buf[c.r] == '\n'); skip++ {
			c.r++
		}
		if c.r < c.w {
			c.reading = true
			if c.buf[c.r] == 'P' && c.srv.H2C != nil && bytes.HasPrefix(c.buf[c.r:c.w], h2Preface) {
				return errPreface
			}
			err := parseRequest(c.buf[c.r:c.w], c.req, max)
			if err != errIncomplete {
				return err
			}
		}
		// Answers to earlier pipelined requests go out before waiting.
		if err := c.flush(); err != nil {
			return err
		}
		if !timed {
			timed = true
			switch d := c.idleTimeout(); {
			case c.reading && c.srv.ReadHeaderTimeout > 0:
				c.setReadDeadline(time.Now().Add(c.srv.ReadHeaderTimeout))
			case !c.reading && d > 0:
				c.setReadDeadline(time.Now().Add(d))
			}
		}
		if err := c.fill(max + readBufSize); err != nil {
			return err
		}
	}
}

// fill reads more bytes into the read buffer, compacting or growing it up
// to limit bytes.
func (c *conn) fill(limit int) error {
	if c.r == c.w {
		c.r, c.w = 0, 0
	}
	if c.w == len(c.buf) {
		if c.r > 0 {
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
		} else if len(c.buf) < limit {
			nb := make([]byte, min(2*len(c.buf), limit))
			copy(nb, c.buf[:c.w])
			c.buf = nb
		} else {
			return errHeaderTooLarge
		}
	}
	n, err := c.nc.Read(c.buf[c.w:])
	c.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// fail ends a connection whose next request could not be read: with an
// answer if the request was bad or too slow, silently otherwise.
func (c *conn) fail(err error) {
	var he *httpError
	switch {
	case err == errBadVersion && c.srv.H2C != nil && c.flushes == 0 && len(c.out) == 0:
		// The first line of an h2c listener's connection is neither
		// HTTP/1 nor the HTTP/2 preface: for an HTTP/2 client that got
		// its preface wrong, an HTTP/1 answer would be garbage, so the
		// connection closes, as RFC 9113 §3.4 has HTTP/2 servers do.
		if c.srv.Rejected != nil {
			c.srv.Rejected(c.nc, http.StatusBadRequest, "neither an HTTP/1 request line nor the HTTP/2 preface")
		}
		c.close()
	case errors.As(err, &he):
		c.reject(he.code, he.msg)
	case c.reading && isTimeout(err):
		c.reject(http.StatusRequestTimeout, "request header not complete within the read header timeout")
	case c.reading && (err == io.EOF || err == io.ErrUnexpectedEOF):
		c.reject(http.StatusBadRequest, "unexpected EOF in the request head")
	default:
		_ = c.flush()
		c.close()
	}
}

// reject answers a request the engine refuses, as net/http words it, and
// closes the connection gently so that the client reads the answer.
func (c *conn) reject(code int, reason string) {
	if c.srv.Rejected != nil {
		c.srv.Rejected(c.nc, code, reason)
	}
	_ = c.flush()
	text := strconv.Itoa(code) + " " + http.StatusText(code)
	var msg string
	switch code {
	case http.StatusRequestTimeout:
		msg = "HTTP/1.1 " + text + errorHeaders + "Content-Length: " + strconv.Itoa(len(text)) + "\r\n\r\n" + text
	case http.StatusRequestHeaderFieldsTooLarge:
		msg = "HTTP/1.1 " + text + errorHeaders + "\r\n" + text
	default:
		msg = "HTTP/1.1 " + text + errorHeaders + "\r\n" + text + ": " + reason
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = io.WriteString(c.nc, msg)
	c.lingerClose()
}

const errorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"

// lingerClose half-closes, then drains what the client still sends for a
// moment before closing, so that unread input does not make the kernel
// reset the connection before the client has read the answer.
func (c *conn) lingerClose() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		c.setReadDeadline(time.Now().Add(500 * time.Millisecond))
		if c.bufp == nil {
			c.grab()
		}
		for total := 0; total < discardLimit; {
			n, err := c.nc.Read(c.buf)
			total += n
			if err != nil {
				break
			}
		}
	}
	c.close()
}

// flush writes the output buffer.
func (c *conn) flush() error {
	if len(c.out) == 0 {
		return nil
	}
	c.flushes++
	_, err := c.nc.Write(c.out)
	c.out = c.out[:0]
	return err
}

// writeBig sends the output buffer, then p, then tail, in one writev.
func (c *conn) writeBig(p, tail []byte) error {
	c.iov[0], c.iov[1], c.iov[2] = c.out, p, tail
	bufs := net.Buffers(c.iov[:])
	_, err := bufs.WriteTo(c.nc)
	c.flushes++
	c.iov = [3][]byte{}
	c.out = c.out[:0]
	return err
}

// peek checks, without consuming anything, whether the client has reset
// the connection or sent more; false means neither has happened yet.
//
// A FIN is not the client going away: a client that shuts down its
// sending side after a complete request (HTTP/1.0 tools, `nc -N`) still
// reads the answer. So end of input keeps the watch waiting, for a reset
// or for the handler to finish; only an error (a reset) sets gone. After a
// FIN the socket stays readable, and each wakeup (the writer's, mostly)
// costs one more peek.
func (c *conn) peek(fd uintptr) bool {
	for {
		n, _, err := syscall.Recvfrom(int(fd), c.peekByte[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		case nil:
			return n > 0 // bytes of a pipelined request; 0 is a FIN: go on waiting
		default:
			c.gone = true
		}
		return true
	}
}

// watch waits until the client resets the connection or sends more, and
// cancels ctx in the first case. unwatch stops it.
func (c *conn) watch(ctx *reqContext) {
	c.gone = false
	err := c.wrc.Read(c.peekFn)
	if err == nil && c.gone {
		ctx.cancel(context.Canceled)
	}
	close(ctx.watching)
}

// aLongTimeAgo is a deadline that has passed, to wake a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// h2Preface is the first line of HTTP/2's client preface (RFC 9113
// §3.4), which a prior-knowledge h2c client sends where a request line
// would be. errPreface says readHead found it.
var (
	h2Preface  = []byte("PRI * HTTP/2.0\r\n")
	errPreface = errors.New("h1: HTTP/2 client preface")
)

// handOver gives the connection, with what has been read of it and not
// used, to Server.H2C.
func (c *conn) handOver(upgrade *http.Request, settings []byte) {
	if !c.state.CompareAndSwap(stateActive, stateHijacked) {
		c.close()
		return
	}
	if err := c.flush(); err != nil {
		c.close()
		return
	}
	c.srv.forget(c)
	c.fair.watched.setWaiting(c.fd, false)
	_ = c.nc.SetDeadline(time.Time{})
	pending := append([]byte(nil), c.buf[c.r:c.w]...)
	c.release()
	c.srv.H2C(&prefixConn{Conn: c.nc, pending: pending}, upgrade, settings)
}

// prefixConn reads pending before the connection.
type prefixConn struct {
	net.Conn
	pending []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.pending) > 0 {
		n := copy(b, p.pending)
		p.pending = p.pending[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// CloseWrite half-closes the connection, when it can.
func (p *prefixConn) CloseWrite() error {
	if cw, ok := p.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// hijack hands the connection to a handler. The client-gone watcher of
// its request x stops for good first: it would hold the connection's
// read side (and, after the client half-closes, never let go of it).
func (c *conn) hijack(x *reqContext) (net.Conn, *bufio.ReadWriter, error) {
	if !c.state.CompareAndSwap(stateActive, stateHijacked) {
		return nil, nil, http.ErrHijacked
	}
	x.mu.Lock()
	x.hijacked = true
	ch := x.watching
	x.mu.Unlock()
	if ch != nil {
		_ = c.nc.SetReadDeadline(aLongTimeAgo)
		<-ch
	}
	if err := c.flush(); err != nil {
		return nil, nil, err
	}
	c.srv.forget(c)
	_ = c.nc.SetDeadline(time.Time{})
	pending := append([]byte(nil), c.buf[c.r:c.w]...)
	c.r = c.w
	br := bufio.NewReader(io.MultiReader(bytes.NewReader(pending), c.nc))
	bw := bufio.NewWriter(c.nc)
	return c.nc, bufio.NewReadWriter(br, bw), nil
}
