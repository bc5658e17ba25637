package access

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"httpd/internal/forwarded"
	"httpd/registry"
)

func init() {
	registry.Register(registry.Info{
		Name:   "access",
		Labels: []string{"url_prefix"},
		Phase:  registry.PhaseAccess,
		Doc:    "allow or deny client networks under a URL prefix (403)",
		New:    func() registry.Module { return new(Module) },
	})
}

var schema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "allow"}, {Name: "deny"}},
}

// rule is one entry of allow or deny.
type rule struct {
	net  netip.Prefix // masked; IPv4 for IPv4 and IPv4-mapped entries
	text string       // as configured
	at   string       // file:line of the entry
}

// Module is one access block: requests under its URL prefix (the block's
// label) pass only when the client's address is in no deny network and,
// when allow is not empty, in an allow network.
type Module struct {
	prefix  string
	allow   []rule
	deny    []rule
	allowAt string // file:line of allow, for the 403 of an address it lacks
}

// Decode reads the block: allow and deny are lists of CIDRs or single
// addresses; at least one of them must be given.
func (m *Module) Decode(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	if len(b.Labels) > 0 {
		m.prefix = b.Labels[0]
	}
	var diags hcl.Diagnostics
	if d := registry.CheckPrefix(b); d != nil {
		diags = append(diags, d)
	}
	content, d := b.Body.Content(schema)
	diags = append(diags, d...)
	var ds hcl.Diagnostics
	m.allow, ds = decodeList(content, "allow", dc)
	diags = append(diags, ds...)
	m.deny, ds = decodeList(content, "deny", dc)
	diags = append(diags, ds...)
	if a, ok := content.Attributes["allow"]; ok {
		m.allowAt = where(a.Range)
	}
	_, hasAllow := content.Attributes["allow"]
	_, hasDeny := content.Attributes["deny"]
	if !hasAllow && !hasDeny && !d.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing allow or deny",
			Detail: fmt.Sprintf("The access block %q needs allow, deny or both: lists of networks such as "+
				"allow = [\"10.0.0.0/8\", \"127.0.0.1\"] (everyone else gets 403) or deny = [\"192.0.2.0/24\"].", m.prefix),
			Subject: b.DefRange.Ptr(),
		})
	}
	return diags
}

// decodeList reads allow or deny. A bad entry's diagnostic points at the
// entry itself when the list is written out in the file.
func decodeList(content *hcl.BodyContent, name string, dc *registry.DecodeContext) ([]rule, hcl.Diagnostics) {
	var ectx *hcl.EvalContext
	if dc != nil {
		ectx = dc.Eval
	}
	list, diags := registry.StringList(content, name, ectx, nil)
	if diags.HasErrors() || len(list) == 0 {
		return nil, diags
	}
	a := content.Attributes[name]
	var elems []hclsyntax.Expression
	if tc, ok := a.Expr.(*hclsyntax.TupleConsExpr); ok && len(tc.Exprs) == len(list) {
		elems = tc.Exprs
	}
	var out []rule
	for i, s := range list {
		rng := a.Range
		if elems != nil {
			rng = elems[i].Range()
		}
		p, err := forwarded.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			d := registry.AttrError(a, "Invalid network in "+name,
				fmt.Sprintf("%q is not a CIDR or an IP address: write networks such as \"10.0.0.0/8\" or \"fd00::/8\", or single addresses such as \"127.0.0.1\".", s))
			d.Subject = rng.Ptr()
			diags = append(diags, d)
			continue
		}
		out = append(out, rule{net: p, text: s, at: where(rng)})
	}
	return out, diags
}

// where is "file:line" of a range.
func where(r hcl.Range) string { return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line) }

