package vhost

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"

	"httpd/certs"
	"httpd/conf"
	"httpd/internal/forwarded"
	"httpd/internal/stats"
	"httpd/registry"
	"httpd/vhost/h1"
	"httpd/vhost/h2"
)

// Server runs generations of a config on a set of listeners.
type Server struct {
	// Software is the server's "name/version", handed to modules as
	// registry.Env.ServerSoftware. Set it before Start.
	Software string
	// TicketKeys is where the TLS session-ticket keys come from. Nil (the
	// default) keeps them in this process's memory; a fleet sets a source
	// it shares, so a client resumes on any server. Set it before Start.
	TicketKeys certs.TicketKeySource
	// CertStorage, when set, keeps ACME state (certificates, accounts,
	// OCSP staples, locks) and the local CA's root there instead of in
	// data_dir: a storage the servers of a fleet share. Set it before
	// Start.
	CertStorage certs.Storage

	log *slog.Logger

	mu        sync.Mutex // guards listeners and serializes Start, Reload and Shutdown
	listeners map[string]*listener
	stopping  bool

	gen atomic.Pointer[generation]
	// access writes the access log of every generation.
	access accessWriter
	// shared is every module's Env.Shared.
	shared registry.Shared
	// certs are the certificate sources generations share.
	certs certSources
	// tickets holds the session-ticket keys across generations.
	tickets ticketKeys
	// fair keeps yielding fair across the native engine's listeners,
	// which share the CPUs; closed by Shutdown.
	fair h1.Fairness

	// killCtx ends when a shutdown's time is up: its Done channel is
	// every module's Env.Kill, and generations retiring after a reload
	// stop waiting for their requests. kill ends it.
	killCtx  context.Context
	kill     context.CancelFunc
	retiring sync.WaitGroup // generations retiring in the background

	// stats is the live state the status and metrics modules show;
	// statsStop stops its sampling.
	stats     *stats.Server
	statsStop context.CancelFunc

	// profile is the CPU profile being written when HTTPD_CPUPROFILE
	// names a file (see bench/README.md); nil otherwise.
	profile *os.File
}

// New returns a server that logs errors to log.
func New(log *slog.Logger) *Server {
	s := &Server{log: log, listeners: map[string]*listener{}, stats: stats.New(time.Now())}
	s.killCtx, s.kill = context.WithCancel(context.Background())
	s.stats.Attach(&s.shared)
	s.stats.SetConns(s.countConns)
	return s
}

// killGrace is the least time children get to exit after a shutdown
// stops them before they are killed, when shutdown_timeout has already
// run out while requests finished.
const killGrace = 250 * time.Millisecond

// generation is one config with its provisioned sites and host tables.
type generation struct {
	cfg        *conf.Config
	sites      []*site
	tables     map[string]*hostTable // listener address → names; plain listeners of TLS vhosts map to redirect sites
	access     *accessLog
	certs      *certManager       // nil when no vhost uses tls = "auto" or "internal"
	trust      *forwarded.Trusted // server.trusted_proxies; nil trusts no one
	loaded     time.Time          // when the generation was built
	inflight   atomic.Int64
	retireOnce sync.Once // cleanup runs once, however often the generation is retired
}

// acquire pins the current generation for one request.
func (s *Server) acquire() *generation {
	for {
		g := s.gen.Load()
		g.inflight.Add(1)
		if s.gen.Load() == g {
			return g
		}
		g.release() // swapped meanwhile: pin the new one
	}
}

func (g *generation) release() { g.inflight.Add(-1) }

// build provisions every vhost of cfg. base holds what every module's
// Env shares across vhosts; src is the server's certificate sources. On
// error nothing is left running.
func build(ctx context.Context, cfg *conf.Config, log *slog.Logger, access *accessLog, base registry.Env, src *certSources) (*generation, error) {
	g := &generation{cfg: cfg, tables: map[string]*hostTable{}, access: access,
		trust: forwarded.NewTrusted(cfg.Server.TrustedProxies), loaded: time.Now()}
	if err := g.startCerts(ctx, src, log); err != nil {
		return nil, err
	}
	for _, v := range cfg.VHosts {
		st, err := newSite(ctx, v, cfg, log, access, base)
		if err != nil {
			g.cleanup()
			return nil, err
		}
		g.sites = append(g.sites, st)
		if err := st.loadCert(g.certs); err != nil {
			g.cleanup()
			return nil, err
		}
		var redirect *site
		for _, l := range v.Listeners {
			t := g.tables[l.Addr]
			if t == nil {
				t = newHostTable()
				g.tables[l.Addr] = t
			}
			target := st
			if !l.TLS && v.TLS.Mode != conf.TLSOff {
				if redirect == nil {
					redirect = &site{v: v, log: st.log, handler: httpsRedirect(tlsPort(v)), access: access}
				}
				target = redirect
			}
			t.add(target, v.Names(), v.Default)
		}
	}
	return g, nil
}

