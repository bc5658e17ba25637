package fastcgi

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"httpd/modules/fastcgi/fcgi"
)

// errPoolClosed is the error of get after close.
var errPoolClosed = errors.New("the mount is shutting down")

// conn is one connection to the responder, carrying one request at a
// time (request id 1).
type conn struct {
	nc     net.Conn
	rd     *fcgi.Reader
	reused bool // it served a request before
}

// pool keeps idle connections to one responder for reuse.
//
// PHP-FPM ties one of its workers to each connection that asked to be
// kept, for as long as it stays open: a pooled connection holds a worker
// even while idle. When every worker is held, a new connection waits in
// the responder's backlog until one is closed. So while any request
// waits for the first answer on a connection it just opened, the pool
// closes connections given back instead of keeping them: the worker
// freed takes the waiting connection.
type pool struct {
	network, address string
	maxIdle          int

	mu     sync.Mutex // guards idle, closed and fresh
	idle   []*conn    // most recently used last
	closed bool
	fresh  int // requests on new connections with no answer yet
}

func newPool(network, address string, maxIdle int) *pool {
	return &pool{network: network, address: address, maxIdle: maxIdle}
}

// get returns an idle connection that is still open, or a new one. A new
// one counts as fresh until answered (see answered).
func (p *pool) get(ctx context.Context) (*conn, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errPoolClosed
		}
		var c *conn
		if n := len(p.idle); n > 0 {
			c = p.idle[n-1]
			p.idle[n-1] = nil
			p.idle = p.idle[:n-1]
		}
		p.mu.Unlock()
		if c == nil {
			break
		}
		if alive(c.nc) {
			c.reused = true
			return c, nil
		}
		c.nc.Close()
	}
	d := net.Dialer{Timeout: DialTimeout}
	nc, err := d.DialContext(ctx, p.network, p.address)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.fresh++
	p.mu.Unlock()
	return &conn{nc: nc, rd: fcgi.NewReader(nc, 16<<10)}, nil
}

// answered records that a new connection got its first answer, or gave
// up waiting for it. It is called once for each new connection.
func (p *pool) answered() {
	p.mu.Lock()
	p.fresh--
	p.mu.Unlock()
}

// put gives c back. It is kept when reusable and there is room, else
// closed.
func (p *pool) put(c *conn, reusable bool) {
	if reusable {
		p.mu.Lock()
		if !p.closed && p.fresh == 0 && len(p.idle) < p.maxIdle {
			p.idle = append(p.idle, c)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
	c.nc.Close()
}

// idleCount is the number of idle connections.
func (p *pool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// close closes the idle connections; connections given back later are
// closed too, and get fails.
func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		c.nc.Close()
	}
}

// alive reports whether an idle connection is still open: the responder
// has neither closed it (a worker that exited) nor sent anything on it,
// which it must not do between requests. It peeks without blocking.
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
