package vhost

import (
	"net"
	"sort"
	"strings"
)

// hostTable picks a site for a host name on one listener: an exact name
// or alias first, then the longest matching "*." wildcard, then the
// listener's default.
type hostTable struct {
	exact     map[string]*site
	wildcards []wildcard // longest suffix first
	fallback  *site
	// hasDefault is set once a vhost with default = true claimed
	// fallback; until then the first vhost declared holds it.
	hasDefault bool
}

type wildcard struct {
	suffix string // ".example.org" for "*.example.org"
	site   *site
}

func newHostTable() *hostTable {
	return &hostTable{exact: map[string]*site{}}
}

func (t *hostTable) add(s *site, names []string, isDefault bool) {
	for _, n := range names {
		if strings.HasPrefix(n, "*.") {
			t.wildcards = append(t.wildcards, wildcard{suffix: n[1:], site: s})
		} else {
			t.exact[n] = s
		}
	}
	sort.SliceStable(t.wildcards, func(i, j int) bool { return len(t.wildcards[i].suffix) > len(t.wildcards[j].suffix) })
	switch {
	case isDefault:
		t.fallback, t.hasDefault = s, true
	case t.fallback == nil:
		t.fallback = s
	}
}

// match returns the site for a Host header value (or SNI name).
func (t *hostTable) match(host string) *site {
	if s, ok := t.exact[host]; ok { // fast path: the name is already normal
		return s
	}
	if s := t.matchName(host); s != nil {
		return s
	}
	return t.fallback
}

// normalizeHost drops the port and a trailing dot and lowercases, keeping
// IPv6 literals in brackets.
func normalizeHost(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			h = h[:i+1]
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if strings.Count(h, ":") == 1 {
			h = h[:i]
		} else if ip := net.ParseIP(strings.TrimRight(h, ".")); ip != nil {
			h = "[" + strings.TrimRight(h, ".") + "]" // a bare IPv6 literal, as in SNI-less checks
		}
	}
	// All trailing dots go, so that normalizing twice changes nothing.
	h = strings.TrimRight(h, ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// matchName is match without the default fallback.
func (t *hostTable) matchName(host string) *site {
	h := normalizeHost(host)
	if s, ok := t.exact[h]; ok {
		return s
	}
	for _, w := range t.wildcards {
		// "*.example.org" matches "a.example.org" and "a.b.example.org",
		// not "example.org".
		if len(h) > len(w.suffix) && strings.HasSuffix(h, w.suffix) {
			return w.site
		}
	}
	return nil
}