// tlsPort is the port of the vhost's first TLS listener.
func tlsPort(v *conf.VHost) string {
	for _, l := range v.Listeners {
		if l.TLS {
			_, p, _ := net.SplitHostPort(l.Addr)
			return p
		}
	}
	return "443"
}

func (g *generation) cleanup() {
	for i := len(g.sites) - 1; i >= 0; i-- {
		g.sites[i].cleanup()
	}
	g.stopCerts()
}

// retire cleans the generation up once its admitted requests are done, or
// when ctx ends. Later calls do nothing.
func (g *generation) retire(ctx context.Context, log *slog.Logger) {
	g.retireOnce.Do(func() { g.drainAndClean(ctx, log) })
}

func (g *generation) drainAndClean(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for g.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			log.Warn("cleaning up a generation with requests still running", "requests", g.inflight.Load())
			g.cleanup()
			return
		case <-t.C:
		}
	}
	g.cleanup()
	if err := g.access.Close(); err != nil {
		log.Error("closing access log", "err", err)
	}
}

// Start builds the first generation from cfg and opens its listeners. The
// access log goes to accessOut (nil for none).
func (s *Server) Start(ctx context.Context, cfg *conf.Config, accessOut io.WriteCloser) error {
	if p := os.Getenv("HTTPD_CPUPROFILE"); p != "" {
		s.startProfile(p)
	}
	return s.load(ctx, cfg, accessOut, true)
}

// startProfile writes a CPU profile to file until Shutdown.
func (s *Server) startProfile(file string) {
	f, err := os.Create(file)
	if err == nil {
		if err = pprof.StartCPUProfile(f); err != nil {
			f.Close()
		}
	}
	if err != nil {
		s.log.Error("cannot write the CPU profile HTTPD_CPUPROFILE names", "file", file, "err", err)
		return
	}
	s.profile = f
}

// writeAllocProfile writes the profile of every allocation made so far.
func writeAllocProfile(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	return errors.Join(pprof.Lookup("allocs").WriteTo(f, 0), f.Close())
}

// Reload builds a new generation from cfg and swaps it in. If anything
// fails the running generation keeps serving and the error says why.
func (s *Server) Reload(ctx context.Context, cfg *conf.Config, accessOut io.WriteCloser) error {
	return s.load(ctx, cfg, accessOut, false)
}

