package main

import (
	"errors"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Config is what the engine takes from the server's configuration; the
// zero value of a field means net/http's default or none.
type Config struct {
	Addr              string        // IPv4 or IPv6 literal with port
	Loops             int           // event loops; GOMAXPROCS when 0
	Goroutine         bool          // run handlers on a goroutine instead of inline on the loop
	MaxHeaderBytes    int           // head limit, 431 beyond; 1 MiB when 0 (net/http's default)
	MaxBodyBytes      int64         // request bodies are buffered whole; 413 beyond; 1 MiB when 0
	ReadHeaderTimeout time.Duration // from the first byte of a head to its end (and its body)
	IdleTimeout       time.Duration // keep-alive connection with nothing buffered
	WriteTimeout      time.Duration // output pending this long closes the connection
}

// Handler is the low-level API: it gets the parsed request (slices into
// the read buffer, valid during the call) and its buffered body, and
// answers through w before returning.
type Handler interface {
	Serve(w *Response, r *request, body []byte)
}

// Server is one engine instance over one listening socket.
type Server struct {
	cfg     Config
	h       Handler
	lnfd    int
	loops   []*loop
	stop    atomic.Bool
	wg      sync.WaitGroup
	started chan struct{}
	port    int
}

// conn is the state of one connection. An idle keep-alive connection
// holds nothing else: no goroutine, no read or write buffer.
type conn struct {
	fd     int
	loop   *loop
	raddr  netip.AddrPort
	raddrS string   // raddr formatted, on the adapter's first use
	in     []byte   // unparsed input (pooled), nil when none
	out    []byte   // pending output (pooled), nil when none
	outPos int      // written part of out
	segs   [][]byte // large bodies to send after out[sealed:] (writev)
	sealed int      // out[:sealed] precedes segs
	file   *os.File // sendfile after out and segs
	fOff   int64
	fRem   int64

	headStart  int64 // unix ns: first byte of an unfinished request
	lastActive int64 // unix ns: last read or write
	outSince   int64 // unix ns: output pending since
	closing    bool  // close once output is flushed
	continued  bool  // 100 Continue sent for the current request
	busy       atomic.Bool
	wantOut    bool // registered for EPOLLOUT
}

// loop is one event loop: an epoll set, its connections and a scratch
// buffer that every read lands in first.
type loop struct {
	srv      *Server
	epfd     int
	mu       sync.Mutex // guards conns (handler goroutines close too)
	conns    map[int]*conn
	scratch  []byte
	st       *state       // for inline handlers
	inflight atomic.Int32 // handler goroutines running
}

// state is the per-request working set: a parsed request, the response
// writer and the http.Handler adapter's reused objects. Inline handlers
// use their loop's; handler goroutines take one from statePool.
type state struct {
	req  request
	w    Response
	body []byte
	ad   adapter
}

var statePool = sync.Pool{New: func() any { return new(state) }}

const bufSize = 4096

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, bufSize); return &b }}

func getBuf() []byte { return (*bufPool.Get().(*[]byte))[:0] }

func putBuf(b []byte) {
	if cap(b) == bufSize {
		b = b[:0]
		bufPool.Put(&b)
	}
}

// NewServer opens the listening socket.
func NewServer(cfg Config, h Handler) (*Server, error) {
	if cfg.Loops <= 0 {
		cfg.Loops = runtime.GOMAXPROCS(0)
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = 1 << 20
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	ap, err := netip.ParseAddrPort(cfg.Addr)
	if err != nil {
		return nil, err
	}
	var sa unix.Sockaddr
	family := unix.AF_INET
	if ap.Addr().Is4() {
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	} else {
		family = unix.AF_INET6
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Listen(fd, 4096); err != nil {
		unix.Close(fd)
		return nil, err
	}
	s := &Server{cfg: cfg, h: h, lnfd: fd}
	if got, err := unix.Getsockname(fd); err == nil {
		switch a := got.(type) {
		case *unix.SockaddrInet4:
			s.port = a.Port
		case *unix.SockaddrInet6:
			s.port = a.Port
		}
	}
	for i := 0; i < cfg.Loops; i++ {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return nil, err
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, Fd: int32(fd)}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return nil, err
		}
		s.loops = append(s.loops, &loop{srv: s, epfd: epfd, conns: map[int]*conn{},
			scratch: make([]byte, 64<<10), st: new(state)})
	}
	return s, nil
}

