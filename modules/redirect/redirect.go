package redirect

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"httpd/registry"
)

func init() {
	registry.Register(registry.Info{
		Name:   "redirect",
		Labels: []string{"url_prefix"},
		Phase:  registry.PhaseRedirect,
		Doc:    "redirect a URL prefix elsewhere, or answer 410 Gone",
		New:    func() registry.Module { return new(Module) },
	})
}

var schema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "to"}, {Name: "status"}},
}

// DefaultStatus is the status of a redirect block without one: 302, as
// with Apache's Redirect.
const DefaultStatus = http.StatusFound

// statuses are the statuses a redirect block may answer with.
var statuses = map[int]bool{301: true, 302: true, 303: true, 307: true, 308: true, 410: true}

// Module is one redirect block: requests under its URL prefix (the
// block's label) are sent to `to` with the rest of their path and their
// query, or answered 410 Gone.
type Module struct {
	prefix    string
	escPrefix string // prefix as it appears in an escaped path
	to        string // as configured
	base      string // to without its query and fragment
	query     string // to's query, without "?"
	fragment  string // to's fragment, without "#"
	status    int
}

// Decode reads the block: status (default 302) is one of 301, 302, 303,
// 307, 308 or 410; to is required except with 410, where it must be
// absent, and is an absolute URL or a path starting with one "/".
func (m *Module) Decode(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	if len(b.Labels) > 0 {
		m.prefix = b.Labels[0]
		m.escPrefix = (&url.URL{Path: m.prefix}).EscapedPath()
	}
	content, diags := b.Body.Content(schema)

	status, d := registry.Int(content, "status", dc.Eval, DefaultStatus, 100, 599)
	diags = append(diags, d...)
	if attr, ok := content.Attributes["status"]; ok && !d.HasErrors() && !statuses[status] {
		diags = append(diags, registry.AttrError(attr, "Invalid value for status",
			fmt.Sprintf("%d is not a redirect status: use 301, 302, 303, 307 or 308, or 410 for Gone.", status)))
	}
	m.status = status

	to, d := registry.String(content, "to", dc.Eval, "")
	diags = append(diags, d...)
	toAttr, hasTo := content.Attributes["to"]
	switch {
	case d.HasErrors():
	case status == http.StatusGone && hasTo:
		diags = append(diags, registry.AttrError(toAttr, "Unexpected argument to",
			"A redirect with status 410 answers Gone and sends no Location: remove to."))
	case status == http.StatusGone:
	case !hasTo:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing required argument",
			Detail:   fmt.Sprintf("The redirect %q needs to, the URL or path it sends requests to.", m.prefix),
			Subject:  b.DefRange.Ptr(),
		})
	default:
		if why := checkTarget(to); why != "" {
			diags = append(diags, registry.AttrError(toAttr, "Invalid redirect target",
				fmt.Sprintf("%q %s: write an absolute URL such as \"https://example.com/new\" or a path such as \"/new\".", to, why)))
			break
		}
		m.setTarget(to)
		if strings.HasSuffix(m.prefix, "/") && !strings.HasSuffix(m.base, "/") {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Redirect target without trailing slash",
				Detail: fmt.Sprintf("The prefix %q ends with \"/\" but %q does not, so %q would go to %q: end both with \"/\" or neither.",
					m.prefix, to, m.prefix+"page", m.base+"page"),
				Subject: toAttr.Expr.Range().Ptr(),
			})
		}
	}
	return diags
}

// checkTarget says why to is not a usable redirect target, or "".
func checkTarget(to string) string {
	if strings.ContainsAny(to, " \t\r\n\x00\\") {
		return "holds spaces, control characters or backslashes"
	}
	u, err := url.Parse(to)
	if err != nil {
		return "is not a URL"
	}
	switch {
	case u.IsAbs() && u.Host != "":
		return ""
	case u.IsAbs():
		return "has no host"
	case strings.HasPrefix(to, "//"):
		return "has no scheme"
	case !strings.HasPrefix(to, "/"):
		return "is neither an absolute URL nor a path starting with \"/\""
	}
	return ""
}

// setTarget splits a checked target into base, query and fragment. A URL
// with a host and no path gets the path "/", so the rest of a request path
// can never extend the host name.
func (m *Module) setTarget(to string) {
	m.to = to
	base := to
	if i := strings.IndexByte(base, '#'); i >= 0 {
		base, m.fragment = base[:i], base[i+1:]
	}
	if i := strings.IndexByte(base, '?'); i >= 0 {
		base, m.query = base[:i], base[i+1:]
	}
	if u, err := url.Parse(base); err == nil && u.Host != "" && u.Path == "" {
		base += "/"
	}
	m.base = base
}

// Provision has nothing to acquire.
func (m *Module) Provision(ctx context.Context, env *registry.Env) error { return nil }

// Wrap returns the stage: a request whose path falls under the prefix
// (registry.MatchPrefix) is redirected, every other request goes to next.
// A path with a "." or ".." segment below the prefix is never redirected.
func (m *Module) Wrap(next registry.Handler) registry.Handler {
	return registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if !registry.MatchPrefix(m.prefix, r.URL.Path) || hasDotSegment(r.URL.Path[len(m.prefix):]) {
			return next.ServeHTTP(w, r)
		}
		if m.status == http.StatusGone {
			return registry.Errorf(http.StatusGone, "redirect %s: gone", m.prefix)
		}
		registry.WriteRedirect(w, r, m.status, m.Target(r.URL))
		return nil
	})
}

// Target returns the Location for a request URL under the prefix: to's
// path, then the rest of the request's escaped path, then to's query
// joined with the request's, then to's fragment. When to's path ends
// with "/", the rest loses its leading slashes, so a path target can never
// become "//host".
func (m *Module) Target(u *url.URL) string {
	esc := u.EscapedPath()
	var rest string
	if strings.HasPrefix(esc, m.escPrefix) {
		rest = esc[len(m.escPrefix):]
	} else {
		rest = (&url.URL{Path: u.Path[len(m.prefix):]}).EscapedPath()
	}
	if strings.HasSuffix(m.base, "/") {
		rest = strings.TrimLeft(rest, "/")
	}
	var b strings.Builder
	b.Grow(len(m.base) + len(rest) + len(m.query) + len(u.RawQuery) + len(m.fragment) + 3)
	b.WriteString(m.base)
	b.WriteString(rest)
	if m.query != "" || u.RawQuery != "" {
		b.WriteByte('?')
		b.WriteString(m.query)
		if m.query != "" && u.RawQuery != "" {
			b.WriteByte('&')
		}
		b.WriteString(u.RawQuery)
	}
	if m.fragment != "" {
		b.WriteByte('#')
		b.WriteString(m.fragment)
	}
	return b.String()
}

// hasDotSegment reports whether a slash-separated path has a "." or ".."
// segment.
func hasDotSegment(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// Describe says what the block does, for httpd -S.
func (m *Module) Describe() string {
	if m.status == http.StatusGone {
		return fmt.Sprintf("redirect %s (410 gone)", m.prefix)
	}
	return fmt.Sprintf("redirect %s -> %s (%d)", m.prefix, m.to, m.status)
}

var (
	_ registry.Module    = (*Module)(nil)
	_ registry.Describer = (*Module)(nil)
)
