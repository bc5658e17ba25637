package stats

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"httpd/internal/forwarded"
	"httpd/registry"
)

// Allow is the allow list of a status or metrics block: the networks
// whose clients may read the page. The client is r.RemoteAddr, which the
// listener has already set to the address a trusted proxy names
// (server.trusted_proxies), as for the access module and every gateway.
type Allow struct {
	set  *forwarded.Trusted // nil: nobody
	text []string
}

// DecodeAllow reads the required attribute allow of a status or metrics
// block: a list of CIDRs or single addresses. A bad entry's diagnostic
// points at the entry when the list is written out.
func DecodeAllow(b *hcl.Block, content *hcl.BodyContent, dc *registry.DecodeContext) (Allow, hcl.Diagnostics) {
	var ectx *hcl.EvalContext
	if dc != nil {
		ectx = dc.Eval
	}
	a, ok := content.Attributes["allow"]
	if !ok {
		return Allow{}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Missing required argument",
			Detail: fmt.Sprintf("The %s block needs allow, the networks that may read it, such as "+
				"allow = [\"127.0.0.1/32\", \"::1/128\"]; everyone else gets 403.", b.Type),
			Subject: b.DefRange.Ptr(),
		}}
	}
	list, diags := registry.StringList(content, "allow", ectx, nil)
	if diags.HasErrors() {
		return Allow{}, diags
	}
	var elems []hclsyntax.Expression
	if tc, ok := a.Expr.(*hclsyntax.TupleConsExpr); ok && len(tc.Exprs) == len(list) {
		elems = tc.Exprs
	}
	var prefixes []netip.Prefix
	for i, s := range list {
		p, err := forwarded.ParsePrefix(strings.TrimSpace(s))
		if err == nil && (!p.IsValid() || strings.Contains(s, "%")) {
			err = fmt.Errorf("%q has a zone", s)
		}
		if err != nil {
			d := registry.AttrError(a, "Invalid network in allow",
				fmt.Sprintf("%q is not a CIDR or an IP address: write networks such as \"127.0.0.1/32\" or \"fd00::/8\", or single addresses such as \"::1\".", s))
			if elems != nil {
				d.Subject = elems[i].Range().Ptr()
			}
			diags = append(diags, d)
			continue
		}
		prefixes = append(prefixes, p)
	}
	return Allow{set: forwarded.NewTrusted(prefixes), text: list}, diags
}

// Allows reports whether the client of r may read the page.
func (a Allow) Allows(r *http.Request) bool {
	ip, ok := clientAddr(r.RemoteAddr)
	return ok && a.set.Contains(ip)
}

// String lists the networks as configured.
func (a Allow) String() string { return strings.Join(a.text, ", ") }

// clientAddr parses RemoteAddr: "ip:port", or a bare IP where a trusted
// proxy named the client.
func clientAddr(remote string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr(), true
	}
	a, err := netip.ParseAddr(remote)
	return a, err == nil
}