// Port is the bound port (useful with port 0).
func (s *Server) Port() int { return s.port }

// Serve runs the loops until Close.
func (s *Server) Serve() {
	startDateClock()
	for _, l := range s.loops {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); l.run() }()
	}
	s.wg.Wait()
}

// Close stops the loops (within their 100 ms wait) and closes every
// connection and the listener.
func (s *Server) Close() {
	s.stop.Store(true)
	s.wg.Wait()
	for _, l := range s.loops {
		l.mu.Lock()
		for fd := range l.conns {
			unix.Close(fd)
		}
		l.conns = map[int]*conn{}
		l.mu.Unlock()
		unix.Close(l.epfd)
	}
	unix.Close(s.lnfd)
}

func (l *loop) run() {
	events := make([]unix.EpollEvent, 256)
	lastSweep := time.Now().UnixNano()
	for !l.srv.stop.Load() {
		// While handler goroutines run, poll without blocking and yield:
		// a loop blocked in epoll_wait holds its P until sysmon takes it
		// back, which with GOMAXPROCS=1 starves the handlers.
		wait := 100
		if l.inflight.Load() > 0 {
			wait = 0
		}
		n, err := unix.EpollWait(l.epfd, events, wait)
		if err != nil && err != unix.EINTR {
			return
		}
		if n <= 0 && wait == 0 {
			runtime.Gosched()
		}
		for i := 0; i < n; i++ {
			fd := int(events[i].Fd)
			if fd == l.srv.lnfd {
				l.accept()
				continue
			}
			l.mu.Lock()
			c := l.conns[fd]
			l.mu.Unlock()
			if c == nil || c.busy.Load() {
				continue
			}
			ev := events[i].Events
			if ev&unix.EPOLLOUT != 0 {
				if !l.flush(c, false) {
					continue
				}
			}
			if ev&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR|unix.EPOLLRDHUP) != 0 && !c.wantOut {
				l.onRead(c)
			}
		}
		if now := nowNano(); now-lastSweep >= int64(time.Second) {
			lastSweep = now
			l.sweep(now)
		}
	}
}

func (l *loop) accept() {
	for {
		fd, sa, err := unix.Accept4(l.srv.lnfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			return // EAGAIN, or another loop took it
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		c := &conn{fd: fd, loop: l, lastActive: nowNano()}
		switch a := sa.(type) {
		case *unix.SockaddrInet4:
			c.raddr = netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
		case *unix.SockaddrInet6:
			c.raddr = netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
		}
		l.mu.Lock()
		l.conns[fd] = c
		l.mu.Unlock()
		ev := unix.EpollEvent{Events: l.inEvents(), Fd: int32(fd)}
		if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			l.close(c)
		}
	}
}

func (l *loop) inEvents() uint32 {
	if l.srv.cfg.Goroutine {
		return unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT
	}
	return unix.EPOLLIN | unix.EPOLLRDHUP
}

