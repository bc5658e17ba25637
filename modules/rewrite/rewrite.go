package rewrite

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"httpd/registry"
)

func init() {
	registry.Register(registry.Info{
		Name:   "rewrite",
		Labels: []string{"pattern"},
		Phase:  registry.PhaseRewrite,
		Doc:    "rewrite paths matching an RE2 regexp, internally or as a redirect",
		New:    func() registry.Module { return new(Module) },
	})
}

var schema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "to", Required: false}, {Name: "status"}},
}

// statuses are the statuses a redirecting rule may answer with.
var statuses = map[int]bool{301: true, 302: true, 303: true, 307: true, 308: true}

// Module is one rewrite block: one rule.
type Module struct {
	pattern  string
	re       *regexp.Regexp
	lead     string // a literal every matching path starts with, or ""
	to       string // as configured
	toPath   string // to before its first "?"
	toQuery  string // to after its first "?"
	hasQuery bool   // to has a "?"
	status   int    // 0: internal rewrite
	where    string // file:line of the block, for the loop message
	env      *registry.Env
}

// Decode reads the block: the label must compile as an RE2 regexp, to is
// required and may refer only to groups the pattern has, status (absent
// for an internal rewrite) is 301, 302, 303, 307 or 308. The to of an
// internal rewrite must be a path starting with "/".
func (m *Module) Decode(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	m.where = fmt.Sprintf("%s:%d", b.DefRange.Filename, b.DefRange.Start.Line)
	if len(b.Labels) > 0 {
		m.pattern = b.Labels[0]
		re, err := regexp.Compile(m.pattern)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid rewrite pattern",
				Detail:   fmt.Sprintf("%q is not an RE2 regular expression: %s.", m.pattern, err),
				Subject:  b.LabelRanges[0].Ptr(),
			})
		}
		m.re = re
		m.lead = leadingLiteral(m.pattern, re)
	}
	content, d := b.Body.Content(schema)
	diags = append(diags, d...)
	if content == nil {
		return diags
	}

	if _, ok := content.Attributes["status"]; ok {
		status, d := registry.Int(content, "status", dc.Eval, 0, 100, 599)
		diags = append(diags, d...)
		if attr := content.Attributes["status"]; !d.HasErrors() && !statuses[status] {
			diags = append(diags, registry.AttrError(attr, "Invalid value for status",
				fmt.Sprintf("%d is not a redirect status: use 301, 302, 303, 307 or 308, or leave status out for an internal rewrite.", status)))
		}
		m.status = status
	}

	to, d := registry.String(content, "to", dc.Eval, "")
	diags = append(diags, d...)
	toAttr, hasTo := content.Attributes["to"]
	switch {
	case d.HasErrors():
		return diags
	case !hasTo:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing required argument",
			Detail:   fmt.Sprintf("The rewrite %q needs to, the path (or, with status, the URL) it sends matching requests to.", m.pattern),
			Subject:  b.DefRange.Ptr(),
		})
		return diags
	case strings.ContainsAny(to, " \t\r\n\x00"):
		diags = append(diags, registry.AttrError(toAttr, "Invalid rewrite target",
			fmt.Sprintf("%q holds spaces or control characters: write them percent-encoded.", to)))
	case m.status == 0 && !strings.HasPrefix(to, "/"):
		diags = append(diags, registry.AttrError(toAttr, "Invalid rewrite target",
			fmt.Sprintf("%q does not start with \"/\": an internal rewrite goes to a path of this vhost; add status to redirect elsewhere.", to)))
	case m.status == 0 && strings.Contains(to, "#"):
		diags = append(diags, registry.AttrError(toAttr, "Invalid rewrite target",
			fmt.Sprintf("%q has a fragment, which an internal rewrite cannot use.", to)))
	}
	if m.re != nil {
		if why := checkRefs(to, m.re); why != "" {
			diags = append(diags, registry.AttrError(toAttr, "Invalid group reference",
				fmt.Sprintf("%q %s.", to, why)))
		}
	}
	m.to = to
	m.toPath, m.toQuery, m.hasQuery = strings.Cut(to, "?")
	return diags
}