func (s *Server) load(ctx context.Context, cfg *conf.Config, accessOut io.WriteCloser, first bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return errors.New("server is shutting down")
	}
	if err := os.MkdirAll(cfg.Server.DataDir, 0o750); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	access := s.access.newLog(accessOut, cfg.Log.Format)
	s.certs.shared = s.CertStorage

	// Open new listeners first: a port that cannot be bound fails the
	// load before anything changes.
	want := map[string]conf.Listener{}
	h2c := map[string]bool{}
	for _, v := range cfg.VHosts {
		for _, l := range v.Listeners {
			want[l.Addr] = l
			h2c[l.Addr] = h2c[l.Addr] || v.H2C
		}
	}
	s.tickets.opening(cfg.Server.TLS, s.log)
	var opened []*listener
	for addr, l := range want {
		if _, ok := s.listeners[addr]; ok {
			continue
		}
		nl, err := s.listen(addr, l.TLS, h2c[addr], cfg.Server)
		if err != nil {
			for _, o := range opened {
				o.ln.Close()
			}
			_ = access.Close()
			return err
		}
		opened = append(opened, nl)
	}

	g, err := build(ctx, cfg, s.log, access, s.baseEnv(), &s.certs)
	if err != nil {
		for _, o := range opened {
			o.ln.Close()
		}
		_ = access.Close()
		return err
	}

	old := s.gen.Swap(g)
	var prev *conf.Config
	if old != nil {
		prev = old.cfg
	}
	s.tickets.apply(prev, cfg, s.log)
	for _, nl := range opened {
		s.listeners[nl.addr] = nl
		go nl.serve(s.log)
		s.log.Info("listening", "addr", nl.ln.Addr().String(), "requested", nl.addr, "tls", nl.tls)
	}
	s.publish(g)
	if first {
		ctx, stop := context.WithCancel(context.Background())
		s.statsStop = stop
		go s.stats.Run(ctx)
	}
	for addr, l := range s.listeners {
		if _, ok := want[addr]; !ok {
			delete(s.listeners, addr)
			go l.shutdown(context.Background(), s.log)
			s.log.Info("listener closed", "addr", addr)
			continue
		}
		if l.limits != cfg.Server.Limits {
			s.log.Warn("server.limits changed: new timeouts and header limits apply to listeners opened after a restart; max_body_bytes applies now", "addr", addr)
		}
		if engineFor(cfg.Server.HTTP1Engine) != l.engine || l.h2c != h2c[addr] || l.tls && cfg.Server.HTTP2Engine != l.h2engine {
			s.log.Warn("server.http1_engine, server.http2_engine or h2c changed: the engine of a listener changes after a restart", "addr", addr)
		}
	}
	if old != nil {
		s.retiring.Add(1)
		go func() {
			defer s.retiring.Done()
			old.retire(s.killCtx, s.log)
		}()
	}
	if !first {
		s.log.Info("config reloaded", "file", cfg.File, "vhosts", len(cfg.VHosts))
	}
	return nil
}

// baseEnv is the part of every module's Env that comes from the server.
func (s *Server) baseEnv() registry.Env {
	sw := s.Software
	if sw == "" {
		sw = "httpd"
	}
	return registry.Env{ServerSoftware: sw, Kill: s.killCtx.Done(), Shared: &s.shared}
}

// Addrs returns the bound address of every listener, keyed by the
// address the config gave.
func (s *Server) Addrs() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]string{}
	for k, l := range s.listeners {
		m[k] = l.ln.Addr().String()
	}
	return m
}

// Shutdown stops accepting, lets in-flight requests finish until ctx ends,
// then cleans up every module (stopping CGI and WSGI children). Children
// have until ctx's deadline to exit, or killGrace when that has passed;
// then they are killed (registry.Env.Kill). So Shutdown returns soon
// after max(deadline, end of requests + killGrace), whatever children do.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopping = true
	ls := make([]*listener, 0, len(s.listeners))
	for _, l := range s.listeners {
		ls = append(ls, l)
	}
	s.listeners = map[string]*listener{}
	s.mu.Unlock()

	var wg sync.WaitGroup
	errs := make([]error, len(ls))
	for i, l := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.shutdown(ctx, s.log)
		}()
	}
	wg.Wait()
	s.tickets.stop()
	_ = s.fair.Close()
	if s.statsStop != nil {
		s.statsStop()
	}
	stop := s.killAfter(ctx)
	defer stop()
	if g := s.gen.Load(); g != nil {
		g.retire(ctx, s.log)
	}
	s.retiring.Wait()
	if s.profile != nil {
		pprof.StopCPUProfile()
		errs = append(errs, s.profile.Close())
	}
	if p := os.Getenv("HTTPD_MEMPROFILE"); p != "" {
		errs = append(errs, writeAllocProfile(p))
	}
	return errors.Join(errs...)
}

// killAfter ends killCtx when ctx does, but no sooner than killGrace from
// now. stop releases the timer.
func (s *Server) killAfter(ctx context.Context) (stop func()) {
	floor := time.NewTimer(killGrace)
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
			return
		}
		select {
		case <-floor.C:
		case <-done:
			return
		}
		s.log.Warn("shutdown timeout: killing the children still running")
		s.kill()
	}()
	return func() {
		close(done)
		floor.Stop()
		s.kill()
	}
}

// listener is one bound address with the server serving it. It lives
// across generations.
type listener struct {
	s      *Server
	addr   string
	tls    bool
	h2c    bool
	ln     net.Listener
	srv    httpServer
	limits conf.Limits
	engine string // conf.EngineNative or conf.EngineNetHTTP
	// h2engine serves HTTP/2 on a TLS listener; h2 is set when it is
	// conf.EngineNative, and on a plain listener that serves h2c.
	h2engine string
	h2       *h2.Server
	// postQuantum is server.tls.post_quantum when the listener opened.
	postQuantum bool

	connMu     sync.Mutex                  // guards connStates
	connStates map[net.Conn]http.ConnState // the net/http engine's connections
}

