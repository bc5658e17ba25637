package reverseproxy

import (
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strings"

	"httpd/internal/gateway"
	"httpd/registry"
)

// Explain says which upstreams the request may go to, by which policy,
// and the URL it would have there. Upstream health is not known without
// running: every upstream counts as healthy.
func (m *Module) Explain(r *http.Request, mt registry.Mount) registry.Explanation {
	if len(m.upstreams) == 0 {
		return registry.Explanation{Says: "has no upstream (502)", Status: http.StatusBadGateway, Ends: true}
	}
	in := *r.URL
	if m.StripPrefix {
		in.Path, in.RawPath = mt.Path, ""
		if in.Path == "" {
			in.Path = "/"
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "passes it to %s %s", plural(len(m.upstreams), "upstream", "upstreams"), strings.Join(m.To, ", "))
	if len(m.upstreams) > 1 {
		fmt.Fprintf(&b, " by %s: %s", m.Policy, m.policyWords(r))
	}
	u := m.upstreams[m.explainPick(r)]
	t := m.target(&in, u)
	target := t.String()
	if u.network == "unix" {
		target = fmt.Sprintf("%s (over the socket %s)", t.RequestURI(), u.addr)
	}
	fmt.Fprintf(&b, "; %s would get %s", u.to, target)
	if m.StripPrefix {
		fmt.Fprintf(&b, " (strip_prefix drops %s)", mt.ScriptName)
	}
	host := r.Host
	if !m.PreserveHost {
		host = u.hostHeader
	}
	fmt.Fprintf(&b, " with Host %s and X-Forwarded-For", host)
	if m.ResponseHeaderTimeout > 0 {
		fmt.Fprintf(&b, "; 504 if no response header comes within %s", m.ResponseHeaderTimeout)
	}
	b.WriteString("; the upstream chooses the status (502 if none can be reached)")
	return registry.Explanation{Says: b.String(), Ends: true}
}

// policyWords says how the policy picks an upstream for r.
func (m *Module) policyWords(r *http.Request) string {
	switch m.Policy {
	case First:
		return "the first one that is up takes every request"
	case IPHash:
		return "each client address always goes to the same one"
	case LeastConn:
		return "the one with the fewest requests in flight takes it"
	}
	return "each request goes to the next one in turn"
}

// explainPick is the upstream the policy picks for r when every upstream
// is healthy and idle, as for the first request.
func (m *Module) explainPick(r *http.Request) int {
	n := len(m.upstreams)
	switch m.Policy {
	case IPHash:
		ip, _ := gateway.RemoteAddrPort(r)
		h := fnv.New32a()
		_, _ = io.WriteString(h, ip)
		return int(h.Sum32() % uint32(n))
	case LeastConn:
		return 1 % n
	}
	return 0
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "the " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

var _ registry.Explainer = (*Module)(nil)
