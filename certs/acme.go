package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
)

// HandshakeWait bounds how long a TLS handshake for a name whose first
// certificate is still being obtained waits for it before failing.
const HandshakeWait = 5 * time.Second

// ACMEConfig is how an ACME manager obtains certificates. It is
// comparable: equal configs may share one manager.
type ACMEConfig struct {
	CA      string // the directory URL
	Email   string // account contact; may be empty
	CARoot  string // PEM file of the CA(s) trusted for CA's own HTTPS endpoint; "" for the system's roots
	Storage string // folder for accounts, keys and certificates
	// Shared, when set, keeps accounts, keys, certificates, OCSP staples
	// and locks there instead of in the Storage folder: a storage a
	// fleet of servers shares (see package certs/redisstore). Its
	// dynamic type must be comparable (a pointer).
	Shared Storage
	// HTTPPort and TLSALPNPort are where this server answers HTTP-01 and
	// TLS-ALPN-01 challenges; 0 means the standard port (80, 443). The
	// CA connects to the standard ports, so other values only make
	// sense when those are forwarded here (or in tests).
	HTTPPort    int
	TLSALPNPort int
}

// ACME obtains certificates from an ACME CA for the names it is asked to
// manage, keeps them in storage and in memory, renews them before they
// expire (retrying with backoff when the CA refuses) and staples OCSP
// responses. It never binds the challenge ports itself when something
// already listens there: the server must then pass HTTP challenge
// requests to HandleHTTPChallenge and TLS handshakes offering
// "acme-tls/1" to GetCertificate.
type ACME struct {
	magic  *certmagic.Config
	issuer *certmagic.ACMEIssuer
	cache  *certmagic.Cache
	ctx    context.Context // ends at Stop; issuance runs under it
	cancel context.CancelFunc
	wait   time.Duration // HandshakeWait, shorter in tests
	log    *slog.Logger
	// shared is whether the storage is shared (Redis): then names are
	// handed to certmagic only once the storage answers (see Manage).
	shared bool

	mu      sync.Mutex     // guards names, changed and stopped
	names   map[string]int // managed name → number of Manage calls holding it
	changed chan struct{}  // closed and replaced when a certificate enters the cache
	stopped bool

	// hot holds, by server name, the certificate certmagic last chose
	// for it (a *hotCert), so that most handshakes skip certmagic's
	// lookup, which logs, sorts and allocates on every call. An entry
	// serves for hotTTL, and not once its certificate is due for renewal
	// (see hotUntil); the whole map is dropped when a certificate enters
	// certmagic's cache (issued or renewed) and on Unmanage, so a renewal
	// is served at once (within hotTTL if a handshake raced it) and a new
	// OCSP staple within hotTTL.
	hot sync.Map
}

// hotTTL is how long a certificate certmagic chose for a name is handed
// out without asking it again.
const hotTTL = time.Minute

type hotCert struct {
	cert    *tls.Certificate
	expires time.Time
}

// hotUntil is until when cert may be handed out from the hot map: hotTTL
// from now, but no later than the start of its renewal window. A renewal
// made by another server of a fleet enters certmagic's cache without an
// event, so a certificate due for renewal is asked of certmagic at every
// handshake, and the renewed one is served as soon as it is loaded.
func hotUntil(cert *tls.Certificate, now time.Time) time.Time {
	until := now.Add(hotTTL)
	if leaf := cert.Leaf; leaf != nil {
		life := leaf.NotAfter.Sub(leaf.NotBefore)
		window := leaf.NotAfter.Add(-time.Duration(float64(life) * certmagic.DefaultRenewalWindowRatio))
		if window.Before(until) {
			until = window
		}
	}
	return until
}

