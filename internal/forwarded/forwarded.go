package forwarded

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Trusted is the set of peers whose forwarding headers are believed:
// server.trusted_proxies. A nil *Trusted trusts no one. It is safe for
// concurrent use and never changes once made.
type Trusted struct {
	prefixes []netip.Prefix
}

// NewTrusted returns the set of the given prefixes, or nil when there
// are none, so that a server without trusted proxies pays nothing per
// request. Each prefix is masked (10.1.2.3/8 is 10.0.0.0/8) and an
// IPv4-mapped IPv6 prefix is taken as the IPv4 one.
func NewTrusted(prefixes []netip.Prefix) *Trusted {
	if len(prefixes) == 0 {
		return nil
	}
	t := &Trusted{prefixes: make([]netip.Prefix, 0, len(prefixes))}
	for _, p := range prefixes {
		t.prefixes = append(t.prefixes, normalise(p))
	}
	return t
}

// normalise masks p (10.1.2.3/8 is 10.0.0.0/8) and takes an IPv4-mapped
// IPv6 prefix as the IPv4 one, so that it matches what Addr returns.
func normalise(p netip.Prefix) netip.Prefix {
	a, bits := p.Addr(), p.Bits()
	if a.Is4In6() && bits >= 96 {
		a, bits = a.Unmap(), bits-96
	}
	return netip.PrefixFrom(a, bits).Masked()
}

// ParsePrefix reads one entry of a list of networks (trusted_proxies,
// access allow and deny): a CIDR such as "10.0.0.0/8" or "fd00::/8", or a
// single address, which stands for itself alone (/32 or /128). The
// result is normalised: masked, and an IPv4-mapped IPv6 network is the
// IPv4 one. An address with a zone is refused, since no client address
// is matched with its zone.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return normalise(p), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q has a zone", s)
	}
	return normalise(netip.PrefixFrom(a, a.BitLen())), nil
}

// Addr parses a request's RemoteAddr, "ip:port" or a bare IP (what the
// listener sets for a client a trusted proxy names), as an address to
// match against ParsePrefix's networks: IPv4-mapped addresses are the
// IPv4 ones, zones are dropped. ok is false when it is no IP (a Unix
// socket peer).
func Addr(remote string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if a, err := netip.ParseAddr(remote); err == nil {
		return a.Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// Contains reports whether ip is in the set. IPv4-mapped IPv6 addresses
// are matched as the IPv4 ones they carry; a zone is ignored.
func (t *Trusted) Contains(ip netip.Addr) bool {
	if t == nil || !ip.IsValid() {
		return false
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range t.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// peerKey is the context key of the peer's own address on a request
// whose RemoteAddr Rewrite replaced.
type peerKey struct{}

// Rewrite applies the trust rules to a request as it enters a vhost.
// When the peer (r.RemoteAddr) is not trusted, r is returned as it is:
// its forwarding headers mean nothing, and whoever forwards it replaces
// them. When the peer is trusted, the returned request carries the
// peer's own address for Peer, and its RemoteAddr is the client that
// the headers name (see ClientAddr), if they name one: so the access
// log, the error log and every gateway's REMOTE_ADDR see the client. The
// client's address is an IP without a port (REMOTE_PORT is then not
// set): the headers do not say which port the client used.
func (t *Trusted) Rewrite(r *http.Request) *http.Request {
	if t == nil {
		return r
	}
	peer, ok := hostIP(r.RemoteAddr)
	if !ok || !t.Contains(peer) {
		return r
	}
	r2 := r.WithContext(context.WithValue(r.Context(), peerKey{}, r.RemoteAddr))
	if client, ok := t.ClientAddr(r.Header); ok {
		r2.RemoteAddr = client.String()
	}
	return r2
}

// ClientAddr returns the client address that the forwarding headers of
// a request from a trusted peer give: X-Forwarded-For, or, without it,
// the for= parameters of Forwarded (RFC 7239). The list is read from the
// right, the hop nearest to this server, past every address that is
// itself a trusted proxy: the first one that is not is the client. A
// trusted proxy may be believed about the hop before it, but nothing to
// the left of an untrusted address can be, since that address may have
// written it. When every address is trusted the leftmost is the client;
// an entry that is no address (Forwarded's "unknown" or an obfuscated
// name) ends the walk at the last address read. ok is false when the
// headers name no address at all.
func (t *Trusted) ClientAddr(h http.Header) (client netip.Addr, ok bool) {
	var nodes []string
	if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		nodes = splitList(xff)
	} else if fwd := h.Values("Forwarded"); len(fwd) > 0 {
		nodes = forValues(fwd)
	}
	for i := len(nodes) - 1; i >= 0; i-- {
		a, valid := parseNode(nodes[i])
		if !valid {
			break
		}
		client, ok = a, true
		if !t.Contains(a) {
			break
		}
	}
	return client, ok
}

// Peer returns the address of the connection r came on (host:port) and
// whether that peer is a trusted proxy: after Rewrite, r.RemoteAddr may
// be the client the proxy names rather than the peer.
func Peer(r *http.Request) (addr string, trusted bool) {
	if p, ok := r.Context().Value(peerKey{}).(string); ok {
		return p, true
	}
	return r.RemoteAddr, false
}

// hostIP parses the IP of a host:port address, or of a bare IP.
func hostIP(addr string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr(), true
	}
	if h, _, err := net.SplitHostPort(addr); err == nil {
		addr = h
	}
	a, err := netip.ParseAddr(addr)
	return a, err == nil
}

// parseNode parses one hop of X-Forwarded-For or one for= value of
// Forwarded: an IP, maybe with a port, IPv6 maybe bracketed.
func parseNode(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.Unmap().WithZone(""), true
		}
	}
	return netip.Addr{}, false
}

// splitList splits comma-separated header values into their trimmed,
// non-empty items.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}
