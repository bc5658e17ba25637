package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Buffer sizes of a connection.
const (
	readBufSize  = 16 << 10
	writeBufSize = 4 << 10
)

// max1xx bounds the informational answers taken before the final one.
const max1xx = 10

// Options are one request's settings, the client's timeouts.
type Options struct {
	// ResponseHeaderTimeout bounds the wait for the response header
	// after the request has been written; 0 waits for ever.
	ResponseHeaderTimeout time.Duration
	// Dial opens a new connection. Its error is returned as it is:
	// nothing of the request was sent.
	Dial func(ctx context.Context) (net.Conn, error)
}

// BodyError is a failure to read the request's body: the client's fault,
// not the upstream's.
type BodyError struct{ Err error }

func (e *BodyError) Error() string { return e.Err.Error() }
func (e *BodyError) Unwrap() error { return e.Err }

// Pool holds the idle keep-alive connections to one upstream. Its zero
// value is not ready: use NewPool. It is safe for concurrent use.
type Pool struct {
	mu      sync.Mutex
	idle    []*conn // most recently used last
	maxIdle int
	idleFor time.Duration
	closed  bool
	refs    int // holders, see Acquire

	dials   atomic.Uint64 // connections opened
	reuses  atomic.Uint64 // requests on kept connections
	retries atomic.Uint64 // requests sent again after a kept connection turned out closed
}

// NewPool returns a pool keeping at most maxIdle idle connections, each
// for at most idleFor (0: no limit).
func NewPool(maxIdle int, idleFor time.Duration) *Pool {
	return &Pool{maxIdle: maxIdle, idleFor: idleFor}
}

// Acquire records one more holder of the pool and sets its limits (the
// last holder's win); Release undoes it, closing the idle connections
// when the last holder is gone. A pool shared across configuration
// generations keeps its connections while one of them holds it.
func (p *Pool) Acquire(maxIdle int, idleFor time.Duration) {
	p.mu.Lock()
	p.refs++
	p.maxIdle, p.idleFor, p.closed = maxIdle, idleFor, false
	p.mu.Unlock()
}

// Release drops a holder; see Acquire.
func (p *Pool) Release() {
	p.mu.Lock()
	p.refs--
	last := p.refs <= 0
	if last {
		p.closed = true // connections given back later are closed
	}
	p.mu.Unlock()
	if last {
		p.CloseIdle()
	}
}

// CloseIdle closes the idle connections.
func (p *Pool) CloseIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.nc.Close()
	}
}

// Stats are the pool's counts.
func (p *Pool) Stats() (dials, reuses, retries uint64, idle int) {
	p.mu.Lock()
	idle = len(p.idle)
	p.mu.Unlock()
	return p.dials.Load(), p.reuses.Load(), p.retries.Load(), idle
}

// conn is one connection to the upstream.
type conn struct {
	nc        net.Conn
	cr        countReader // what br reads from
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
}

var (
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufSize) }}
)

// take returns an idle connection, or nil.
func (p *Pool) take() *conn {
	now := time.Now()
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		idleFor := p.idleFor
		p.mu.Unlock()
		if idleFor > 0 && now.Sub(c.idleSince) > idleFor {
			c.close()
			continue
		}
		return c
	}
}

// put keeps c for the next request, or closes it when there is no room.
func (p *Pool) put(c *conn) {
	c.idleSince = time.Now()
	p.mu.Lock()
	kept := !p.closed && len(p.idle) < p.maxIdle
	if kept {
		p.idle = append(p.idle, c)
	}
	p.mu.Unlock()
	if !kept {
		c.close()
	}
}

// close closes the connection and gives its buffers back.
func (c *conn) close() {
	c.nc.Close()
	if c.br != nil {
		c.br.Reset(nil)
		readers.Put(c.br)
		c.bw.Reset(nil)
		writers.Put(c.bw)
		c.br, c.bw = nil, nil
	}
}

func (p *Pool) dial(ctx context.Context, o *Options) (*conn, error) {
	nc, err := o.Dial(ctx)
	if err != nil {
		return nil, err
	}
	p.dials.Add(1)
	c := &conn{nc: nc}
	c.cr.r = nc
	c.br = readers.Get().(*bufio.Reader)
	c.br.Reset(&c.cr)
	c.bw = writers.Get().(*bufio.Writer)
	c.bw.Reset(nc)
	return c, nil
}

// countReader counts the bytes read from a connection.
type countReader struct {
	r io.Reader
	n int64
}

func (r *countReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	return n, err
}