// errSlowHeader is what the error log says of a 408.
const errSlowHeader = "request header not complete within server.limits.read_header_timeout"

// engineFor is the engine that serves HTTP/1.x on a listener: the
// configured one, on plain and TLS listeners alike.
func engineFor(configured string) string { return configured }

// httpServer is what a listener needs of http.Server or native.
type httpServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

func (s *Server) listen(addr string, useTLS, h2c bool, cs conf.Server) (*listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	lim := cs.Limits
	l := &listener{s: s, addr: addr, tls: useTLS, h2c: h2c, limits: lim, engine: engineFor(cs.HTTP1Engine), h2engine: cs.HTTP2Engine}
	l.postQuantum = cs.TLS.PostQuantum
	maxHeader := int(lim.MaxHeaderBytes)
	if useTLS && l.h2engine == conf.EngineNative || !useTLS && h2c {
		l.h2 = &h2.Server{
			Handler:        l,
			MaxHeaderBytes: maxHeader,
			PrefaceTimeout: lim.ReadHeaderTimeout,
			IdleTimeout:    lim.IdleTimeout,
			ReadTimeout:    lim.ReadTimeout,
			WriteTimeout:   lim.WriteTimeout,
			ErrorLog:       s.log.With("addr", addr),
		}
	}
	if l.engine == conf.EngineNative {
		n := &native{l: l, h2: l.h2}
		n.h1 = &h1.Server{
			Handler:           l,
			ReadHeaderTimeout: lim.ReadHeaderTimeout,
			ReadTimeout:       lim.ReadTimeout,
			WriteTimeout:      lim.WriteTimeout,
			IdleTimeout:       lim.IdleTimeout,
			MaxHeaderBytes:    maxHeader,
			ErrorLog:          s.log.With("addr", addr),
			Fairness:          &s.fair,
			Rejected: func(c net.Conn, status int, reason string) {
				msg := http.StatusText(status) + ": " + reason
				if status == http.StatusRequestTimeout {
					msg = errSlowHeader
				}
				s.log.Info("bad request", "remote", c.RemoteAddr().String(), "status", status, "err", msg)
			},
		}
		if !useTLS && h2c {
			n.h1.H2C = func(c net.Conn, upgrade *http.Request, settings []byte) {
				if upgrade != nil {
					l.h2.ServeUpgrade(connContext(c), c, upgrade, settings)
					return
				}
				l.h2.ServeConnContext(connContext(c), c)
			}
		}
		if useTLS {
			n.cfg = l.tlsConfig()
			if l.h2engine != conf.EngineNative {
				n.hs = l.netHTTPServer(lim)
				n.xh2 = new(http2.Server)
				if err := http2.ConfigureServer(n.hs, n.xh2); err != nil {
					ln.Close()
					return nil, fmt.Errorf("listen %s: %w", addr, err)
				}
			}
		}
		l.ln, l.srv = ln, n
		return l, nil
	}
	// The net/http engine (server.http1_engine = "net/http"): net/http
	// does the TLS handshake and serves HTTP/1.x and h2c itself.
	var protos http.Protocols
	protos.SetHTTP1(true)
	if useTLS {
		protos.SetHTTP2(true)
	} else if h2c {
		protos.SetUnencryptedHTTP2(true)
	}
	hs := l.netHTTPServer(lim)
	hs.Protocols = &protos
	l.srv = hs
	if l.h2 != nil && useTLS {
		// net/http hands connections that chose h2 by ALPN over;
		// setting TLSNextProto also keeps its own HTTP/2 server out.
		hs.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){
			"h2": func(_ *http.Server, c *tls.Conn, _ http.Handler) {
				l.h2.ServeConnContext(connContext(c), c)
			},
		}
		hs.RegisterOnShutdown(l.h2.GoAway)
	}
	if useTLS {
		cfg := l.tlsConfig()
		hs.TLSConfig = cfg
		ln = tls.NewListener(ln, cfg)
	}
	l.ln = ln
	return l, nil
}

