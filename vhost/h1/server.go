package h1

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Server serves HTTP/1.x on listeners. Its fields mean what http.Server's
// fields of the same names mean; set them before Serve.
type Server struct {
	Handler http.Handler

	// ReadHeaderTimeout bounds the time from the first byte of a request
	// head to its end; 0 means no limit.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included; 0 means
	// no limit.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of a request head to the
	// end of its answer; 0 means no limit.
	WriteTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a keep-alive
	// connection; 0 means ReadTimeout, and then no limit.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request head; 0 means
	// http.DefaultMaxHeaderBytes.
	MaxHeaderBytes int

	// ConnContext, when set, derives the context of each connection, as
	// http.Server.ConnContext does.
	ConnContext func(ctx context.Context, c net.Conn) context.Context

	// Rejected, when set, is called for each request the engine answers
	// itself before any handler runs (malformed, too large, too slow),
	// with the status sent and a short reason.
	Rejected func(c net.Conn, status int, reason string)

	// H2C, when set, takes over plain connections that switch to HTTP/2:
	// one that opens with the client preface (prior-knowledge h2c, RFC
	// 9113 §3.3) instead of a request line, with upgrade nil; and one
	// whose bodiless request asks to upgrade to h2c (RFC 7540 §3.2),
	// after the engine has answered 101 Switching Protocols, with that
	// request and its HTTP2-Settings decoded. c reads first what the
	// engine has read and not used. H2C owns c and runs on the
	// connection's goroutine.
	H2C func(c net.Conn, upgrade *http.Request, settings []byte)

	// ErrorLog receives handler panics; nil means slog.Default().
	ErrorLog *slog.Logger

	// Fairness, when set, is shared with the other servers of the
	// process (see Fairness), and its owner closes it. Nil means one of
	// the server's own, closed by Close or a Shutdown that ends every
	// connection.
	Fairness *Fairness

	inShutdown atomic.Bool
	hot        atomic.Int64 // connections waiting on a large stack

	fairOnce sync.Once
	fair     *Fairness // Fairness, or own
	own      bool      // fair is the server's own

	mu        sync.Mutex // guards listeners and conns
	listeners map[*net.Listener]struct{}
	conns     map[*conn]struct{}
	serving   sync.WaitGroup // Serve loops running
	sweepStop chan struct{}  // closed to stop the sweep
}

// shrinkAfter is how long a connection waits for its next request on the
// goroutine that served the last one, stack and all, before the sweep
// moves the wait to a fresh goroutine with a small stack. Keeping the
// goroutine makes a busy keep-alive connection cost no goroutine start
// and no stack growth per request; moving it makes an idle one cost a
// few KiB instead of the tens a handler's stack can grow to.
const shrinkAfter = time.Second

// sweepLoop runs sweep every shrinkAfter until stop is closed.
func (s *Server) sweepLoop(stop chan struct{}) {
	t := time.NewTicker(shrinkAfter)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.sweep()
		}
	}
}

// sweep wakes each connection that has waited on a large stack for
// longer than shrinkAfter, with a deadline in the past, so that it moves
// to a small one (see conn.idle).
func (s *Server) sweep() {
	now := nanotime()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if !c.small.Load() && now-c.idleSince.Load() > int64(shrinkAfter) && c.state.CompareAndSwap(stateIdle, stateShrink) {
			_ = c.nc.SetReadDeadline(aLongTimeAgo)
		}
	}
}

// Serve accepts connections on l and serves them until Shutdown or Close,
// after which it returns http.ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	if !s.track(&l, true) {
		return http.ErrServerClosed
	}
	defer s.track(&l, false)
	base := context.WithValue(context.Background(), http.ServerContextKey, s)
	// Accept waits in the netpoller like an idle connection, and busy
	// connections must not keep a new one waiting (see starve.go).
	_, lfd := rawConn(l)
	fair := s.fairness()
	fair.watched.add(lfd)
	var delay time.Duration
	for {
		fair.watched.setWaiting(lfd, true)
		nc, err := l.Accept()
		fair.watched.setWaiting(lfd, false)
		if err != nil {
			if s.inShutdown.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles) {
				// Out of file descriptors or similar: back off as
				// net/http does, rather than spin.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logger().Warn("accept failed; retrying", "addr", l.Addr().String(), "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		c := s.newConn(nc, base)
		if c == nil {
			continue
		}
		go c.start()
	}
}

// fairness is the Fairness the server's connections use.
func (s *Server) fairness() *Fairness {
	s.fairOnce.Do(func() {
		s.fair = s.Fairness
		if s.fair == nil {
			s.fair, s.own = new(Fairness), true
		}
	})
	return s.fair
}

