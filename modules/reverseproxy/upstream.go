package reverseproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	client "httpd/internal/upstream"
	"httpd/registry"
)

// upstream is one server of to, with its health.
type upstream struct {
	to         string // as written
	scheme     string // "http" or "https"
	host       string // the URL host requests carry: host[:port], or a name standing for a socket
	hostHeader string // Host when preserve_host is off
	network    string // "tcp" or "unix"
	addr       string // what to dial: host:port or the socket's path
	path       string // a path to put before the request's, without a trailing slash; may be ""
	rawPath    string // path, escaped

	*health              // shared with the next generations' same upstream
	pool    *client.Pool // kept connections, shared as health is
	opts    client.Options
}

// key names an upstream in registry.Shared: the same key in the next
// generation's configuration is the same server, which keeps its health
// and its kept connections across a reload.
func (u *upstream) key() string {
	return u.scheme + " " + u.network + " " + u.addr + " " + u.path
}

// health is what is known of an upstream's health and load. It outlives
// a generation: a reload that keeps the upstream keeps its state.
type health struct {
	inflight atomic.Int64  // requests being served, for least_conn
	requests atomic.Uint64 // requests sent, for Report
	failures atomic.Uint64 // requests that failed, for Report

	mu        sync.Mutex // guards the fields below
	fails     int        // consecutive failed requests
	downUntil time.Time  // passive health: out until then
	unhealthy bool       // active health: the last check failed
	reason    string     // why it is out, for logs
	lastErr   string     // the last failure, for Report
}

// available reports whether u may take a request at now.
func (u *health) available(now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return !u.unhealthy && !now.Before(u.downUntil)
}

// failed records a failed request (no connection, no or a broken
// answer). It reports whether that took u out of rotation: after
// maxFails in a row, for failTimeout. Once back, one more failure takes
// it out again, until a request succeeds.
func (u *health) failed(err error, maxFails int, failTimeout time.Duration) bool {
	u.failures.Add(1)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.lastErr = err.Error()
	if maxFails <= 0 {
		return false
	}
	u.fails++
	if u.fails < maxFails {
		return false
	}
	u.downUntil = time.Now().Add(failTimeout)
	u.reason = err.Error()
	return true
}

// succeeded records a request answered.
func (u *health) succeeded() {
	u.mu.Lock()
	u.fails = 0
	u.mu.Unlock()
}

// setHealthy records an active check's result and reports whether it
// changed u's state.
func (u *health) setHealthy(ok bool, reason string) (changed bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	changed = u.unhealthy == ok
	u.unhealthy = !ok
	if ok {
		u.fails, u.downUntil = 0, time.Time{}
	} else {
		u.reason = reason
	}
	return changed
}

// pick chooses an upstream for a request by the module's policy among
// those available and not in tried, or returns -1. key is the client's
// address, for ip_hash.
func (m *Module) pick(key string, tried []bool) int {
	n := len(m.upstreams)
	now := time.Now()
	ok := func(i int) bool { return !tried[i] && m.upstreams[i].available(now) }
	switch m.Policy {
	case First:
		for i := range n {
			if ok(i) {
				return i
			}
		}
		return -1
	case IPHash:
		h := fnv.New32a()
		_, _ = io.WriteString(h, key)
		start := int(h.Sum32() % uint32(n))
		for k := range n {
			if i := (start + k) % n; ok(i) {
				return i
			}
		}
		return -1
	case LeastConn:
		// Ties go round-robin, so that an idle set is not always
		// entered by its first server.
		start := int(m.rr.Add(1) % uint64(n))
		best := -1
		for k := range n {
			i := (start + k) % n
			if ok(i) && (best < 0 || m.upstreams[i].inflight.Load() < m.upstreams[best].inflight.Load()) {
				best = i
			}
		}
		return best
	default: // RoundRobin
		start := int((m.rr.Add(1) - 1) % uint64(n))
		for k := range n {
			if i := (start + k) % n; ok(i) {
				return i
			}
		}
		return -1
	}
}

// provisionUpstreams gives each upstream the health state and the pool
// of kept connections that the previous generation's same upstream had
// (kept in shared), or new ones, and the client's options.
func (m *Module) provisionUpstreams(shared *registry.Shared) {
	dialer := &net.Dialer{Timeout: m.ConnectTimeout, KeepAlive: 30 * time.Second}
	for _, u := range m.upstreams {
		key := u.key()
		u.health = shared.Get("reverse_proxy health "+key, func() any { return u.health }).(*health)
		u.pool = shared.Get("reverse_proxy pool "+key, func() any {
			return client.NewPool(m.MaxIdleConns, m.IdleTimeout)
		}).(*client.Pool)
		u.pool.Acquire(m.MaxIdleConns, m.IdleTimeout)
		network, addr := u.network, u.addr
		u.opts = client.Options{
			ResponseHeaderTimeout: m.ResponseHeaderTimeout,
			Dial: func(ctx context.Context) (net.Conn, error) {
				c, err := dialer.DialContext(ctx, network, addr)
				if err != nil {
					return nil, &dialError{err: err}
				}
				return c, nil
			},
		}
	}
}

