package vhost

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// watchListener wraps each accepted connection in a watchConn, so that
// requests net/http rejects before any handler runs (bad request lines,
// oversized headers, slow clients) still leave an error-log line.
type watchListener struct {
	net.Listener
	log *slog.Logger
}

func (l *watchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &watchConn{Conn: c, log: l.log, framer: new(framer)}, nil
}

// errSlowHeader is what the error log says of a 408, on either engine.
const errSlowHeader = "request header not complete within server.limits.read_header_timeout"

// watchConn watches one client connection.
type watchConn struct {
	net.Conn
	log *slog.Logger
	// pending is set by Read when bytes arrive and cleared when a handler
	// starts for them: a timeout while it is set is a request header that
	// did not arrive in time, not an idle connection.
	pending atomic.Bool
	// framer follows the request framing on plain connections; nil over
	// TLS, where Read sees ciphertext.
	framer *framer
	// tls is set under a TLS connection. Nothing is then ever written
	// here (it would land outside the TLS stream), and until the first
	// request starts (started) each new read deadline clears pending, so
	// that the handshake's bytes are not taken for a request header.
	tls     bool
	started atomic.Bool
}

// errorHeaders is what net/http writes after the status line of the
// answers it gives without calling a handler.
var errorHeaders = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")

func (c *watchConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.pending.Store(true)
		if c.framer != nil {
			c.framer.feed(p[:n])
		}
	}
	if err != nil && c.headerPending() && isTimeout(err) {
		c.pending.Store(false)
		c.log.Info("bad request", "remote", c.RemoteAddr().String(), "status", http.StatusRequestTimeout,
			"err", errSlowHeader)
		if !c.tls {
			// net/http closes silently on a timeout; SPEC §9 wants a 408.
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = io.WriteString(c.Conn, "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 19\r\n\r\n408 Request Timeout")
		}
	}
	return n, err
}

// SetReadDeadline is called by net/http (through the TLS connection)
// after the handshake, before it waits for the first request.
func (c *watchConn) SetReadDeadline(t time.Time) error {
	if c.tls && !c.started.Load() {
		c.pending.Store(false)
	}
	return c.Conn.SetReadDeadline(t)
}

// headerPending reports whether a request header has begun and not
// ended. On plain connections the framer knows exactly (body bytes of a
// finished request are not a header); over TLS pending approximates it.
func (c *watchConn) headerPending() bool {
	if c.framer != nil {
		return c.framer.inHeader()
	}
	return c.pending.Load()
}

func (c *watchConn) Write(p []byte) (int, error) {
	if len(p) > 12 && p[0] == 'H' && c.pending.Load() && bytes.HasPrefix(p, []byte("HTTP/1.")) {
		if i := bytes.Index(p, errorHeaders); i > 0 {
			status, _, _ := bytes.Cut(p[9:i], []byte(" "))
			reason := string(p[i+len(errorHeaders):])
			c.log.Info("bad request", "remote", c.RemoteAddr().String(), "status", string(status), "err", reason)
			c.pending.Store(false)
		}
	}
	return c.Conn.Write(p)
}

// ReadFrom keeps sendfile working through the wrapper.
func (c *watchConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(c.Conn, r)
}

// CloseWrite lets net/http half-close after an error answer.
func (c *watchConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

type connKey struct{}

// connContext remembers the watchConn so the handler can mark its bytes
// as seen.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
		if wc, ok := c.(*watchConn); ok {
			wc.framer = nil // set before the connection's first Read
			wc.tls = true
		}
	}
	if wc, ok := c.(*watchConn); ok {
		return context.WithValue(ctx, connKey{}, wc)
	}
	return ctx
}

// startRequest tells the request's connection that a handler now owns
// what it read, so a later read timeout is the handler's business, not a
// slow request header. It reports whether the request came with both
// Content-Length and Transfer-Encoding, which net/http accepts (keeping
// the chunked body) and SPEC §9 rejects; that is known only on plain
// connections, where the framer sees the raw bytes. Every request must
// call it once, in order, before anything can answer it.
func startRequest(r *http.Request) (conflictingLength bool) {
	wc, ok := r.Context().Value(connKey{}).(*watchConn)
	if !ok {
		return false
	}
	wc.pending.Store(false)
	if wc.tls {
		wc.started.Store(true)
	}
	return r.ProtoMajor == 1 && wc.framer != nil && wc.framer.claim(r.Method, r.RequestURI)
}
