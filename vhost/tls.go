package vhost

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"httpd/certs"
	"httpd/conf"
	"httpd/registry"
)

// Folders under server.data_dir.
const (
	acmeDir  = "certmagic" // certmagic's storage: ACME accounts, keys, certificates, locks
	localDir = "pki"       // the local CA of tls = "internal"
)

// certSources are the certificate sources of a server. They outlive
// generations: a reload that keeps the acme settings keeps the ACME
// manager, with its cached certificates and any issuance under way, and
// a reload keeps the local CA with its issued leaves. Each generation
// that uses a source holds a reference; the generation that drops the
// last one (on a reload that no longer needs it, or at shutdown) stops
// it. The zero value is ready.
type certSources struct {
	acme  refPool[certs.ACMEConfig, *certs.ACME]
	local refPool[string, *certs.LocalCA] // by folder
	// shared is Server.CertStorage, set by each load; nil keeps ACME
	// state and the local CA in data_dir.
	shared certs.Storage
}

// certManager is a generation's share of the certificate sources: the
// ACME managers of its vhosts with tls = "auto" and the local CA of those
// with tls = "internal".
type certManager struct {
	src   *certSources
	uses  []acmeUse
	acme  map[*conf.VHost]*certs.ACME
	local *certs.LocalCA
	dir   string // local's folder, its key in src.local
	stop  sync.Once
}

// acmeUse is one vhost's hold on an ACME manager.
type acmeUse struct {
	key   certs.ACMEConfig
	a     *certs.ACME
	names []string
}

// startCerts starts certificate management for the generation's vhosts
// that need it. It does not wait for any certificate to be issued: ACME
// issuance runs in the background, and a handshake for a name still
// being issued waits briefly, then fails. The sources come from src. On
// error nothing is left held.
func (g *generation) startCerts(_ context.Context, src *certSources, log *slog.Logger) error {
	for _, v := range g.cfg.VHosts {
		if v.TLS.Mode != conf.TLSAuto && v.TLS.Mode != conf.TLSInternal {
			continue
		}
		if g.certs == nil {
			g.certs = &certManager{src: src, acme: map[*conf.VHost]*certs.ACME{}}
		}
		m := g.certs
		switch v.TLS.Mode {
		case conf.TLSAuto:
			key := acmeConfig(g.cfg, v)
			key.Shared = src.shared
			a, err := src.acme.acquire(key, func() (*certs.ACME, error) {
				return certs.NewACME(key, log.With("module", "tls"))
			})
			if err != nil {
				g.stopCerts()
				return fmt.Errorf("vhost %s: tls = \"auto\": %w", v.Name, err)
			}
			if key.CA == conf.DefaultACMECA {
				for _, n := range certs.ManagedNames(v.Names()) {
					if !certs.PublicName(n) {
						log.Warn(`tls = "auto": a public CA does not issue certificates for this name; use tls = "internal" for local and private names`,
							"vhost", v.Name, "name", n)
					}
				}
			}
			m.uses = append(m.uses, acmeUse{key: key, a: a, names: v.Names()})
			m.acme[v] = a
			if err := a.Manage(v.Names()); err != nil {
				g.stopCerts()
				return fmt.Errorf("vhost %s: tls = \"auto\": %w", v.Name, err)
			}
		case conf.TLSInternal:
			if m.local != nil {
				continue
			}
			dir := filepath.Join(g.cfg.Server.DataDir, localDir)
			ca, err := src.local.acquire(dir, func() (*certs.LocalCA, error) {
				ca, created, err := certs.OpenLocalCAShared(src.shared, dir, log)
				if err != nil {
					return nil, err
				}
				verb := "using"
				if created {
					verb = "created"
				}
				log.Info(verb+" the local CA for tls = \"internal\": make clients trust its root certificate",
					"root", ca.RootFile(), "trust", ca.TrustHint())
				return ca, nil
			})
			if err != nil {
				g.stopCerts()
				return fmt.Errorf("vhost %s: tls = \"internal\": %w", v.Name, err)
			}
			m.local, m.dir = ca, dir
		}
	}
	return nil
}