// send passes one request to u: over the module's own HTTP/1.1 client
// (package internal/upstream) when it can, else over http.Transport:
// HTTPS upstreams, protocol switches (WebSocket) and requests that
// expect "100 Continue".
func (m *Module) send(out *http.Request, u *upstream) (*http.Response, error) {
	var got1xx func(int, textproto.MIMEHeader) error
	if st := stateOf(out.Context()); st.w != nil {
		got1xx = st.got1xx
	}
	if u.scheme != "http" || u.pool == nil || out.Header.Get("Upgrade") != "" || expectsContinue(out.Header) {
		if got1xx != nil {
			out = out.WithContext(httptrace.WithClientTrace(out.Context(), &httptrace.ClientTrace{Got1xxResponse: got1xx}))
		}
		return m.transport.RoundTrip(out)
	}
	return u.pool.RoundTrip(out, &u.opts, got1xx)
}

func expectsContinue(h http.Header) bool {
	for _, v := range h["Expect"] {
		if strings.EqualFold(strings.TrimSpace(v), "100-continue") {
			return true
		}
	}
	return false
}

// newTransport makes the connection pool of the module's upstreams:
// HTTP/1.1 only (so that Upgrade passes), no environment proxy, no
// transparent decompression, the configured timeouts.
func (m *Module) newTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: m.ConnectTimeout, KeepAlive: 30 * time.Second}
	sockets := map[string]string{} // URL host:port → socket path
	for _, u := range m.upstreams {
		if u.network == "unix" {
			sockets[u.host+":80"] = u.addr
		}
	}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if p, ok := sockets[addr]; ok {
				network, addr = "unix", p
			}
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, &dialError{err: err}
			}
			return c, nil
		},
		MaxIdleConnsPerHost:   m.MaxIdleConns,
		IdleConnTimeout:       m.IdleTimeout,
		ResponseHeaderTimeout: m.ResponseHeaderTimeout,
		TLSHandshakeTimeout:   max(m.ConnectTimeout, 10*time.Second),
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		TLSNextProto:          map[string]func(string, *tls.Conn) http.RoundTripper{},
		ReadBufferSize:        16 << 10,
		WriteBufferSize:       16 << 10,
	}
}

// dialError is a failure to connect: nothing of the request was sent, so
// the next upstream may take it, whatever its method.
type dialError struct{ err error }

func (e *dialError) Error() string { return "connect: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// errNoUpstream is the error of a request no upstream could take.
var errNoUpstream = errors.New("no healthy upstream")

// roundTripper sends a request to the upstream the policy picks, and to
// the next one when that one cannot be connected to.
type roundTripper struct{ m *Module }

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	m := rt.m
	st := stateOf(req.Context())
	tried := make([]bool, len(m.upstreams))
	var lastErr error
	body := req.Body
	if body != nil && body != http.NoBody {
		// The transport closes the body of a request it fails; a
		// request that moves on to the next upstream needs it still.
		body = io.NopCloser(body)
	}
	for {
		i := m.pick(st.clientIP, tried)
		if i < 0 {
			if lastErr != nil {
				return nil, lastErr
			}
			return nil, errNoUpstream
		}
		tried[i] = true
		u := m.upstreams[i]
		st.upstream = u
		out := *req
		out.Body = body
		out.URL = m.target(req.URL, u)
		if !m.PreserveHost {
			out.Host = u.hostHeader
		}
		u.inflight.Add(1)
		u.requests.Add(1)
		resp, err := m.send(&out, u)
		if err == nil {
			u.succeeded()
			resp.Body = track(resp, st, u)
			return resp, nil
		}
		u.inflight.Add(-1)
		var be *client.BodyError
		if req.Context().Err() != nil || errors.As(err, &be) {
			return nil, err // the client went away or its body failed: no fault of the upstream
		}
		if u.failed(err, m.MaxFails, m.FailTimeout) {
			m.log.Warn("upstream out of rotation after failures", "upstream", u.to,
				"failures", m.MaxFails, "for", m.FailTimeout.String(), "err", err)
		}
		var de *dialError
		if !errors.As(err, &de) {
			return nil, err
		}
		m.log.Warn("upstream cannot be reached; trying the next", "upstream", u.to, "err", err)
		lastErr = fmt.Errorf("%w (and every other upstream failed or is out)", err)
	}
}

// target is the URL of a request for in on u.
func (m *Module) target(in *url.URL, u *upstream) *url.URL {
	t := *in
	t.Scheme, t.Host = u.scheme, u.host
	if u.path != "" {
		t.Path = u.path + in.Path
		if u.rawPath != u.path || in.RawPath != "" {
			t.RawPath = u.rawPath + in.EscapedPath()
		} else {
			t.RawPath = ""
		}
	}
	return &t
}