// leadingLiteral returns the literal that every match of the pattern
// starts with when the pattern is anchored at the start of the path
// ("^/old/(.*)$" gives "/old/"), so that a path without it skips the
// regexp; "" when there is none or the pattern is not anchored.
func leadingLiteral(pattern string, re *regexp.Regexp) string {
	if re == nil {
		return ""
	}
	lit, _ := re.LiteralPrefix()
	if lit == "" {
		return ""
	}
	sr, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return ""
	}
	sr = sr.Simplify()
	if sr.Op == syntax.OpConcat && len(sr.Sub) > 0 && sr.Sub[0].Op == syntax.OpBeginText {
		return lit
	}
	return ""
}

// checkRefs says why a template refers to a group re lacks, or "". It
// reads the template as regexp.Expand does: $name or ${name}, where name
// is a run of letters, digits and underscores; $$ is a "$".
func checkRefs(tmpl string, re *regexp.Regexp) string {
	for len(tmpl) > 0 {
		i := strings.IndexByte(tmpl, '$')
		if i < 0 {
			break
		}
		tmpl = tmpl[i:]
		if len(tmpl) > 1 && tmpl[1] == '$' {
			tmpl = tmpl[2:]
			continue
		}
		name, rest, ok := extract(tmpl)
		if !ok {
			tmpl = tmpl[1:] // a "$" Expand keeps as it is
			continue
		}
		tmpl = rest
		if n, err := strconv.Atoi(name); err == nil && isDigits(name) {
			if n > re.NumSubexp() {
				return fmt.Sprintf("refers to group %d but the pattern has %d", n, re.NumSubexp())
			}
			continue
		}
		if re.SubexpIndex(name) < 0 {
			if isDigits(name[:1]) {
				return fmt.Sprintf("refers to a group named %q, which the pattern lacks: write ${%s}%s for group %s followed by text",
					name, leadingDigits(name), name[len(leadingDigits(name)):], leadingDigits(name))
			}
			return fmt.Sprintf("refers to a group named %q, which the pattern lacks", name)
		}
	}
	return ""
}

// extract reads a reference at the start of s, which starts with "$".
func extract(s string) (name, rest string, ok bool) {
	s = s[1:]
	brace := false
	if len(s) > 0 && s[0] == '{' {
		brace = true
		s = s[1:]
	}
	i := 0
	for i < len(s) {
		c := s[i]
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			break
		}
		i++
	}
	if i == 0 {
		return "", "", false
	}
	name = s[:i]
	if brace {
		if i >= len(s) || s[i] != '}' {
			return "", "", false
		}
		i++
	}
	return name, s[i:], true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// Provision keeps the env, for Env.Pipeline.
func (m *Module) Provision(ctx context.Context, env *registry.Env) error {
	m.env = env
	return nil
}

// Wrap returns the stage: a request whose path the pattern matches is
// redirected, or runs the pipeline again on the new path; every other
// request goes to next.
func (m *Module) Wrap(next registry.Handler) registry.Handler {
	return registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if !strings.HasPrefix(r.URL.Path, m.lead) {
			return next.ServeHTTP(w, r) // cannot match: skip the regexp
		}
		idx := m.re.FindStringSubmatchIndex(r.URL.Path)
		if idx == nil {
			return next.ServeHTTP(w, r)
		}
		if m.status != 0 {
			registry.WriteRedirect(w, r, m.status, m.location(r.URL, idx))
			return nil
		}
		path, query := m.Rewrite(r.URL, idx)
		r2, n := registry.Reentered(r)
		if n > registry.MaxReentries {
			return registry.Errorf(http.StatusInternalServerError, "rewrite: loop: %s → %s after %d rewrites (%s %q)",
				r.URL.Path, path, n-1, m.where, m.pattern)
		}
		u := *r.URL
		u.Path, u.RawPath, u.RawQuery = path, "", query
		r2.URL = &u
		return m.env.Pipeline.ServeHTTP(w, r2)
	})
}