func (l *loop) rearm(c *conn, events uint32) {
	ev := unix.EpollEvent{Events: events, Fd: int32(c.fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		l.close(c)
	}
}

func (l *loop) close(c *conn) {
	l.mu.Lock()
	if l.conns[c.fd] == c {
		delete(l.conns, c.fd)
		unix.Close(c.fd)
	}
	l.mu.Unlock()
	if c.in != nil {
		putBuf(c.in)
		c.in = nil
	}
	if c.out != nil {
		putBuf(c.out)
		c.out = nil
	}
	c.segs = nil
	c.file = nil
}

// sweep closes connections past their timeouts.
func (l *loop) sweep(now int64) {
	cfg := &l.srv.cfg
	var dead []*conn
	l.mu.Lock()
	for _, c := range l.conns {
		if c.busy.Load() {
			continue
		}
		switch {
		case c.headStart != 0 && cfg.ReadHeaderTimeout > 0 && now-c.headStart > int64(cfg.ReadHeaderTimeout):
			dead = append(dead, c)
		case c.outSince != 0 && cfg.WriteTimeout > 0 && now-c.outSince > int64(cfg.WriteTimeout):
			dead = append(dead, c)
		case c.headStart == 0 && c.outSince == 0 && cfg.IdleTimeout > 0 && now-c.lastActive > int64(cfg.IdleTimeout):
			dead = append(dead, c)
		}
	}
	l.mu.Unlock()
	for _, c := range dead {
		l.close(c)
	}
}

// onRead reads what is there and serves every complete request in it.
func (l *loop) onRead(c *conn) {
	var data []byte
	var n int
	var err error
	if len(c.in) == 0 {
		n, err = unix.Read(c.fd, l.scratch)
		if n > 0 {
			data = l.scratch[:n]
		}
	} else {
		c.in = grow(c.in, l.srv.cfg.MaxHeaderBytes+int(l.srv.cfg.MaxBodyBytes)+maxChunkLine)
		n, err = unix.Read(c.fd, c.in[len(c.in):cap(c.in)])
		if n > 0 {
			c.in = c.in[:len(c.in)+n]
			data = c.in
		}
	}
	if n <= 0 {
		if err == unix.EAGAIN || err == unix.EINTR {
			l.rearmIn(c)
			return
		}
		l.close(c)
		return
	}
	now := nowNano()
	c.lastActive = now

	if l.srv.cfg.Goroutine {
		st := l.st
		used, ready := l.srv.scan(c, st, data)
		if !ready {
			l.keep(c, data, used, now)
			if c.closing {
				l.flush(c, false)
				return
			}
			l.rearmIn(c)
			return
		}
		// Hand the connection to a goroutine: its input must leave the
		// loop's scratch buffer first.
		l.keep(c, data, 0, now)
		c.busy.Store(true)
		l.inflight.Add(1)
		go l.serveAsync(c)
		return
	}
	used := l.srv.process(c, l.st, data)
	l.keep(c, data, used, now)
	l.flush(c, false)
}

func (l *loop) rearmIn(c *conn) {
	if l.srv.cfg.Goroutine {
		l.rearm(c, l.inEvents())
	}
}

// keep saves data[used:] as the connection's unparsed input.
func (l *loop) keep(c *conn, data []byte, used int, now int64) {
	rest := data[used:]
	switch {
	case len(rest) == 0:
		if c.in != nil {
			putBuf(c.in)
			c.in = nil
		}
		c.headStart = 0
		return
	case c.in != nil && len(c.in) > 0 && &data[0] == &c.in[0]:
		if used > 0 {
			c.in = c.in[:copy(c.in, rest)]
		}
	default:
		if c.in == nil {
			c.in = getBuf()
		}
		c.in = append(c.in[:0], rest...)
	}
	if c.headStart == 0 || used > 0 {
		c.headStart = now
	}
}

// grow makes room to read into b, doubling up to max.
func grow(b []byte, max int) []byte {
	if len(b) < cap(b) {
		return b
	}
	n := 2 * cap(b)
	if n > max {
		n = max
	}
	if n <= len(b) {
		return b
	}
	nb := make([]byte, len(b), n)
	copy(nb, b)
	putBuf(b)
	return nb
}

// serveAsync serves the buffered requests of c on a goroutine, then
// gives the connection back to its loop.
func (l *loop) serveAsync(c *conn) {
	defer l.inflight.Add(-1)
	st := statePool.Get().(*state)
	used := l.srv.process(c, st, c.in)
	statePool.Put(st)
	l.keep(c, c.in, used, nowNano())
	if !l.flush(c, true) {
		return
	}
	c.busy.Store(false)
	if c.closing {
		l.close(c)
		return
	}
	l.rearm(c, l.inEvents())
}

// scan reports whether data holds at least one complete request (without
// serving it). On a framing error it queues the error answer and marks
// the connection closing.
func (s *Server) scan(c *conn, st *state, data []byte) (int, bool) {
	err := parseRequest(data, &st.req, s.cfg.MaxHeaderBytes)
	if err == nil {
		_, err = bodyLen(&st.req, data[st.req.headLen:], s.cfg.MaxBodyBytes, nil)
		if err == nil {
			return 0, true
		}
	}
	if err == errIncomplete {
		if st.req.headLen > 0 && st.req.expectContinue && !c.continued {
			c.out = append(c.outBuf(), "HTTP/1.1 100 Continue\r\n\r\n"...)
			c.continued = true
		}
		return 0, false
	}
	s.writeError(c, err)
	return len(data), false
}

// process serves every complete request at the start of data and
// returns how many bytes they took.
func (s *Server) process(c *conn, st *state, data []byte) int {
	pos := 0
	for pos < len(data) && !c.closing && c.file == nil {
		r := &st.req
		r.headLen = 0
		err := parseRequest(data[pos:], r, s.cfg.MaxHeaderBytes)
		if err == errIncomplete {
			break
		}
		if err != nil {
			s.writeError(c, err)
			return len(data)
		}
		st.body = st.body[:0]
		var dst *[]byte
		if r.chunked {
			dst = &st.body
		}
		n, err := bodyLen(r, data[pos+r.headLen:], s.cfg.MaxBodyBytes, dst)
		if err == errIncomplete {
			if r.expectContinue && !c.continued {
				c.out = append(c.outBuf(), "HTTP/1.1 100 Continue\r\n\r\n"...)
				c.continued = true
			}
			break
		}
		if err != nil {
			s.writeError(c, err)
			return len(data)
		}
		body := st.body
		if !r.chunked {
			body = data[pos+r.headLen : pos+r.headLen+n]
		}
		c.continued = false
		if r.close {
			c.closing = true
		}
		st.w.reset(c, r)
		st.w.ad = &st.ad
		s.h.Serve(&st.w, r, body)
		pos += r.headLen + n
	}
	return pos
}

func (c *conn) outBuf() []byte {
	if c.out == nil {
		c.out = getBuf()
	}
	return c.out
}

// writeError queues net/http's answer to a request it cannot parse and
// marks the connection for closing.
func (s *Server) writeError(c *conn, err error) {
	he, ok := err.(*httpError)
	if !ok {
		he = &httpError{400, err.Error()}
	}
	text := strconv.Itoa(he.code) + " " + statusText(he.code)
	b := c.outBuf()
	b = append(b, "HTTP/1.1 "...)
	b = append(b, text...)
	b = append(b, "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"...)
	b = append(b, text...)
	if he.code == 400 {
		b = append(b, ": "...)
		b = append(b, he.msg...)
	}
	c.out = b
	c.closing = true
}

// flush writes pending output: out (with the large bodies after it by
// writev), then the file by sendfile. It returns false if the connection
// was closed. With block (handler goroutines), it waits for the socket
// to drain; on the loop it registers for EPOLLOUT instead.
func (l *loop) flush(c *conn, block bool) bool {
	for {
		err := c.writeSome()
		if err == nil {
			break
		}
		if err != unix.EAGAIN {
			l.close(c)
			return false
		}
		if c.outSince == 0 {
			c.outSince = nowNano()
		}
		if block {
			ms := -1
			if wt := l.srv.cfg.WriteTimeout; wt > 0 {
				ms = int(wt / time.Millisecond)
			}
			pfd := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLOUT}}
			if n, err := unix.Poll(pfd, ms); n <= 0 && err != unix.EINTR {
				l.close(c)
				return false
			}
			continue
		}
		if !c.wantOut {
			c.wantOut = true
			l.rearm(c, unix.EPOLLOUT|unix.EPOLLRDHUP)
		}
		return true
	}
	c.outSince = 0
	c.lastActive = nowNano()
	if c.out != nil {
		putBuf(c.out)
		c.out = nil
	}
	c.outPos, c.sealed = 0, 0
	c.segs = c.segs[:0]
	if c.closing {
		if !block {
			l.close(c)
			return false
		}
		return true
	}
	if c.wantOut {
		c.wantOut = false
		if block {
			return true
		}
		l.rearm(c, l.inEvents())
		// Requests that waited behind a file or a full socket.
		if len(c.in) > 0 {
			if l.srv.cfg.Goroutine {
				if _, ready := l.srv.scan(c, l.st, c.in); ready {
					c.busy.Store(true)
					l.inflight.Add(1)
					go l.serveAsync(c)
				}
				return true
			}
			used := l.srv.process(c, l.st, c.in)
			l.keep(c, c.in, used, nowNano())
			return l.flush(c, false)
		}
	} else if c.file == nil && len(c.in) > 0 && !block && !l.srv.cfg.Goroutine {
		// A file response stopped the batch: serve what follows it.
		used := l.srv.process(c, l.st, c.in)
		if used > 0 {
			l.keep(c, c.in, used, nowNano())
			return l.flush(c, false)
		}
	}
	return true
}