// NewACME returns a manager for cfg that logs to log. It manages no name
// until Manage is called, and must be stopped with Stop.
func NewACME(cfg ACMEConfig, log *slog.Logger) (*ACME, error) {
	if cfg.CA == "" {
		return nil, errors.New("acme: no CA directory URL")
	}
	if cfg.Storage == "" && cfg.Shared == nil {
		return nil, errors.New("acme: no storage folder")
	}
	var roots *x509.CertPool
	if cfg.CARoot != "" {
		pem, err := os.ReadFile(cfg.CARoot)
		if err != nil {
			return nil, fmt.Errorf("acme: ca_root: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("acme: ca_root %s: no PEM certificate in the file", cfg.CARoot)
		}
	}
	var storage certmagic.Storage = cfg.Shared
	if storage == nil {
		if err := os.MkdirAll(cfg.Storage, 0o700); err != nil {
			return nil, fmt.Errorf("acme: storage: %w", err)
		}
		storage = &certmagic.FileStorage{Path: cfg.Storage}
	}
	a := &ACME{wait: HandshakeWait, names: map[string]int{}, changed: make(chan struct{}), log: log, shared: cfg.Shared != nil}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	zl := zapLogger(log)
	renewCheck := testRenewCheck()
	a.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return a.magic, nil },
		Logger:             zl,
		RenewCheckInterval: renewCheck,
	})
	a.magic = certmagic.New(a.cache, certmagic.Config{
		Storage: storage,
		Logger:  zl,
		OnEvent: a.onEvent,
		// A test CA's renewal window (ARI) spans the whole life of a
		// short certificate, so renewal would come at a random time.
		DisableARI: renewCheck > 0,
	})
	a.issuer = certmagic.NewACMEIssuer(a.magic, certmagic.ACMEIssuer{
		CA:             cfg.CA,
		TestCA:         cfg.CA, // never fall back to another CA
		Email:          cfg.Email,
		Agreed:         true,
		TrustedRoots:   roots,
		AltHTTPPort:    cfg.HTTPPort,
		AltTLSALPNPort: cfg.TLSALPNPort,
		Logger:         zl,
	})
	a.magic.Issuers = []certmagic.Issuer{a.issuer}
	return a, nil
}

// TestRenewCheckEnv names an environment variable for tests only (see
// the package doc): a duration that replaces certmagic's renewal check
// interval (10 minutes) and turns ACME Renewal Information off, so that
// a short-lived certificate from a test CA is renewed at a known point
// of its life (when a third of it is left).
const TestRenewCheckEnv = "HTTPD_TEST_ACME_RENEW_CHECK"

// testRenewCheck is the duration in TestRenewCheckEnv; 0 when it is
// unset or not a positive duration.
func testRenewCheck() time.Duration {
	d, err := time.ParseDuration(os.Getenv(TestRenewCheckEnv))
	if err != nil || d <= 0 {
		return 0
	}
	return d
}

// onEvent wakes handshakes waiting for a certificate.
func (a *ACME) onEvent(_ context.Context, event string, _ map[string]any) error {
	if event == "cached_managed_cert" {
		a.hot.Clear()
		a.mu.Lock()
		close(a.changed)
		a.changed = make(chan struct{})
		a.mu.Unlock()
	}
	return nil
}

// Manage starts managing names: each is loaded from storage, or obtained
// from the CA in the background, and renewed from then on. It does not
// wait for any certificate. Wildcard names are not managed (HTTP-01 and
// TLS-ALPN-01 cannot prove them). Every Manage must be balanced by an
// Unmanage of the same names.
func (a *ACME) Manage(names []string) error {
	var start []string
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return errors.New("acme: manager is stopped")
	}
	for _, n := range ManagedNames(names) {
		if a.names[n]++; a.names[n] == 1 {
			start = append(start, n)
		}
	}
	a.mu.Unlock()
	if len(start) == 0 {
		return nil
	}
	if a.shared {
		go a.manageWhenReachable(start)
		return nil
	}
	if err := a.magic.ManageAsync(a.ctx, start); err != nil {
		return fmt.Errorf("acme: manage %s: %w", strings.Join(start, ", "), err)
	}
	return nil
}

// Bounds of the wait between two probes of a shared storage that does
// not answer.
const (
	probeFirst = time.Second
	probeMax   = time.Minute
)

// manageWhenReachable hands names to certmagic once the shared storage
// answers: certmagic gives up on a name whose certificate it cannot
// load for another reason than its absence, so a server started while
// Redis is down would otherwise never manage its names. It probes with
// backoff until the storage answers or the manager stops; names
// Unmanaged meanwhile are left out.
func (a *ACME) manageWhenReachable(names []string) {
	wait := probeFirst
	for logged := false; ; logged = true {
		ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
		_, err := a.magic.Storage.List(ctx, "", false)
		cancel()
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			break
		}
		if !logged {
			a.log.Warn("acme: the shared storage does not answer: these names are managed once it does; certificates held in memory keep serving",
				"names", names, "err", err)
		}
		select {
		case <-a.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, probeMax)
	}
	a.mu.Lock()
	held := names[:0:0]
	for _, n := range names {
		if a.names[n] > 0 {
			held = append(held, n)
		}
	}
	stopped := a.stopped
	a.mu.Unlock()
	if stopped || len(held) == 0 {
		return
	}
	if err := a.magic.ManageAsync(a.ctx, held); err != nil {
		a.log.Error("acme: cannot manage names", "names", held, "err", err)
	}
}