// closeFairness closes the server's own Fairness.
func (s *Server) closeFairness() {
	if f := s.fairness(); s.own {
		_ = f.Close()
	}
}

// track adds or removes a listener; adding fails once shut down.
func (s *Server) track(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.inShutdown.Load() {
			return false
		}
		if s.listeners == nil {
			s.listeners = map[*net.Listener]struct{}{}
		}
		s.listeners[l] = struct{}{}
		s.serving.Add(1)
		return true
	}
	delete(s.listeners, l)
	s.serving.Done()
	return true
}

// rawConn returns the raw connection and descriptor behind a connection
// or listener, or nil and -1 if it has none.
func rawConn(x any) (syscall.RawConn, int) {
	sc, ok := x.(syscall.Conn)
	if !ok {
		return nil, -1
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, -1
	}
	fd := -1
	_ = rc.Control(func(f uintptr) { fd = int(f) })
	return rc, fd
}

// ServeConn serves one connection that was accepted elsewhere (a TLS
// connection whose handshake is done, say) and returns when it is
// closed, idle on another goroutine, or taken over (hijack, H2C). The
// server owns nc from the call on: Shutdown and Close end it as one of
// Serve's.
func (s *Server) ServeConn(nc net.Conn) {
	c := s.newConn(nc, context.WithValue(context.Background(), http.ServerContextKey, s))
	if c != nil {
		c.start()
	}
}

func (s *Server) newConn(nc net.Conn, base context.Context) *conn {
	c := &conn{srv: s, fair: s.fairness(), nc: nc}
	c.rc, c.fd = rawConn(nc)
	c.wrc = c.rc
	if c.rc == nil {
		if tc, ok := nc.(*tls.Conn); ok {
			// Over TLS every read goes through crypto/tls: the idle wait
			// blocks in Read, and there is no cork or sendfile. Only the
			// client-gone watch uses the socket, to peek at it.
			c.wrc, _ = rawConn(tc.NetConn())
		}
	}
	c.fair.watched.add(c.fd)
	c.tryReadFn = c.tryRead
	c.peekFn = c.peek
	s.mu.Lock()
	if s.inShutdown.Load() {
		s.mu.Unlock()
		nc.Close()
		return nil
	}
	if s.conns == nil {
		s.conns = map[*conn]struct{}{}
		s.sweepStop = make(chan struct{})
		go s.sweepLoop(s.sweepStop)
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	c.base = base
	return c
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) logger() *slog.Logger {
	if s.ErrorLog != nil {
		return s.ErrorLog
	}
	return slog.Default()
}

func (s *Server) closeListeners() error {
	var errs []error
	for l := range s.listeners {
		if err := (*l).Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Shutdown stops accepting, closes idle connections, and waits for the
// others to finish the request they are serving (their answers carry
// Connection: close). If ctx ends first it returns ctx's error and leaves
// the remaining connections open; Close ends them.
func (s *Server) Shutdown(ctx context.Context) error {
	s.inShutdown.Store(true)
	s.mu.Lock()
	err := s.closeListeners()
	s.mu.Unlock()
	s.serving.Wait()

	wait := time.Millisecond
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		if s.closeIdle() {
			s.mu.Lock()
			if s.sweepStop != nil {
				close(s.sweepStop)
				s.sweepStop = nil
			}
			s.mu.Unlock()
			s.closeFairness()
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			wait = min(2*wait, 100*time.Millisecond)
			t.Reset(wait)
		}
	}
}

// closeIdle closes every idle connection and reports whether none are
// left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) || c.state.CompareAndSwap(stateShrink, stateClosed) {
			c.nc.Close()
			delete(s.conns, c)
		}
	}
	return len(s.conns) == 0
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.inShutdown.Store(true)
	s.mu.Lock()
	err := s.closeListeners()
	if s.sweepStop != nil {
		close(s.sweepStop)
		s.sweepStop = nil
	}
	for c := range s.conns {
		if c.state.Swap(stateClosed) == stateActive {
			// The handler may still run: its request ends here.
			if x := c.cur.Load(); x != nil {
				x.cancel(context.Canceled)
			}
		}
		c.nc.Close()
		delete(s.conns, c)
	}
	s.mu.Unlock()
	s.serving.Wait()
	s.closeFairness()
	return err
}

// ConnStates counts the connections the server holds now: active ones
// serve a request (or read its head), idle ones wait for the next
// request of a keep-alive connection. It walks the connections, so it
// costs the request path nothing; call it when asked, not per request.
func (s *Server) ConnStates() (active, idle int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		switch c.state.Load() {
		case stateActive:
			active++
		case stateIdle, stateShrink:
			idle++
		}
	}
	return active, idle
}
