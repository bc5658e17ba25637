package stats

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"httpd/registry"
)

// RingSeconds is how many seconds of per-second counts the ring keeps.
const RingSeconds = 60

// Server is the live state of one server process. Its zero value is not
// usable: make it with New.
type Server struct {
	// Started is when the server process started.
	Started time.Time

	total   atomic.Uint64 // every request counted
	errors5 atomic.Uint64 // the 5xx answers among them

	mu       sync.Mutex // guards counters, keys, ring, last and conns
	counters map[Key]*Counters
	keys     []Key // in the order first asked for
	ring     [RingSeconds]Second
	next     int    // index in ring of the next sample
	filled   int    // samples in ring, up to RingSeconds
	last     Second // cumulative totals at the last sample
	conns    func() Conns

	gen atomic.Pointer[Generation]
}

// Key names one set of Counters: a vhost and a mount prefix, "" for
// what no mount serves (the vhost's document_root or its 404).
type Key struct {
	VHost string
	Mount string
}

// Second is the number of requests and of 5xx answers of one second.
type Second struct {
	Time     time.Time `json:"time"`
	Requests uint64    `json:"requests"`
	Errors   uint64    `json:"errors_5xx"`
}

// Conns counts open client connections by state.
type Conns struct {
	// Active connections are serving a request (an HTTP/2 connection
	// counts as active while it is open).
	Active int `json:"active"`
	// Idle connections wait for the next request on a keep-alive
	// connection.
	Idle int `json:"idle"`
	// Handshake connections are in their TLS handshake.
	Handshake int `json:"tls_handshake"`
}

// Generation is one loaded config as the server runs it.
type Generation struct {
	Number uint64    `json:"number"` // 1 for the config the server started with
	Loaded time.Time `json:"loaded"`
	File   string    `json:"file"`
	VHosts []VHost   `json:"vhosts"`
}

// VHost is one virtual host of a generation.
type VHost struct {
	Name      string     `json:"name"`
	Aliases   []string   `json:"aliases,omitempty"`
	Listeners []Listener `json:"listeners"`
	TLS       string     `json:"tls"` // off, auto, internal or files
	Mounts    []Mount    `json:"mounts"`
	// Cert returns the certificate the vhost presents for its name;
	// nil without TLS.
	Cert func() (*Cert, error) `json:"-"`
}

// Listener is an address a vhost answers on.
type Listener struct {
	Addr string `json:"addr"`
	TLS  bool   `json:"tls"`
}

// Mount is one URL prefix of a vhost bound to a module.
type Mount struct {
	Kind   string `json:"kind"`   // the block type, e.g. "script_alias"
	Prefix string `json:"prefix"` // the block's label
	// Reporter gives the mount's live state; nil for mounts that have
	// none (alias, status).
	Reporter registry.Reporter `json:"-"`
}

// Cert is what the status page says of a certificate.
type Cert struct {
	Subject  string    `json:"subject"`
	Names    []string  `json:"names"`
	Issuer   string    `json:"issuer"`
	NotAfter time.Time `json:"not_after"`
}

// New returns the state of a server started at started.
func New(started time.Time) *Server {
	return &Server{Started: started, counters: map[Key]*Counters{}}
}

// Counters returns the counters of k, making them on first use. The same
// key gives the same counters for the server's life, so counts survive
// reloads.
func (s *Server) Counters(k Key) *Counters {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counters[k]
	if c == nil {
		c = &Counters{total: &s.total, errors5: &s.errors5}
		s.counters[k] = c
		s.keys = append(s.keys, k)
	}
	return c
}

// Each calls f for every set of counters, in the order they were made.
func (s *Server) Each(f func(Key, *Counters)) {
	s.mu.Lock()
	keys := append([]Key(nil), s.keys...)
	cs := make([]*Counters, len(keys))
	for i, k := range keys {
		cs[i] = s.counters[k]
	}
	s.mu.Unlock()
	for i, k := range keys {
		f(k, cs[i])
	}
}

// Totals returns the number of requests counted and of 5xx answers.
func (s *Server) Totals() (requests, errors5xx uint64) {
	return s.total.Load(), s.errors5.Load()
}

// Sample records the requests since the last sample as the second
// ending at now. The server calls it once a second.
func (s *Server) Sample(now time.Time) {
	t, e := s.Totals()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ring[s.next] = Second{Time: now, Requests: t - s.last.Requests, Errors: e - s.last.Errors}
	s.last = Second{Time: now, Requests: t, Errors: e}
	s.next = (s.next + 1) % RingSeconds
	s.filled = min(s.filled+1, RingSeconds)
}

// Run samples the ring once a second until ctx ends.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.Sample(now)
		}
	}
}

// Ring returns the samples of the last minute, oldest first.
func (s *Server) Ring() []Second {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Second, 0, s.filled)
	for i := s.filled; i > 0; i-- {
		out = append(out, s.ring[(s.next-i+RingSeconds)%RingSeconds])
	}
	return out
}

// SetConns sets the function that counts open connections.
func (s *Server) SetConns(f func() Conns) {
	s.mu.Lock()
	s.conns = f
	s.mu.Unlock()
}

// Conns counts the open connections now.
func (s *Server) Conns() Conns {
	s.mu.Lock()
	f := s.conns
	s.mu.Unlock()
	if f == nil {
		return Conns{}
	}
	return f()
}

// Publish makes g the running generation, numbering it after the one
// before.
func (s *Server) Publish(g *Generation) {
	if old := s.gen.Load(); old != nil {
		g.Number = old.Number + 1
	} else {
		g.Number = 1
	}
	s.gen.Store(g)
}

// Generation returns the running generation; nil before the first.
func (s *Server) Generation() *Generation { return s.gen.Load() }

// sharedKey is the key of the Server in registry.Shared.
const sharedKey = "stats.Server"

// Attach stores s in shared, where From finds it. The server calls it
// before it provisions any module.
func (s *Server) Attach(shared *registry.Shared) {
	shared.Get(sharedKey, func() any { return s })
}

// From returns the Server attached to shared. A module provisioned
// without a server (a nil Shared, in a test) gets an empty Server of its
// own.
func From(shared *registry.Shared) *Server {
	v := shared.Get(sharedKey, func() any { return New(time.Now()) })
	s, _ := v.(*Server)
	if s == nil {
		return New(time.Now())
	}
	return s
}