// netHTTPServer is the http.Server of the net/http engine.
func (l *listener) netHTTPServer(lim conf.Limits) *http.Server {
	return &http.Server{
		Handler:           l,
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    int(lim.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(l.s.log.With("addr", l.addr).Handler(), slog.LevelInfo),
		ConnState:         l.connState,
	}
}

func (l *listener) serve(log *slog.Logger) {
	if err := l.srv.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		log.Error("listener stopped", "addr", l.addr, "err", err)
	}
}

func (l *listener) shutdown(ctx context.Context, log *slog.Logger) error {
	err := l.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		log.Warn("shutdown timeout: closing connections with requests still running", "addr", l.addr)
		err = l.srv.Close()
	}
	return err
}

// ServeHTTP picks the vhost for the request and runs its pipeline.
func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == "OPTIONS" && r.RequestURI == "*" {
		serverOptions(w, r)
		return
	}
	g := l.s.acquire()
	defer g.release()
	// From here on the client is the one a trusted proxy names, for
	// every log line and gateway alike.
	r = g.trust.Rewrite(r)
	t := g.tables[l.addr]
	if t == nil { // the listener is closing: this config does not use it
		w.Header().Set("Connection", "close")
		writeError(w, r, http.StatusServiceUnavailable)
		return
	}
	st := t.match(r.Host)
	if r.TLS != nil && r.TLS.ServerName != "" {
		if sni := t.match(r.TLS.ServerName); sni != st && sni != nil {
			sni.log.Info("request failed", "method", r.Method, "uri", r.RequestURI, "remote", r.RemoteAddr,
				"status", http.StatusMisdirectedRequest, "err", fmt.Errorf("host %q is not served under the TLS server name %q", r.Host, r.TLS.ServerName))
			writeError(w, r, http.StatusMisdirectedRequest)
			return
		}
	}
	if r.TLS == nil && g.certs != nil && g.certs.httpChallenge(w, r) {
		return
	}
	if st == nil {
		writeError(w, r, http.StatusNotFound)
		return
	}
	st.serve(w, r)
}

// serverOptions answers "OPTIONS *", a question about the server rather
// than any resource (RFC 9110 §9.3.7), on every engine and protocol:
// 200, no body. A body the request has is read, up to 4 KiB, so that
// the connection can carry the next request, as net/http does.
func serverOptions(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "0")
	if r.ContentLength != 0 {
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4<<10))
	}
	w.WriteHeader(http.StatusOK)
}

// Describe prints the virtual host table, for httpd -S.
func Describe(cfg *conf.Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ServerRoot: %s\nConfig: %s\nData dir: %s\n", cfg.ServerRoot, cfg.File, cfg.Server.DataDir)
	byAddr := map[string][]*conf.VHost{}
	tlsAddr := map[string]bool{}
	for _, v := range cfg.VHosts {
		for _, l := range v.Listeners {
			byAddr[l.Addr] = append(byAddr[l.Addr], v)
			tlsAddr[l.Addr] = l.TLS
		}
	}
	addrs := make([]string, 0, len(byAddr))
	for a := range byAddr {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	for _, a := range addrs {
		proto := "http"
		if tlsAddr[a] {
			proto = "https"
		}
		fmt.Fprintf(&b, "%s (%s):\n", a, proto)
		def := byAddr[a][0]
		for _, v := range byAddr[a] {
			if v.Default {
				def = v
			}
		}
		for _, v := range byAddr[a] {
			mark := ""
			if v == def {
				mark = " (default)"
			}
			fmt.Fprintf(&b, "    %s%s  %s:%d\n", v.Name, mark, v.DefRange.Filename, v.DefRange.Start.Line)
			if len(v.Aliases) > 0 {
				fmt.Fprintf(&b, "        aliases: %s\n", strings.Join(v.Aliases, ", "))
			}
		}
	}
	for _, v := range cfg.VHosts {
		fmt.Fprintf(&b, "vhost %s:\n", v.Name)
		if v.DocumentRoot != "" {
			fmt.Fprintf(&b, "    document_root: %s\n", v.DocumentRoot)
		}
		if v.TLS.Mode != conf.TLSOff {
			fmt.Fprintf(&b, "    tls: %s\n", v.TLS.Mode)
		}
		for _, mb := range v.Modules {
			desc := ""
			if d, ok := mb.Module.(registry.Describer); ok {
				desc = d.Describe()
			}
			label := strings.Join(append([]string{mb.Info.Name}, mb.Labels...), " ")
			fmt.Fprintf(&b, "    %-28s %s\n", label, desc)
		}
	}
	return b.String()
}