// writeSome sends what is pending; nil when all of it is sent.
func (c *conn) writeSome() error {
	for c.outPos < len(c.out) || len(c.segs) > 0 {
		var n int
		var err error
		if len(c.segs) == 0 {
			n, err = unix.Write(c.fd, c.out[c.outPos:])
		} else {
			iov := make([][]byte, 0, len(c.segs)+2)
			if c.outPos < c.sealed {
				iov = append(iov, c.out[c.outPos:c.sealed])
			}
			iov = append(iov, c.segs...)
			if c.sealed < len(c.out) {
				iov = append(iov, c.out[c.sealed:])
			}
			n, err = unix.Writev(c.fd, iov)
		}
		if err != nil {
			return err
		}
		c.consume(n)
	}
	for c.file != nil && c.fRem > 0 {
		off := c.fOff
		n, err := unix.Sendfile(c.fd, int(c.file.Fd()), &off, int(min(c.fRem, 1<<30)))
		if n > 0 {
			c.fOff += int64(n)
			c.fRem -= int64(n)
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("sendfile: file shrank")
		}
	}
	c.file = nil
	return nil
}

// consume marks n bytes of out[:sealed], segs, out[sealed:] as sent.
func (c *conn) consume(n int) {
	if len(c.segs) == 0 {
		c.outPos += n
		return
	}
	if k := min(n, c.sealed-c.outPos); k > 0 {
		c.outPos += k
		n -= k
	}
	for n > 0 && len(c.segs) > 0 {
		if n >= len(c.segs[0]) {
			n -= len(c.segs[0])
			c.segs = c.segs[1:]
			continue
		}
		c.segs[0] = c.segs[0][n:]
		n = 0
	}
	c.outPos += n
}

// The Date header, formatted once a second.
var dateLine atomic.Pointer[[]byte]

var dateOnce sync.Once

func startDateClock() {
	dateOnce.Do(func() {
		set := func() {
			b := []byte("Date: " + time.Now().UTC().Format(timeFormat) + "\r\n")
			dateLine.Store(&b)
		}
		set()
		go func() {
			for range time.Tick(time.Second) {
				set()
			}
		}()
	})
}

const timeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

func nowNano() int64 { return time.Now().UnixNano() }
