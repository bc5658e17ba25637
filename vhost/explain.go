package vhost

import (
	"fmt"
	"net"

	"httpd/conf"
)

// Choice is the vhost a listener picks for a host name, and why, as
// httpd explain tells it.
type Choice struct {
	// VHost is the vhost chosen; nil when the listener has none.
	VHost *conf.VHost
	// Why says in words why it was chosen: by its name, an alias, a
	// wildcard alias, or as the listener's default.
	Why string
	// HTTPSRedirect is set when the listener is plain and the vhost has
	// TLS: the request is answered with a 308 to HTTPSPort.
	HTTPSRedirect bool
	HTTPSPort     string
}

// Choose picks the vhost for host (a Host header value) on the listener
// addr exactly as the server does, without provisioning anything.
func Choose(cfg *conf.Config, addr, host string) Choice {
	t := newHostTable()
	redirect := map[*site]bool{}
	for _, v := range cfg.VHosts {
		for _, l := range v.Listeners {
			if l.Addr != addr {
				continue
			}
			st := &site{v: v}
			redirect[st] = !l.TLS && v.TLS.Mode != conf.TLSOff
			t.add(st, v.Names(), v.Default)
		}
	}
	st := t.match(host)
	if st == nil {
		return Choice{Why: fmt.Sprintf("no vhost listens on %s", addr)}
	}
	c := Choice{VHost: st.v}
	if redirect[st] {
		c.HTTPSRedirect, c.HTTPSPort = true, tlsPort(st.v)
	}
	h := normalizeHost(host)
	switch {
	case h == "":
		c.Why = fmt.Sprintf("the request has no host name, so the listener's default answers (%s)", defaultWhy(t))
	case t.exact[h] == st && h == st.v.Name:
		c.Why = fmt.Sprintf("%s is its name", h)
	case t.exact[h] == st:
		c.Why = fmt.Sprintf("%s is one of its aliases", h)
	default:
		for _, w := range t.wildcards {
			if len(h) > len(w.suffix) && w.site == st && hasSuffix(h, w.suffix) {
				c.Why = fmt.Sprintf("%s matches its wildcard alias *%s (no vhost has the exact name)", h, w.suffix)
				return c
			}
		}
		c.Why = fmt.Sprintf("no vhost on %s has the name %s, so the listener's default answers (%s)", addr, h, defaultWhy(t))
	}
	return c
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

func defaultWhy(t *hostTable) string {
	if t.hasDefault {
		return "it sets default = true"
	}
	return "the first vhost declared for the listener"
}

// ListenerPort returns the port of a listen address, "" when it has none.
func ListenerPort(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return p
}
