package fastcgi

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"httpd/internal/upstream"
	"httpd/modules/fastcgi/fcgi"
	"httpd/registry"
)

// errPoolClosed is the error of get after close.
var errPoolClosed = errors.New("the mount is shutting down")

// How long a request waits for a connection to come back before it
// opens one, and how long a new connection may wait for its first
// answer before a kept one is closed to make room for it: four times
// the usual time of a request, within these bounds.
const (
	minPatience = 2 * time.Millisecond
	maxPatience = 50 * time.Millisecond
)

// probeEvery is how long after a new connection found every worker
// taken the next is opened to find out whether the responder has grown
// (PHP-FPM's dynamic and ondemand pools start workers as connections
// come). After one that found a worker free, the next goes at once.
const probeEvery = time.Second

// conn is one connection to the responder, carrying one request at a
// time (request id 1).
type conn struct {
	nc     net.Conn
	rd     *fcgi.Reader
	reused bool // it served a request before

	since time.Time // when its current request took it (set before it is shared)
	// The responder's, under its mutex (fresh is written only by the
	// request that holds c, which may read it without).
	fresh   bool      // opened for this request, no answer yet
	freedAt time.Time // when a kept connection was closed to make room for it
}

// pool is one mount's handle on the connections to its responder, with
// the mount's counters; the connections themselves are the responder's.
type pool struct {
	network, address string
	maxIdle          int
	resp             *responder // shared with the other pools to the address
	closed           atomic.Bool

	// For Report: connections out (taken by get, not yet put back),
	// connections handed out, dials that failed and the last failure.
	busy     atomic.Int64
	requests atomic.Uint64
	failures atomic.Uint64
	mu       sync.Mutex // guards lastErr and down
	lastErr  string
	down     bool // the last dial failed
}

// responder keeps the connections to one address for every mount of the
// server that uses it, in any vhost or generation.
//
// PHP-FPM ties one of its workers to each connection that asked to be
// kept, for as long as it stays open, and has no way to say how many
// workers it has (FCGI_GET_VALUES answers FCGI_MPXS_CONNS only). A
// connection opened while every worker is held waits in its backlog, so
// opening one per request under load costs a connect, an accept and a
// close on both sides for nothing. So the responder learns how many
// connections the address has answered at once (proven) and, once it
// holds that many and connections are coming back, has a request wait for
// the next one given back instead of opening another. It opens one
// anyway when it holds fewer, when none was answered or came back for a
// while (every worker busy with long requests: the address may have
// more), and, one at a time, to look for more workers: at once after a
// new connection found one, probeEvery after one found none.
//
// A new connection may instead sit in the backlog behind the kept ones.
// So while any waits for its first answer no connection is kept idle, and
// once one has waited longer than a request usually takes, the next
// connection given back is closed, once for each such new connection,
// so that the worker it held takes the new one. Whether it was in the
// backlog or running a slow script shows when its answer comes: soon
// after, or not.
type responder struct {
	mu       sync.Mutex
	pools    map[*pool]struct{}
	maxIdle  int      // the largest max_idle_conns of the pools
	idle     []*conn  // most recently used last
	waiting  []waiter // requests waiting for a connection, oldest first
	fresh    []*conn  // open connections with no answer yet, oldest first
	open     int      // connections open, dials under way included
	dialing  int      // dials under way
	proven   int      // the most connections answered at once
	usual    time.Duration
	lastSeen time.Time   // when a connection last got its first answer or came back fit for reuse
	probeAt  time.Time   // no new connection to find more workers before
	ticker   *time.Timer // runs tick while requests wait
	ticking  bool
}

// waiter is a request waiting for a connection, a channel of capacity
// one: it gets one given back, or nil when it may open one.
type waiter chan *conn

// newPool opens a pool to network and address. The responder is kept in
// shared under "fastcgi network address".
func newPool(shared *registry.Shared, network, address string, maxIdle int) *pool {
	p := &pool{network: network, address: address, maxIdle: maxIdle}
	key := network + " " + address
	r := shared.Get("fastcgi "+key, func() any {
		return &responder{pools: map[*pool]struct{}{}}
	}).(*responder)
	r.mu.Lock()
	r.pools[p] = struct{}{}
	r.maxIdle = max(r.maxIdle, maxIdle)
	r.mu.Unlock()
	p.resp = r
	return p
}