// acmeConfig is the ACME setup of a vhost with tls = "auto". Challenges
// are answered on the vhost's own plain and TLS ports.
func acmeConfig(cfg *conf.Config, v *conf.VHost) certs.ACMEConfig {
	c := certs.ACMEConfig{
		CA:      cfg.ACME.CA,
		Email:   cfg.ACME.Email,
		CARoot:  cfg.ACME.CARoot,
		Storage: filepath.Join(cfg.Server.DataDir, acmeDir),
	}
	for _, l := range v.Listeners {
		_, p, _ := net.SplitHostPort(l.Addr)
		port, _ := strconv.Atoi(p)
		switch {
		case port == 0:
		case l.TLS && c.TLSALPNPort == 0:
			c.TLSALPNPort = port
		case !l.TLS && c.HTTPPort == 0:
			c.HTTPPort = port
		}
	}
	return c
}

// stopCerts releases what startCerts acquired. It may be called more than
// once.
func (g *generation) stopCerts() {
	m := g.certs
	if m == nil {
		return
	}
	m.stop.Do(func() {
		for _, u := range m.uses {
			u.a.Unmanage(u.names)
			m.src.acme.release(u.key, (*certs.ACME).Stop)
		}
		if m.local != nil {
			m.src.local.release(m.dir, func(*certs.LocalCA) {})
		}
	})
}

// httpChallenge answers ACME HTTP-01 challenges on plain listeners; it
// reports whether it answered.
func (m *certManager) httpChallenge(w http.ResponseWriter, r *http.Request) bool {
	if len(m.uses) == 0 || !strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
		return false
	}
	for _, u := range m.uses {
		if u.a.HandleHTTPChallenge(w, r) {
			return true
		}
	}
	return false
}

// tlsConfig is the TLS setup of a listener: TLS 1.2 and 1.3 (ECDHE and
// AEAD suites only in 1.2), HTTP/2 and HTTP/1.1 by ALPN, the certificate
// picked by SNI, the post-quantum hybrid key exchange for the clients
// that offer it unless server.tls.post_quantum is off (see classicCurves),
// and session tickets (unless server.tls turns them off) whose keys the
// server holds and rotates on this config: a Clone of it does not follow
// the rotations. It also offers the ALPN protocol of ACME's TLS-ALPN-01
// challenge, which only an ACME server asks for. Each call returns a new
// config; set its fields before the first handshake.
func (l *listener) tlsConfig() *tls.Config {
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   tls12Suites,
		NextProtos:     []string{"h2", "http/1.1", certs.ALPNProto},
		GetCertificate: l.getCertificate,
	}
	if !l.postQuantum {
		cfg.CurvePreferences = classicCurves
	}
	l.s.tickets.register(cfg, l.s.TicketKeys)
	return cfg
}

// tls12Suites are the TLS 1.2 cipher suites offered: ECDHE for forward
// secrecy and AEAD only, as Mozilla's "intermediate" profile and HTTP/2
// (RFC 9113, appendix A) want. crypto/tls orders them for the hardware
// (AES-GCM first with AES instructions, ChaCha20 first without). TLS 1.3
// suites are not configurable and all of them are good.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// classicCurves are the key exchanges with server.tls.post_quantum off:
// the classical groups only. crypto/tls takes the hybrid X25519MLKEM768
// whenever a client offers it and the config allows it, whatever the
// order. Measured here (BenchmarkHandshake, the server's share of a TLS
// 1.3 handshake with an ECDSA P-256 certificate, 2 shared cores): X25519
// key exchange 145 µs, X25519MLKEM768 265-300 µs; a whole server
// handshake 250 µs with X25519 and 350-440 µs with the hybrid (+40 to
// 75 %), plus 1184 bytes more in the ClientHello and 1088 in the
// ServerHello. The hybrid stays on by default, as in browsers and Caddy:
// traffic recorded today cannot be read by a quantum computer later. A
// server bound by handshake CPU may turn it off.
var classicCurves = []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384}