// RoundTrip sends req on a kept connection or a new one and returns the
// response, whose body streams from the connection. The connection goes
// back to the pool when the body has been read to its end (or at once
// when there is none), both sides allow keep-alive and the request was
// sent whole; closing the body before its end closes the connection.
//
// req.URL gives the request target and req.Host the Host field; the
// header is sent as it is (no hop-by-hop header is removed here). A
// request with Upgrade or "Expect: 100-continue" is not for this client.
// When a kept connection turns out closed by the upstream before any
// answer, a request without a body is sent again once on a new
// connection. 1xx answers go to got1xx, or when it is nil to the
// request's httptrace.ClientTrace (Got1xxResponse), as with
// http.Transport.
func (p *Pool) RoundTrip(req *http.Request, o *Options, got1xx func(int, textproto.MIMEHeader) error) (*http.Response, error) {
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	hasBody := req.Body != nil && req.Body != http.NoBody
	for attempt := 0; ; attempt++ {
		c := p.take()
		reused := c != nil
		if reused && hasBody && !alive(c.nc) {
			// A body cannot be sent twice: make sure of the connection.
			c.close()
			c, reused = nil, false
		}
		if c == nil {
			var err error
			if c, err = p.dial(ctx, o); err != nil {
				return nil, err
			}
		} else {
			p.reuses.Add(1)
		}
		resp, err, stale := p.exchange(c, req, o, hasBody, got1xx)
		if err == nil {
			return resp, nil
		}
		if stale && reused && !hasBody && attempt == 0 && ctx.Err() == nil {
			p.retries.Add(1)
			continue
		}
		return nil, err
	}
}

// bodyReader reads the request's body for the writer, keeping its error
// apart from those of the connection.
type bodyReader struct {
	r   io.Reader
	err error
	// left counts down the bytes of a body of known length; for one
	// of unknown length it stays below zero until its end.
	left atomic.Int64
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.left.Store(0)
	} else if err != nil {
		b.err = err
	} else if n > 0 && b.left.Load() > 0 {
		b.left.Add(-int64(n))
	}
	return n, err
}

// read reports whether the whole body has been read from the client.
func (b *bodyReader) read() bool { return b.left.Load() == 0 }

func (b *bodyReader) Close() error { return nil }

// writeGrace is how long an answer that is whole waits for the writer
// to send the last of a request body it has read to its end.
const writeGrace = 100 * time.Millisecond

// aLongTimeAgo is a deadline in the past, to wake blocked I/O at once.
var aLongTimeAgo = time.Unix(1, 0)

// exchange sends req on c and reads the response header. stale reports
// a failure that a connection closed by the upstream while idle
// explains: nothing of an answer came. On error c is closed.
func (p *Pool) exchange(c *conn, req *http.Request, o *Options, hasBody bool, got1xx func(int, textproto.MIMEHeader) error) (resp *http.Response, err error, stale bool) {
	ctx := req.Context()
	// The client going away ends the exchange: the connection's
	// deadlines are forced into the past, which wakes any read or write.
	// Only an exchange that lasts watches for it (see AfterFuncLate).
	var cancelled atomic.Bool
	stop := AfterFuncLate(ctx, WatchDelay, func() {
		cancelled.Store(true)
		_ = c.nc.SetDeadline(aLongTimeAgo)
	})
	fail := func(e error) (*http.Response, error, bool) {
		stop()
		c.close()
		if cancelled.Load() || ctx.Err() != nil {
			return nil, ctx.Err(), false
		}
		return nil, e, false
	}

	var w *writer
	if !hasBody {
		out := *req
		out.Body = nil
		if err := out.Write(c.bw); err != nil {
			return fail(err)
		}
		if err := c.bw.Flush(); err != nil {
			r, e, _ := fail(err)
			return r, e, true
		}
		if o.ResponseHeaderTimeout > 0 {
			_ = c.nc.SetReadDeadline(time.Now().Add(o.ResponseHeaderTimeout))
		}
	} else {
		// The body goes out from its own goroutine, so that an
		// upstream may answer (and stream) before it has read all of
		// it.
		w = &writer{c: c, done: make(chan struct{}), body: &bodyReader{r: req.Body}, timeout: o.ResponseHeaderTimeout}
		w.body.left.Store(-1)
		if req.ContentLength > 0 {
			w.body.left.Store(req.ContentLength)
		}
		out := *req
		out.Body = w.body
		go w.run(&out)
	}

	if got1xx == nil {
		if trace := httptrace.ContextClientTrace(ctx); trace != nil {
			got1xx = trace.Got1xxResponse
		}
	}
	read0 := c.cr.n
	for n1xx := 0; ; n1xx++ {
		resp, err = http.ReadResponse(c.br, req)
		if err != nil {
			if w != nil {
				c.nc.SetDeadline(aLongTimeAgo)
				<-w.done
				if w.body.err != nil {
					r, _, _ := fail(nil)
					if ctx.Err() != nil {
						return r, ctx.Err(), false
					}
					return nil, &BodyError{Err: w.body.err}, false
				}
			}
			r, e, _ := fail(err)
			closed := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
			return r, e, w == nil && n1xx == 0 && closed && (c.cr.n == read0 || replayable(req))
		}
		code := resp.StatusCode
		if code < 100 || code > 199 {
			break
		}
		if code == http.StatusSwitchingProtocols {
			if w != nil {
				c.nc.SetDeadline(aLongTimeAgo)
				<-w.done
			}
			return fail(errors.New("the upstream switched protocols unasked"))
		}
		if n1xx >= max1xx {
			if w != nil {
				c.nc.SetDeadline(aLongTimeAgo)
				<-w.done
			}
			return fail(fmt.Errorf("more than %d informational answers", max1xx))
		}
		if got1xx != nil {
			if err := got1xx(code, textproto.MIMEHeader(resp.Header)); err != nil {
				if w != nil {
					c.nc.SetDeadline(aLongTimeAgo)
					<-w.done
				}
				return fail(err)
			}
		}
	}
	switch {
	case w != nil:
		w.gotHeader()
	case o.ResponseHeaderTimeout > 0:
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	keep := !resp.Close && !req.Close
	b := &body{p: p, c: c, rc: resp.Body, w: w, keep: keep, stop: stop}
	if resp.Body == http.NoBody || resp.Body == nil {
		b.finish(true)
		return resp, nil, false
	}
	resp.Body = b
	return resp, nil, false
}

// replayable reports whether a request may be sent again after its
// connection broke mid-answer, as http.Transport decides it.
func replayable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, a := req.Header["Idempotency-Key"]
	_, b := req.Header["X-Idempotency-Key"]
	return a || b
}