// Unmanage releases names held by Manage; a name no Manage holds any more
// is dropped from memory (its files stay in storage).
func (a *ACME) Unmanage(names []string) {
	var drop []certmagic.SubjectIssuer
	a.mu.Lock()
	for _, n := range ManagedNames(names) {
		if a.names[n] == 0 {
			continue
		}
		if a.names[n]--; a.names[n] == 0 {
			delete(a.names, n)
			drop = append(drop, certmagic.SubjectIssuer{Subject: n})
		}
	}
	a.mu.Unlock()
	if len(drop) > 0 {
		a.cache.RemoveManaged(drop)
		a.hot.Clear()
	}
}

// ManagedNames returns the names of a vhost that ACME can manage: no
// wildcards, lowercase, IPv6 without brackets, each once.
func ManagedNames(names []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".")
		n = strings.TrimSuffix(strings.TrimPrefix(n, "["), "]")
		if n == "" || strings.Contains(n, "*") || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}

// PublicName reports whether a public CA such as Let's Encrypt can issue
// a certificate for name: not localhost, not a private or loopback IP, not
// a name under .local, .internal, .localhost or .home.arpa.
func PublicName(name string) bool {
	return certmagic.SubjectQualifiesForPublicCert(name)
}

// Manages reports whether name is being managed.
func (a *ACME) Manages(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.names[normalize(name)] > 0
}

func normalize(name string) string {
	return strings.TrimSuffix(strings.ToLower(name), ".")
}

// GetCertificate returns the certificate for hello's server name, or the
// TLS-ALPN-01 challenge certificate when hello offers only "acme-tls/1".
// For a managed name whose first certificate is still being obtained it
// waits up to HandshakeWait, then fails. It is a tls.Config.GetCertificate.
func (a *ACME) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if isALPNChallenge(hello) {
		return a.magic.GetCertificate(hello)
	}
	name := normalize(hello.ServerName)
	if h, ok := a.hot.Load(name); ok {
		if h := h.(*hotCert); time.Now().Before(h.expires) {
			return h.cert, nil
		}
	}
	cert, err := a.magic.GetCertificate(hello)
	if err == nil {
		if name != "" {
			a.hot.Store(name, &hotCert{cert: cert, expires: hotUntil(cert, time.Now())})
		}
		return cert, nil
	}
	if !a.Manages(name) {
		return nil, err
	}
	ctx := hello.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	timer := time.NewTimer(a.wait)
	defer timer.Stop()
	for {
		a.mu.Lock()
		changed := a.changed
		a.mu.Unlock()
		if cert, err := a.magic.GetCertificate(hello); err == nil {
			return cert, nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return nil, fmt.Errorf("acme: no certificate for %s yet: it is still being obtained, or obtaining it failed (see the log)", name)
		case <-ctx.Done():
			return nil, fmt.Errorf("acme: waiting for the certificate of %s: %w", name, ctx.Err())
		case <-a.ctx.Done():
			return nil, fmt.Errorf("acme: no certificate for %s: manager stopped", name)
		}
	}
}

func isALPNChallenge(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmez.ACMETLS1Protocol
}

// ALPNProto is the protocol a TLS listener must offer (in NextProtos) for
// TLS-ALPN-01 challenges to reach GetCertificate.
const ALPNProto = acmez.ACMETLS1Protocol

// HandleHTTPChallenge answers r if it is an HTTP-01 challenge request
// for a token this manager (or another sharing its storage) is solving,
// and reports whether it did.
func (a *ACME) HandleHTTPChallenge(w http.ResponseWriter, r *http.Request) bool {
	return a.issuer.HandleHTTPChallenge(w, r)
}

// Stop ends issuance under way, drops the cached certificates and stops
// maintenance. The manager cannot be used afterwards.
func (a *ACME) Stop() {
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return
	}
	a.stopped = true
	a.mu.Unlock()
	a.cancel()
	a.cache.Stop()
}