// get returns a connection for one request: an idle one still open, one
// given back by another request, or a new one (see responder). A new one
// is fresh until answered. checked asks for a connection handed over
// from another request to be checked too (a request with a body, which
// cannot be sent again).
func (p *pool) get(ctx context.Context, checked bool) (*conn, error) {
	r := p.resp
	for {
		if p.closed.Load() {
			return nil, errPoolClosed
		}
		r.mu.Lock()
		if n := len(r.idle); n > 0 {
			c := r.idle[n-1]
			r.idle[n-1] = nil
			r.idle = r.idle[:n-1]
			r.mu.Unlock()
			if alive(c.nc) {
				return p.took(c), nil
			}
			r.discard(c)
			continue
		}
		now := time.Now()
		if r.mayOpen(now) {
			return p.dial(ctx, now)
		}
		w := make(waiter, 1)
		r.waiting = append(r.waiting, w)
		r.startTicking()
		r.mu.Unlock()
		c, err := p.wait(ctx, w)
		switch {
		case err != nil:
			return nil, err
		case c == nil:
			r.mu.Lock()
			return p.dial(ctx, time.Now())
		case checked && !alive(c.nc):
			r.discard(c)
			continue
		}
		return p.took(c), nil
	}
}

// took counts c as handed out again.
func (p *pool) took(c *conn) *conn {
	c.reused = true
	c.since = time.Now() // its own now: nobody else touches it
	p.busy.Add(1)
	p.requests.Add(1)
	return c
}

// mayOpen reports whether a request finding no idle connection opens one
// rather than waiting. Called with r.mu held.
func (r *responder) mayOpen(now time.Time) bool {
	switch {
	case r.open < r.proven || r.open == 0:
		return true
	case now.Sub(r.lastSeen) > r.patience():
		return true // none answered or came back for a while: the address may have more workers
	}
	// One at a time, to find out whether it has more workers.
	return r.dialing == 0 && len(r.fresh) == 0 && !now.Before(r.probeAt)
}

// patience is four times the usual time of a request, within bounds.
// Called with r.mu held.
func (r *responder) patience() time.Duration {
	return min(max(4*r.usual, minPatience), maxPatience)
}

// wait waits for w to get a connection, or nil: open one. The client
// going away ends the wait once it has lasted upstream.WatchDelay
// (asking for the context's Done costs something).
func (p *pool) wait(ctx context.Context, w waiter) (*conn, error) {
	t := time.NewTimer(upstream.WatchDelay)
	defer t.Stop()
	select {
	case c := <-w:
		return c, nil
	case <-t.C:
	}
	select {
	case c := <-w:
		return c, nil
	case <-ctx.Done():
	}
	r := p.resp
	if r.forget(w) {
		return nil, ctx.Err()
	}
	// Handed something meanwhile: pass it on.
	if c := <-w; c != nil {
		c.since = time.Now()
		p.busy.Add(1) // put counts it back
		p.put(c, true)
	} else {
		r.letOpen()
	}
	return nil, ctx.Err()
}

// startTicking runs tick every patience from now on while requests
// wait. Called with r.mu held.
func (r *responder) startTicking() {
	if r.ticking {
		return
	}
	r.ticking = true
	if r.ticker == nil {
		r.ticker = time.AfterFunc(r.patience(), r.tick)
	} else {
		r.ticker.Reset(r.patience())
	}
}

// tick lets waiting requests open connections when mayOpen says so:
// every one of them when no connection was answered or came back for
// patience (every worker held by long requests), else the oldest, to
// look for more workers.
func (r *responder) tick() {
	r.mu.Lock()
	var let []waiter
	now := time.Now()
	if len(r.waiting) > 0 && r.mayOpen(now) {
		if now.Sub(r.lastSeen) > r.patience() {
			let, r.waiting = r.waiting, nil
		} else {
			let = append(let, r.next())
		}
	}
	if len(r.waiting) > 0 {
		r.ticker.Reset(r.patience())
	} else {
		r.ticking = false
	}
	r.mu.Unlock()
	for _, w := range let {
		w <- nil
	}
}

// forget takes w off the queue, reporting false when it was handed
// something meanwhile.
func (r *responder) forget(w waiter) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.waiting)
	r.waiting = slices.DeleteFunc(r.waiting, func(x waiter) bool { return x == w })
	return len(r.waiting) < n
}

// dial opens a new connection. Called with r.mu held; returns with it
// released.
func (p *pool) dial(ctx context.Context, now time.Time) (*conn, error) {
	r := p.resp
	r.open++
	r.dialing++
	r.mu.Unlock()
	d := net.Dialer{Timeout: DialTimeout}
	nc, err := d.DialContext(ctx, p.network, p.address)
	r.mu.Lock()
	r.dialing--
	if err != nil {
		r.open--
		r.mu.Unlock()
		r.letOpen() // its turn to try
		if ctx.Err() == nil {
			p.failures.Add(1)
			p.mu.Lock()
			p.lastErr, p.down = err.Error(), true
			p.mu.Unlock()
		}
		return nil, err
	}
	c := &conn{nc: nc, rd: fcgi.NewReader(nc, 16<<10), since: now, fresh: true}
	r.fresh = append(r.fresh, c)
	r.mu.Unlock()
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
	p.busy.Add(1)
	p.requests.Add(1)
	return c, nil
}