// writer sends a request with a body.
type writer struct {
	c       *conn
	body    *bodyReader
	done    chan struct{}
	err     error // of Write; read after done
	timeout time.Duration

	mu      sync.Mutex // orders the read deadline's changes
	header  bool       // the response header came
	aborted bool       // the client's body failed
}

func (w *writer) run(req *http.Request) {
	defer close(w.done)
	err := req.Write(w.c.bw)
	if err == nil {
		err = w.c.bw.Flush()
	}
	w.err = err
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.body.err != nil:
		// The client's body failed: the request cannot be completed,
		// and the reader is woken.
		w.aborted = true
		_ = w.c.nc.SetDeadline(aLongTimeAgo)
	case err == nil && w.timeout > 0 && !w.header:
		// The response header timeout counts from the end of the
		// request, as with http.Transport.
		_ = w.c.nc.SetReadDeadline(time.Now().Add(w.timeout))
	}
}

// gotHeader notes that the response header came, lifting the read
// deadline, which the writer then does not set again.
func (w *writer) gotHeader() {
	w.mu.Lock()
	w.header = true
	if !w.aborted {
		_ = w.c.nc.SetReadDeadline(time.Time{})
	}
	w.mu.Unlock()
}

// body is a response's body: the connection goes back to the pool at
// its end.
type body struct {
	p    *Pool
	c    *conn
	rc   io.ReadCloser
	w    *writer // nil when the request had no body
	keep bool
	stop func() bool

	mu   sync.Mutex
	done bool
	eof  bool
	rerr error
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		if b.eof {
			return 0, io.EOF
		}
		if b.rerr != nil {
			return 0, b.rerr
		}
		return 0, errors.New("read on a closed body")
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
		b.finish(true)
	} else if err != nil {
		b.rerr = err
		b.finish(false)
	}
	return n, err
}

// Close ends the body: before its end, the connection is closed.
func (b *body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		b.finish(false)
	}
	return nil
}

// finish gives the connection back when whole is true and both sides
// allow it, else closes it.
func (b *body) finish(whole bool) {
	b.done = true
	stopped := b.stop()
	c := b.c
	if b.w != nil {
		select {
		case <-b.w.done:
			whole = whole && b.w.err == nil
		default:
			if whole && b.w.body.read() {
				// The writer holds the last of the body: the upstream
				// has most likely read it all and the last write is
				// returning (a large one goes straight to the socket
				// before the writer looks for the body's end). It gets
				// a moment to end.
				_ = c.nc.SetWriteDeadline(time.Now().Add(writeGrace))
				<-b.w.done
				whole = b.w.err == nil
				break
			}
			// The answer ended before the request: the connection
			// cannot be reused; cutting it ends the writer.
			whole = false
			_ = c.nc.SetDeadline(aLongTimeAgo)
			<-b.w.done
		}
	}
	if !whole || !b.keep || !stopped || c.br.Buffered() > 0 {
		c.close()
		return
	}
	if b.w != nil {
		_ = c.nc.SetDeadline(time.Time{})
	}
	b.p.put(c)
}

// alive reports whether an idle connection is still open: the upstream
// has neither closed it nor sent anything on it. It peeks without
// blocking.
func alive(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	err = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		for {
			_, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
			if err == unix.EINTR {
				continue
			}
			open = err == unix.EAGAIN
			return true
		}
	})
	return err == nil && open
}
