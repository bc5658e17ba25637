package vhost

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"httpd/conf"
	"httpd/modules/registry"
)

// certManager obtains and renews certificates for the vhosts with
// tls = "auto" (ACME) or "internal" (a local CA in data_dir). One serves a
// whole generation.
type certManager struct{}

// startCerts starts certificate management for the generation's vhosts
// that need it. It must not wait for any certificate to be issued.
func (g *generation) startCerts(ctx context.Context, log *slog.Logger) error {
	for _, v := range g.cfg.VHosts {
		if v.TLS.Mode == conf.TLSAuto || v.TLS.Mode == conf.TLSInternal {
			return fmt.Errorf("vhost %s: tls = %q is not available in this build", v.Name, v.TLS.Mode)
		}
	}
	return nil
}

// stopCerts stops what startCerts started.
func (g *generation) stopCerts() {}

// httpChallenge answers ACME HTTP-01 challenges on plain listeners; it
// reports whether it answered.
func (m *certManager) httpChallenge(w http.ResponseWriter, r *http.Request) bool { return false }

// tlsConfig is the TLS setup of a listener: TLS 1.2 and up, HTTP/2 and
// HTTP/1.1 by ALPN, the certificate picked by SNI.
func (l *listener) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: l.getCertificate,
	}
}

// loadCert prepares the certificate source of a TLS vhost.
func (st *site) loadCert(certs *certManager) error {
	switch st.v.TLS.Mode {
	case conf.TLSOff:
		return nil
	case conf.TLSFiles:
		cert, err := tls.LoadX509KeyPair(st.v.TLS.Cert, st.v.TLS.Key)
		if err != nil {
			return fmt.Errorf("vhost %s: tls: load %s and %s: %w", st.v.Name, st.v.TLS.Cert, st.v.TLS.Key, err)
		}
		st.cert = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }
		return nil
	}
	return fmt.Errorf("vhost %s: tls = %q is not available in this build", st.v.Name, st.v.TLS.Mode)
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
