package vhost

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http2"

	"httpd/certs"
	"httpd/vhost/h1"
	"httpd/vhost/h2"
)

// native serves a listener with httpd's own engines: vhost/h1 for
// HTTP/1.x and vhost/h2 for HTTP/2, on plain and TLS listeners alike.
//
// On a plain listener h1 accepts; a connection that opens with the
// HTTP/2 preface goes to h2 when the listener serves h2c. On a TLS
// listener, native accepts, and each connection does its handshake on a
// goroutine of its own (bounded by read_header_timeout), so a slow
// client never holds up the accept loop; ALPN then picks h2 or h1.
type native struct {
	l   *listener
	h1  *h1.Server
	h2  *h2.Server    // nil on a plain listener without h2c
	xh2 *http2.Server // http2_engine = "net/http" on a TLS listener
	cfg *tls.Config   // nil on a plain listener
	hs  *http.Server  // xh2's base config

	mu          sync.Mutex // guards the fields below
	closed      bool
	handshaking map[net.Conn]struct{}
	serving     sync.WaitGroup // the accept loop and handshakes running
}

// Serve accepts on ln until Shutdown or Close.
func (n *native) Serve(ln net.Listener) error {
	if n.cfg == nil {
		return n.h1.Serve(ln)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return http.ErrServerClosed
	}
	n.serving.Add(1)
	n.mu.Unlock()
	defer n.serving.Done()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			n.mu.Lock()
			closed := n.closed
			n.mu.Unlock()
			if closed {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				n.l.s.log.Warn("accept failed; retrying", "addr", n.l.addr, "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if !n.track(c, true) {
			c.Close()
			continue
		}
		go n.handshake(c)
	}
}

// track adds or removes a connection in handshake; adding fails once
// the listener is closing.
func (n *native) track(c net.Conn, add bool) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !add {
		delete(n.handshaking, c)
		n.serving.Done()
		return true
	}
	if n.closed {
		return false
	}
	if n.handshaking == nil {
		n.handshaking = map[net.Conn]struct{}{}
	}
	n.handshaking[c] = struct{}{}
	n.serving.Add(1)
	return true
}

// defaultHandshakeTimeout bounds a handshake when read_header_timeout
// is 0 (no limit on heads): a connection in its handshake has no engine
// yet to bound it, so it always gets a limit.
const defaultHandshakeTimeout = 10 * time.Second

// handshake does the TLS handshake of c and hands the connection to the
// engine ALPN chose.
func (n *native) handshake(c net.Conn) {
	tc := tls.Server(c, n.cfg)
	d := n.l.limits.ReadHeaderTimeout
	if d <= 0 {
		d = defaultHandshakeTimeout
	}
	_ = c.SetDeadline(time.Now().Add(d))
	err := tc.Handshake()
	n.track(c, false)
	if err != nil {
		// Scanners, wrong names, clients that give up: nothing to
		// answer, and too common to log above debug.
		n.l.s.log.Debug("TLS handshake failed", "addr", n.l.addr, "remote", c.RemoteAddr().String(), "err", err)
		c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	switch tc.ConnectionState().NegotiatedProtocol {
	case "h2":
		if n.xh2 != nil {
			n.xh2.ServeConn(tc, &http2.ServeConnOpts{Handler: n.l, BaseConfig: n.hs})
			return
		}
		n.h2.ServeConnContext(connContext(tc), tc)
	case certs.ALPNProto:
		// A TLS-ALPN-01 challenge: the handshake was all of it.
		tc.Close()
	default:
		n.h1.ServeConn(tc)
	}
}

// connContext is the context of a connection handed to vhost/h2: it
// carries the local address, as vhost/h1's and net/http's do, which the
// gateways give scripts as SERVER_PORT.
func connContext(c net.Conn) context.Context {
	return context.WithValue(context.Background(), http.LocalAddrContextKey, c.LocalAddr())
}

// stopAccepting closes the listener and the connections still in their
// handshake; Serve returns.
func (n *native) stopAccepting() {
	n.mu.Lock()
	n.closed = true
	for c := range n.handshaking {
		c.Close()
	}
	n.mu.Unlock()
	if n.cfg != nil {
		n.l.ln.Close()
	}
	n.serving.Wait()
}

// Shutdown stops accepting and lets both engines finish what they serve
// (see h1.Server.Shutdown and h2.Server.Shutdown).
func (n *native) Shutdown(ctx context.Context) error {
	n.stopAccepting()
	var errs [3]error
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = n.h1.Shutdown(ctx) })
	if n.h2 != nil {
		wg.Go(func() { errs[1] = n.h2.Shutdown(ctx) })
	}
	if n.hs != nil {
		wg.Go(func() { errs[2] = n.hs.Shutdown(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return err
		}
	}
	return errors.Join(errs[:]...)
}

// Close closes the listener and every connection at once.
func (n *native) Close() error {
	n.stopAccepting()
	var errs [3]error
	errs[0] = n.h1.Close()
	if n.h2 != nil {
		errs[1] = n.h2.Close()
	}
	if n.hs != nil {
		errs[2] = n.hs.Close()
	}
	return errors.Join(errs[:]...)
}