// loadCert prepares the certificate source of a TLS vhost. Files are read
// now, so each generation (each reload) reads them again; ACME and local
// CA certificates come from the sources startCerts acquired.
func (st *site) loadCert(m *certManager) error {
	v := st.v
	switch v.TLS.Mode {
	case conf.TLSOff:
		return nil
	case conf.TLSFiles:
		cert, err := tls.LoadX509KeyPair(v.TLS.Cert, v.TLS.Key)
		if err != nil {
			return fmt.Errorf("vhost %s: tls: load %s and %s: %w", v.Name, v.TLS.Cert, v.TLS.Key, err)
		}
		st.cert = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }
		return nil
	case conf.TLSAuto:
		if m == nil || m.acme[v] == nil {
			return fmt.Errorf("vhost %s: tls = \"auto\": certificate management is not running", v.Name)
		}
		a := m.acme[v]
		managed := certs.ManagedNames(v.Names())
		st.cert = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			// A name the vhost answers without holding a certificate for
			// it (a wildcard alias, no SNI, an unknown name on the
			// default vhost) gets the certificate of the vhost's name.
			if !slices.Contains(managed, strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")) {
				h := *hello
				h.ServerName = managed[0]
				hello = &h
			}
			return a.GetCertificate(hello)
		}
		return nil
	case conf.TLSInternal:
		if m == nil || m.local == nil {
			return fmt.Errorf("vhost %s: tls = \"internal\": the local CA is not open", v.Name)
		}
		get := m.local.CertificateFunc(v.Names())
		st.cert = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return get() }
		return nil
	}
	return fmt.Errorf("vhost %s: unknown tls mode %q", v.Name, v.TLS.Mode)
}

var errUnknownServerName = errors.New("no vhost for this server name and no default vhost on this listener")

// getCertificate picks the certificate by SNI the way requests pick their
// vhost by Host. A name no vhost claims gets the default vhost's
// certificate only when one is marked default = true; otherwise the
// handshake fails.
func (l *listener) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	g := l.s.gen.Load()
	t := g.tables[l.addr]
	if t == nil {
		return nil, errUnknownServerName
	}
	var st *site
	if hello.ServerName == "" {
		st = t.fallback
	} else {
		st = t.matchName(hello.ServerName)
		if st == nil && t.hasDefault {
			st = t.fallback
		}
	}
	if st == nil || st.cert == nil {
		return nil, errUnknownServerName
	}
	return st.cert(hello)
}

// httpsRedirect answers every request on a plain listener of a TLS vhost
// with a 308 to the HTTPS URL, keeping the method and body.
func httpsRedirect(port string) registry.Handler {
	return registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		host := r.Host
		if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
			host = host[:i]
		}
		if port != "443" {
			host += ":" + port
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
		return nil
	})
}

// refPool shares one value per key among holders; the last release
// closes it.
type refPool[K comparable, V any] struct {
	mu sync.Mutex // guards m
	m  map[K]*refEntry[V]
}

type refEntry[V any] struct {
	v    V
	refs int
}

// acquire returns the value for k, made by open if no one holds it.
func (p *refPool[K, V]) acquire(k K, open func() (V, error)) (V, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.m[k]; e != nil {
		e.refs++
		return e.v, nil
	}
	v, err := open()
	if err != nil {
		return v, err
	}
	if p.m == nil {
		p.m = map[K]*refEntry[V]{}
	}
	p.m[k] = &refEntry[V]{v: v, refs: 1}
	return v, nil
}

// release drops one hold on k's value, closing it when none is left.
func (p *refPool[K, V]) release(k K, close func(V)) {
	p.mu.Lock()
	e := p.m[k]
	if e == nil {
		p.mu.Unlock()
		return
	}
	if e.refs--; e.refs > 0 {
		p.mu.Unlock()
		return
	}
	delete(p.m, k)
	p.mu.Unlock()
	close(e.v)
}
