package fastcgi

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"httpd/modules/fastcgi/fcgi"
	"httpd/registry"
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
// waits for the first answer on a connection it just opened, no idle
// connection to that responder is kept, by this pool or any other (the
// mounts of other vhosts, or of the generation being retired, often
// share one PHP-FPM pool): those idle are closed when the new one is
// opened, and those given back are closed, so that the workers they held
// take the waiting connection.
type pool struct {
	network, address string
	maxIdle          int
	resp             *responder // shared with the other pools to the address

	mu     sync.Mutex // guards idle, closed, lastErr and down
	idle   []*conn    // most recently used last
	closed bool

	// For Report: connections out (taken by get, not yet put back),
	// connections handed out, dials that failed and the last failure.
	busy     atomic.Int64
	requests atomic.Uint64
	failures atomic.Uint64
	lastErr  string
	down     bool // the last dial failed
}

// responder is what the pools to one address share.
type responder struct {
	fresh atomic.Int32 // requests on new connections with no answer yet

	mu    sync.Mutex // guards pools; taken before a pool's mu
	pools map[*pool]struct{}
}

// newPool opens a pool to network and address. The responder's state is
// kept in shared under "fastcgi network address", so that every mount of
// the server that connects to it, in any vhost or generation, sees the
// others' waiting connections.
func newPool(shared *registry.Shared, network, address string, maxIdle int) *pool {
	p := &pool{network: network, address: address, maxIdle: maxIdle}
	key := network + " " + address
	r := shared.Get("fastcgi "+key, func() any {
		return &responder{pools: map[*pool]struct{}{}}
	}).(*responder)
	r.mu.Lock()
	r.pools[p] = struct{}{}
	r.mu.Unlock()
	p.resp = r
	return p
}

// get returns an idle connection that is still open, or a new one. A new
// one counts as fresh until answered (see answered), and its opening
// closes every idle connection to the responder.
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
			p.busy.Add(1)
			p.requests.Add(1)
			return c, nil
		}
		c.nc.Close()
	}
	d := net.Dialer{Timeout: DialTimeout}
	nc, err := d.DialContext(ctx, p.network, p.address)
	if err != nil {
		if ctx.Err() == nil {
			p.failures.Add(1)
			p.mu.Lock()
			p.lastErr, p.down = err.Error(), true
			p.mu.Unlock()
		}
		return nil, err
	}
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
	p.busy.Add(1)
	p.requests.Add(1)
	p.resp.fresh.Add(1)
	p.resp.drainAll()
	return &conn{nc: nc, rd: fcgi.NewReader(nc, 16<<10)}, nil
}

// answered records that a new connection got its first answer, or gave
// up waiting for it. It is called once for each new connection.
func (p *pool) answered() { p.resp.fresh.Add(-1) }

// put gives c back. It is kept when reusable and there is room, and no
// request waits on a new connection to the responder; else closed.
func (p *pool) put(c *conn, reusable bool) {
	p.busy.Add(-1)
	if reusable {
		p.mu.Lock()
		kept := !p.closed && len(p.idle) < p.maxIdle
		if kept {
			p.idle = append(p.idle, c)
		}
		p.mu.Unlock()
		if kept {
			// Read after the append: either a new connection's
			// drainAll sees c, or this sees its count.
			if p.resp.fresh.Load() > 0 {
				p.drain()
			}
			return
		}
	}
	c.nc.Close()
}

// drain closes the pool's idle connections.
func (p *pool) drain() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.nc.Close()
	}
}

// drainAll closes the idle connections of every pool to the responder.
func (r *responder) drainAll() {
	r.mu.Lock()
	pools := make([]*pool, 0, len(r.pools))
	for p := range r.pools {
		pools = append(pools, p)
	}
	r.mu.Unlock()
	for _, p := range pools {
		p.drain()
	}
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
	r := p.resp
	r.mu.Lock()
	delete(r.pools, p)
	r.mu.Unlock()
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