// Check decides for an address: the rule that denies it (nil and true
// when it passes). A deny entry wins; then a non-empty allow list must
// hold the address. An invalid address is in no network.
func (m *Module) Check(a netip.Addr) (denied string, ok bool) {
	for i := range m.deny {
		if a.IsValid() && m.deny[i].net.Contains(a) {
			return fmt.Sprintf("deny %q (%s)", m.deny[i].text, m.deny[i].at), false
		}
	}
	if len(m.allow) == 0 {
		return "", true
	}
	for i := range m.allow {
		if a.IsValid() && m.allow[i].net.Contains(a) {
			return "", true
		}
	}
	return fmt.Sprintf("allow, which does not hold it (%s)", m.allowAt), false
}

// allowedBy names the allow entry that lets a in, or says that nothing
// stops it.
func (m *Module) allowedBy(a netip.Addr) string {
	for i := range m.allow {
		if a.IsValid() && m.allow[i].net.Contains(a) {
			return fmt.Sprintf("allow %q (%s)", m.allow[i].text, m.allow[i].at)
		}
	}
	return "no deny entry and no allow list"
}

// Provision has nothing to acquire.
func (m *Module) Provision(ctx context.Context, env *registry.Env) error { return nil }

// stage is the handler of one or more adjacent access blocks of a vhost:
// the block with the longest prefix matching the path decides.
type stage struct {
	blocks []*Module // longest prefix first
	next   registry.Handler
}

// Wrap returns the stage. When next is the stage of another access
// block, the two become one stage, so that of all a vhost's access
// blocks only the most specific matching one decides, like Apache's most
// specific <Location>.
func (m *Module) Wrap(next registry.Handler) registry.Handler {
	s := &stage{blocks: []*Module{m}, next: next}
	if inner, ok := next.(*stage); ok {
		s.blocks = append(s.blocks, inner.blocks...)
		s.next = inner.next
		sort.SliceStable(s.blocks, func(i, j int) bool { return len(s.blocks[i].prefix) > len(s.blocks[j].prefix) })
	}
	return s
}

// ServeHTTP answers 403 when the deciding block denies the client, and
// passes the request on otherwise. It allocates nothing on the way on.
func (s *stage) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	for _, m := range s.blocks {
		if !registry.MatchPrefix(m.prefix, r.URL.Path) {
			continue
		}
		a, valid := forwarded.Addr(r.RemoteAddr)
		if rule, ok := m.Check(a); !ok {
			if valid {
				return registry.Errorf(http.StatusForbidden, "access: %s denied by %s", a, rule)
			}
			return registry.Errorf(http.StatusForbidden, "access: %q denied by %s", r.RemoteAddr, rule)
		}
		break
	}
	return s.next.ServeHTTP(w, r)
}

// Explain says whether the block lets the request's client in, and by
// which rule. It speaks for this block alone: of several blocks whose
// prefixes match, the longest decides.
func (m *Module) Explain(r *http.Request, _ registry.Mount) registry.Explanation {
	if !registry.MatchPrefix(m.prefix, r.URL.Path) {
		return registry.Explanation{Says: fmt.Sprintf("access %s does not apply: the path is outside the prefix", m.prefix)}
	}
	a, _ := forwarded.Addr(r.RemoteAddr)
	if rule, ok := m.Check(a); !ok {
		return registry.Explanation{
			Says:   fmt.Sprintf("access %s: client %s is denied by %s, so the answer is 403 Forbidden", m.prefix, r.RemoteAddr, rule),
			Status: http.StatusForbidden,
			Ends:   true,
		}
	}
	return registry.Explanation{Says: fmt.Sprintf("access %s: client %s is allowed by %s", m.prefix, r.RemoteAddr, m.allowedBy(a))}
}

// Describe says what the block does, for httpd -S.
func (m *Module) Describe() string {
	return fmt.Sprintf("access %s allow [%s] deny [%s]", m.prefix, texts(m.allow), texts(m.deny))
}

func texts(rs []rule) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.text
	}
	return strings.Join(s, ", ")
}

var (
	_ registry.Module    = (*Module)(nil)
	_ registry.Describer = (*Module)(nil)
	_ registry.Explainer = (*Module)(nil)
)