// Rewrite returns the new path (unescaped) and raw query of an internal
// rewrite of u, whose path the pattern matched at idx. A query in to
// replaces u's; without one u's query is kept. Groups go into the query
// query-escaped.
func (m *Module) Rewrite(u *url.URL, idx []int) (path, query string) {
	path = string(m.re.ExpandString(nil, m.toPath, u.Path, idx))
	path = oneLeadingSlash(path)
	query = u.RawQuery
	if m.hasQuery {
		src, qidx := escapeGroups(u.Path, idx, url.QueryEscape)
		query = string(m.re.ExpandString(nil, m.toQuery, src, qidx))
	}
	return path, query
}

// location returns the Location of a redirect of u, whose path the
// pattern matched at idx: to with the groups path-escaped (query-escaped
// in its query), and u's query when to has none.
func (m *Module) location(u *url.URL, idx []int) string {
	src, pidx := escapeGroups(u.Path, idx, escapePath)
	loc := string(m.re.ExpandString(nil, m.toPath, src, pidx))
	if strings.HasPrefix(m.toPath, "/") {
		loc = oneLeadingSlash(loc)
	}
	switch {
	case m.hasQuery:
		src, qidx := escapeGroups(u.Path, idx, url.QueryEscape)
		loc += "?" + string(m.re.ExpandString(nil, m.toQuery, src, qidx))
	case u.RawQuery != "":
		loc += "?" + u.RawQuery
	}
	return loc
}

// oneLeadingSlash turns leading slashes (and backslashes after the
// first slash) into one "/", so that a path never reads as "//host".
func oneLeadingSlash(p string) string {
	if len(p) < 2 || p[0] != '/' || (p[1] != '/' && p[1] != '\\') {
		return p
	}
	return "/" + strings.TrimLeft(p, "/\\")
}

func escapePath(s string) string { return (&url.URL{Path: s}).EscapedPath() }

// escapeGroups returns a source string holding the escaped groups of the
// match idx in s, and their indices in it, for ExpandString.
func escapeGroups(s string, idx []int, esc func(string) string) (string, []int) {
	var b strings.Builder
	out := make([]int, len(idx))
	for i := 0; i+1 < len(idx); i += 2 {
		if idx[i] < 0 {
			out[i], out[i+1] = -1, -1
			continue
		}
		out[i] = b.Len()
		b.WriteString(esc(s[idx[i]:idx[i+1]]))
		out[i+1] = b.Len()
	}
	return b.String(), out
}

// Explain says whether the rule rewrites or redirects r, and where to.
func (m *Module) Explain(r *http.Request, _ registry.Mount) registry.Explanation {
	if m.re == nil {
		return registry.Explanation{Says: "has no usable pattern"}
	}
	idx := m.re.FindStringSubmatchIndex(r.URL.Path)
	if idx == nil {
		return registry.Explanation{Says: fmt.Sprintf("leaves the path alone: %q does not match it", m.pattern)}
	}
	if m.status != 0 {
		loc := m.location(r.URL, idx)
		return registry.Explanation{
			Says:   fmt.Sprintf("redirects it to %s with %d (rewrite %q)", loc, m.status, m.pattern),
			Status: m.status,
			Ends:   true,
		}
	}
	path, query := m.Rewrite(r.URL, idx)
	target := path
	if query != "" {
		target += "?" + query
	}
	return registry.Explanation{
		Says: fmt.Sprintf("rewrites it to %s and runs the pipeline again (rewrite %q)", target, m.pattern),
		Path: path,
	}
}

// Describe says what the rule does, for httpd -S.
func (m *Module) Describe() string {
	if m.status != 0 {
		return fmt.Sprintf("rewrite %s -> %s (%d)", m.pattern, m.to, m.status)
	}
	return fmt.Sprintf("rewrite %s -> %s (internal)", m.pattern, m.to)
}

var (
	_ registry.Module    = (*Module)(nil)
	_ registry.Describer = (*Module)(nil)
	_ registry.Explainer = (*Module)(nil)
)
