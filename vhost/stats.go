package vhost

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"

	"httpd/conf"
	"httpd/internal/stats"
	"httpd/registry"
)

// Stats is the server's live state, which the status and metrics
// modules read (they find it through registry.Env.Shared).
func (s *Server) Stats() *stats.Server { return s.stats }

// mountCounters are the counters of one mount prefix of a site.
type mountCounters struct {
	prefix string
	c      *stats.Counters
}

// counters picks the counters of the mount whose prefix is the longest
// match of path, or those of what no mount serves. It allocates nothing.
func (st *site) counters(path string) *stats.Counters {
	for i := range st.mounts {
		if registry.MatchPrefix(st.mounts[i].prefix, path) {
			return st.mounts[i].c
		}
	}
	return st.rest
}

// countingBody counts the bytes a handler reads of a request body.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// publish tells the server's stats about generation g.
func (s *Server) publish(g *generation) {
	sg := &stats.Generation{Loaded: g.loaded, File: g.cfg.File}
	for _, st := range g.sites {
		v := st.v
		sv := stats.VHost{Name: v.Name, Aliases: v.Aliases, TLS: string(v.TLS.Mode)}
		if sv.TLS == "" {
			sv.TLS = string(conf.TLSOff)
		}
		for _, l := range v.Listeners {
			addr := l.Addr
			if ln := s.listeners[l.Addr]; ln != nil {
				addr = ln.ln.Addr().String()
			}
			sv.Listeners = append(sv.Listeners, stats.Listener{Addr: addr, TLS: l.TLS})
		}
		for _, mb := range v.Modules {
			if mb.Info.Phase != registry.PhaseMount {
				continue
			}
			m := stats.Mount{Kind: mb.Info.Name, Prefix: mb.Prefix()}
			if r, ok := mb.Module.(registry.Reporter); ok {
				m.Reporter = r
			}
			sv.Mounts = append(sv.Mounts, m)
		}
		if get := st.cert; get != nil {
			name := v.Name
			sv.Cert = func() (*stats.Cert, error) { return certInfo(get, name) }
		}
		sg.VHosts = append(sg.VHosts, sv)
	}
	s.stats.Publish(sg)
}

// certInfo describes the certificate get gives for name.
func certInfo(get func(*tls.ClientHelloInfo) (*tls.Certificate, error), name string) (*stats.Cert, error) {
	c, err := get(&tls.ClientHelloInfo{ServerName: strings.TrimPrefix(name, "*.")})
	if err != nil {
		return nil, err
	}
	leaf := c.Leaf
	if leaf == nil {
		if len(c.Certificate) == 0 {
			return nil, errors.New("the certificate is empty")
		}
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, err
		}
	}
	issuer := leaf.Issuer.CommonName
	if issuer == "" && len(leaf.Issuer.Organization) > 0 {
		issuer = leaf.Issuer.Organization[0]
	}
	if issuer == "" {
		issuer = leaf.Issuer.String()
	}
	return &stats.Cert{Subject: leaf.Subject.CommonName, Names: leaf.DNSNames, Issuer: issuer, NotAfter: leaf.NotAfter}, nil
}

// countConns counts the open client connections of every listener.
func (s *Server) countConns() stats.Conns {
	s.mu.Lock()
	ls := make([]*listener, 0, len(s.listeners))
	for _, l := range s.listeners {
		ls = append(ls, l)
	}
	s.mu.Unlock()
	var c stats.Conns
	for _, l := range ls {
		l.countConns(&c)
	}
	return c
}

// countConns adds the listener's connections to c.
func (l *listener) countConns(c *stats.Conns) {
	if n, ok := l.srv.(*native); ok {
		a, i := n.h1.ConnStates()
		c.Active += a
		c.Idle += i
		if n.h2 != nil {
			c.Active += n.h2.NumConns()
		}
		n.mu.Lock()
		c.Handshake += len(n.handshaking)
		n.mu.Unlock()
		return
	}
	if l.h2 != nil {
		c.Active += l.h2.NumConns()
	}
	l.connMu.Lock()
	defer l.connMu.Unlock()
	for _, st := range l.connStates {
		switch st {
		case http.StateActive:
			c.Active++
		case http.StateIdle:
			c.Idle++
		case http.StateNew:
			if l.tls {
				c.Handshake++
			} else {
				c.Idle++
			}
		}
	}
}

// connState is the net/http engine's http.Server.ConnState: it keeps
// the state of each connection for countConns.
func (l *listener) connState(c net.Conn, st http.ConnState) {
	l.connMu.Lock()
	defer l.connMu.Unlock()
	switch st {
	case http.StateClosed, http.StateHijacked:
		delete(l.connStates, c)
	default:
		if l.connStates == nil {
			l.connStates = map[net.Conn]http.ConnState{}
		}
		l.connStates[c] = st
	}
}