// answered records that c got its first answer. When it came soon after
// a kept connection was closed to make room for c, c had waited in the
// backlog: the responder has as many workers as it holds now, and the
// next look for more waits probeEvery. Otherwise, when it holds more than
// it ever did, the responder may have more workers still: the oldest
// waiting request opens another at once.
func (p *pool) answered(c *conn) {
	if !c.fresh {
		return // only c's own request writes it: no lock needed to read
	}
	r := p.resp
	r.mu.Lock()
	r.unfresh(c)
	now := time.Now()
	r.lastSeen = now // it will come back soon
	var w waiter
	switch n := r.held(); {
	case !c.freedAt.IsZero() && now.Sub(c.freedAt) <= r.patience():
		r.proven = n
		r.probeAt = now.Add(probeEvery)
	case n > r.proven:
		r.proven = n
		r.probeAt = time.Time{}
		w = r.next()
	}
	r.mu.Unlock()
	if w != nil {
		w <- nil
	}
}

// letOpen passes the leave to open a connection on to the oldest
// waiting request.
func (r *responder) letOpen() {
	r.mu.Lock()
	w := r.next()
	r.mu.Unlock()
	if w != nil {
		w <- nil
	}
}

// held is the number of the responder's workers the connections hold:
// those answered, and the new ones a kept connection was closed for.
// Called with r.mu held.
func (r *responder) held() int {
	n := r.open - r.dialing - len(r.fresh)
	for _, c := range r.fresh {
		if !c.freedAt.IsZero() {
			n++
		}
	}
	return n
}

// unfresh takes c off the fresh list, reporting whether it was on it.
// Called with r.mu held.
func (r *responder) unfresh(c *conn) bool {
	if !c.fresh {
		return false
	}
	c.fresh = false
	r.fresh = slices.DeleteFunc(r.fresh, func(x *conn) bool { return x == c })
	return true
}

// put gives c back after a request. When reusable it goes, in this
// order: closed to make room for a new connection stuck behind it (see
// responder), to the oldest waiting request, or to the idle list (when
// there is room and no new connection waits for an answer). Anything else
// closes it, and a waiting request may then open one.
func (p *pool) put(c *conn, reusable bool) {
	p.busy.Add(-1)
	r := p.resp
	r.mu.Lock()
	r.unfresh(c)
	now := time.Now()
	if reusable {
		r.usual += (now.Sub(c.since) - r.usual) / 8
		r.lastSeen = now
		if s := r.stuck(now); s != nil {
			s.freedAt = now
			r.open--
			r.mu.Unlock()
			c.nc.Close()
			return
		}
		if w := r.next(); w != nil {
			r.mu.Unlock()
			w <- c
			return
		}
		if len(r.fresh) == 0 && r.dialing == 0 && len(r.idle) < r.maxIdle && len(r.pools) > 0 {
			r.idle = append(r.idle, c)
			r.mu.Unlock()
			return
		}
	}
	r.open--
	r.mu.Unlock()
	c.nc.Close()
	r.letOpen()
}

// stuck is the oldest new connection that has waited for its first
// answer longer than a request usually takes, with no connection closed
// for it yet. Called with r.mu held.
func (r *responder) stuck(now time.Time) *conn {
	for _, c := range r.fresh {
		if c.freedAt.IsZero() && now.Sub(c.since) > r.patience() {
			return c
		}
	}
	return nil
}

// next takes the oldest waiting request off the queue. Called with r.mu
// held.
func (r *responder) next() waiter {
	if len(r.waiting) == 0 {
		return nil
	}
	w := r.waiting[0]
	r.waiting[0] = nil
	r.waiting = r.waiting[1:]
	return w
}

// discard closes a connection found closed by the responder.
func (r *responder) discard(c *conn) {
	r.mu.Lock()
	r.open--
	r.mu.Unlock()
	c.nc.Close()
}

// idleCount is the number of idle connections to the responder.
func (p *pool) idleCount() int {
	r := p.resp
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.idle)
}

// close ends the pool: get fails from now on. The idle connections are
// closed with the last pool to the address.
func (p *pool) close() {
	p.closed.Store(true)
	r := p.resp
	r.mu.Lock()
	delete(r.pools, p)
	r.maxIdle = 0
	for q := range r.pools {
		r.maxIdle = max(r.maxIdle, q.maxIdle)
	}
	var idle []*conn
	if len(r.pools) == 0 {
		idle = r.idle
		r.idle = nil
		r.open -= len(idle)
	}
	r.mu.Unlock()
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
