package forwarded

import (
	"net/http"
	"strings"
)

// SetHeaders sets the forwarding headers of out, the header of the
// request a proxy sends upstream for r: X-Forwarded-For,
// X-Forwarded-Proto, X-Forwarded-Host and Forwarded (RFC 7239). It
// replaces whatever out held under those names.
//
// From a peer that is not trusted (see Peer) the headers r carries are
// ignored: X-Forwarded-For is the peer's IP, X-Forwarded-Proto the
// scheme r came with, X-Forwarded-Host r.Host, and Forwarded one
// element for this hop. From a trusted peer the chain it sent goes on:
// the peer's IP is appended to its X-Forwarded-For, its Forwarded
// elements come before this hop's, and its X-Forwarded-Proto and
// X-Forwarded-Host, which describe the original request, are kept. When
// a trusted peer sent only one of X-Forwarded-For and Forwarded, the
// other is made from it, so that the two always name the same hops.
func SetHeaders(out http.Header, r *http.Request) {
	peer, trusted := Peer(r)
	peerIP := "unknown"
	if a, ok := hostIP(peer); ok {
		peerIP = a.Unmap().WithZone("").String()
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	xproto, xhost := proto, r.Host

	var chain, elems []string // earlier hops: X-Forwarded-For items, Forwarded elements
	if trusted {
		xff, fwd := r.Header.Values("X-Forwarded-For"), r.Header.Values("Forwarded")
		switch {
		case len(xff) > 0 && len(fwd) > 0:
			chain, elems = splitList(xff), splitElements(fwd)
		case len(xff) > 0:
			chain = splitList(xff)
			for _, n := range chain {
				elems = append(elems, "for="+Node(n))
			}
		case len(fwd) > 0:
			elems = splitElements(fwd)
			for _, v := range forValues(fwd) {
				if a, ok := parseNode(v); ok {
					v = a.String()
				} else if v == "" {
					v = "unknown"
				}
				chain = append(chain, v)
			}
		}
		if v := r.Header.Get("X-Forwarded-Proto"); v != "" {
			xproto = v
		}
		if v := r.Header.Get("X-Forwarded-Host"); v != "" {
			xhost = v
		}
	}

	out["X-Forwarded-For"] = []string{strings.Join(append(chain, peerIP), ", ")}
	out["X-Forwarded-Proto"] = []string{xproto}
	if xhost != "" {
		out["X-Forwarded-Host"] = []string{xhost}
	} else {
		delete(out, "X-Forwarded-Host")
	}
	el := "for=" + Node(peerIP)
	if r.Host != "" {
		el += ";host=" + Quote(r.Host)
	}
	el += ";proto=" + proto
	out["Forwarded"] = []string{strings.Join(append(elems, el), ", ")}
}

// Node is the value of a for= parameter of Forwarded naming the address
// ip (RFC 7239 §6): an IPv4 address as it is, an IPv6 address bracketed
// and quoted ("[2001:db8::1]"), anything that is no IP "unknown".
func Node(ip string) string {
	a, ok := parseNode(ip)
	if !ok {
		return "unknown"
	}
	if a.Is6() {
		return `"[` + a.String() + `]"`
	}
	return a.String()
}

// Quote returns v as a Forwarded parameter value: as it is when it is a
// token (RFC 9110 §5.6.2), else a quoted string.
func Quote(v string) string {
	if v != "" && isToken(v) {
		return v
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// splitElements splits Forwarded header values into their elements
// (trimmed, as written), minding commas inside quoted strings.
func splitElements(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, el := range splitQuoted(v, ',') {
			if el = strings.TrimSpace(el); el != "" {
				out = append(out, el)
			}
		}
	}
	return out
}

// forValues returns the for= value of each element of Forwarded header
// values, unquoted; "" for an element without one.
func forValues(vals []string) []string {
	var out []string
	for _, el := range splitElements(vals) {
		v := ""
		for _, pair := range splitQuoted(el, ';') {
			k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
				v = unquote(strings.TrimSpace(val))
				break
			}
		}
		out = append(out, v)
	}
	return out
}

// splitQuoted splits s at sep outside quoted strings.
func splitQuoted(s string, sep byte) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unquote undoes Quote; a value that is not quoted is returned as it is.
func unquote(v string) string {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return v
	}
	v = v[1 : len(v)-1]
	if strings.IndexByte(v, '\\') < 0 {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
