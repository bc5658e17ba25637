package h2

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server serves HTTP/2 on connections handed to it, one ServeConn call
// per connection. The zero value serves with the defaults below.
type Server struct {
	Handler http.Handler
	// MaxConcurrentStreams is the SETTINGS_MAX_CONCURRENT_STREAMS the
	// server advertises; 0 means 250. Streams over it are refused.
	MaxConcurrentStreams uint32
	// MaxHeaderBytes bounds a request's decoded header list; 0 means
	// 1 MiB. A request over it gets 431.
	MaxHeaderBytes int
	// PrefaceTimeout bounds the wait for the client preface, the time a
	// connection may say nothing before its first frame; 0 means 10s.
	PrefaceTimeout time.Duration
	// IdleTimeout closes, with GOAWAY, a connection that has had no open
	// stream for this long; 0 means never.
	IdleTimeout time.Duration
	// ReadTimeout bounds the reading of each request's body; 0 means none.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write to the socket; 0 means none.
	WriteTimeout time.Duration
	// ErrorLog receives connection errors and handler panics; nil means
	// slog.Default().
	ErrorLog *slog.Logger

	mu       sync.Mutex
	conns    map[*conn]struct{}
	shutdown bool
}

const (
	defaultMaxStreams     = 250
	defaultMaxHeaderBytes = 1 << 20
	// defaultPrefaceTimeout bounds the wait for the client preface when
	// PrefaceTimeout is 0, as x/net/http2 does.
	defaultPrefaceTimeout = 10 * time.Second
)

// ServeConn serves HTTP/2 on c, whose TLS handshake (if any) is already
// done, and returns when the connection is closed. It reads the client
// preface first, so prior-knowledge clients on plain TCP work as well.
func (s *Server) ServeConn(c net.Conn) {
	s.ServeConnContext(context.Background(), c)
}

// ServeConnContext is ServeConn with ctx as the parent of every
// request's context.
func (s *Server) ServeConnContext(ctx context.Context, nc net.Conn) {
	c := newConn(s, ctx, nc)
	if !s.track(c, true) {
		nc.Close()
		return
	}
	defer s.track(c, false)
	c.serve()
}

// ServeUpgrade serves HTTP/2 on c after an HTTP/1.1 request asked to
// upgrade to h2c (RFC 7540 §3.2) and was answered 101 Switching
// Protocols. req, which must have no body, becomes stream 1, half-closed
// on the client's side; settings is its HTTP2-Settings header, decoded
// (base64url) as the payload of a SETTINGS frame, which the 101 has
// acknowledged. A malformed settings payload closes the connection.
func (s *Server) ServeUpgrade(ctx context.Context, nc net.Conn, req *http.Request, settings []byte) {
	c := newConn(s, ctx, nc)
	c.upgrade, c.upgradeSettings = req, settings
	if !s.track(c, true) {
		nc.Close()
		return
	}
	defer s.track(c, false)
	c.serve()
}

// track adds or removes c; adding fails once the server is shutting down.
func (s *Server) track(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !add {
		delete(s.conns, c)
		return true
	}
	if s.shutdown {
		return false
	}
	if s.conns == nil {
		s.conns = map[*conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	return true
}

// GoAway starts a graceful shutdown of every connection without waiting:
// each gets GOAWAY, finishes the streams it has and then closes. New
// connections are refused.
func (s *Server) GoAway() {
	s.mu.Lock()
	s.shutdown = true
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.goAwayGracefully()
	}
}

// Shutdown sends GOAWAY on every connection, lets open streams finish,
// and returns when every connection is closed, or with ctx's error when
// ctx ends first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.GoAway()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Close closes every connection at once.
func (s *Server) Close() error {
	s.mu.Lock()
	s.shutdown = true
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	return nil
}

func (s *Server) log() *slog.Logger {
	if s.ErrorLog != nil {
		return s.ErrorLog
	}
	return slog.Default()
}

func (s *Server) maxStreams() uint32 {
	if s.MaxConcurrentStreams > 0 {
		return s.MaxConcurrentStreams
	}
	return defaultMaxStreams
}

func (s *Server) maxHeaderBytes() uint32 {
	if s.MaxHeaderBytes > 0 {
		return uint32(s.MaxHeaderBytes)
	}
	return defaultMaxHeaderBytes
}

// NumConns is the number of HTTP/2 connections the server holds now.
func (s *Server) NumConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
