package header

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"httpd/registry"
)

func init() {
	registry.Register(registry.Info{
		Name:   "header",
		Labels: []string{"url_prefix"},
		Phase:  registry.PhaseHeader,
		Doc:    "set, add and remove response headers under a URL prefix",
		New:    func() registry.Module { return new(Module) },
	})
}

var schema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "set"}, {Name: "add"}, {Name: "remove"}},
}

// field is one header of a set or add map.
type field struct {
	name   string // canonical
	value  string
	values []string // {value}, shared by every response: set assigns it
}

// Module is one header block: responses to requests under its URL prefix
// (the block's label) lose the headers of remove, get those of set in
// place of any they had, and get those of add appended.
type Module struct {
	prefix string
	set    []field  // by name
	add    []field  // by name
	remove []string // canonical, as configured
}

// Decode reads the block: set and add are maps of header names to values,
// remove a list of header names. Names must be HTTP tokens and values
// must not hold CR, LF or NUL.
func (m *Module) Decode(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if len(b.Labels) > 0 {
		m.prefix = b.Labels[0]
		if d := registry.CheckPrefix(b); d != nil {
			diags = append(diags, d)
		}
	}
	content, d := b.Body.Content(schema)
	diags = append(diags, d...)

	m.set, d = fields(content, "set", dc.Eval)
	diags = append(diags, d...)
	m.add, d = fields(content, "add", dc.Eval)
	diags = append(diags, d...)

	names, d := registry.StringList(content, "remove", dc.Eval, nil)
	diags = append(diags, d...)
	if !d.HasErrors() {
		attr := content.Attributes["remove"]
		for _, n := range names {
			if why := checkName(n); why != "" {
				diags = append(diags, registry.AttrError(attr, "Invalid header name in remove",
					fmt.Sprintf("%q %s: a header name is letters, digits and !#$%%&'*+-.^_`|~, like \"X-Powered-By\".", n, why)))
				continue
			}
			m.remove = append(m.remove, http.CanonicalHeaderKey(n))
		}
	}

	if len(content.Attributes) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Empty header block",
			Detail:   fmt.Sprintf("The header block %q has no set, add or remove, so it changes nothing.", m.prefix),
			Subject:  b.DefRange.Ptr(),
		})
	}
	return diags
}

// fields reads the map attribute name, checking its names and values, in
// the order of the names.
func fields(content *hcl.BodyContent, name string, ectx *hcl.EvalContext) ([]field, hcl.Diagnostics) {
	kv, diags := registry.StringMap(content, name, ectx)
	if diags.HasErrors() || len(kv) == 0 {
		return nil, diags
	}
	attr := content.Attributes[name]
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []field
	for _, k := range keys {
		v := kv[k]
		if why := checkName(k); why != "" {
			diags = append(diags, registry.AttrError(attr, "Invalid header name in "+name,
				fmt.Sprintf("%q %s: a header name is letters, digits and !#$%%&'*+-.^_`|~, like \"X-Frame-Options\".", k, why)))
			continue
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			diags = append(diags, registry.AttrError(attr, "Invalid header value in "+name,
				fmt.Sprintf("The value of %q holds a line break or NUL, which would split the response: write it on one line.", k)))
			continue
		}
		// values has capacity one, so an append to the response's
		// field copies it rather than writing into the shared array.
		out = append(out, field{name: http.CanonicalHeaderKey(k), value: v, values: []string{v}})
	}
	return out, diags
}

// checkName says why n is not a header name, or "".
func checkName(n string) string {
	if n == "" {
		return "is empty"
	}
	for i := 0; i < len(n); i++ {
		if !isTokenChar(n[i]) {
			return fmt.Sprintf("holds %q, which is not a token character", n[i])
		}
	}
	return ""
}

// isTokenChar reports whether c may appear in an HTTP token (RFC 9110,
// section 5.6.2).
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// Provision has nothing to acquire.
func (m *Module) Provision(ctx context.Context, env *registry.Env) error { return nil }

// Wrap returns the stage. A request whose path is not under the prefix
// goes to next with its ResponseWriter untouched. Otherwise the rules
// join those of the header stages outside this one, on one writer that
// applies them all, shorter prefix first, when the response leaves.
func (m *Module) Wrap(next registry.Handler) registry.Handler {
	return registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if !registry.MatchPrefix(m.prefix, r.URL.Path) {
			return next.ServeHTTP(w, r)
		}
		if hw, ok := w.(*writer); ok && !hw.applied {
			hw.push(m)
			return next.ServeHTTP(w, r)
		}
		hw := &writer{ResponseWriter: w}
		hw.rules = hw.first[:0]
		hw.push(m)
		err := next.ServeHTTP(hw, r)
		if err == nil {
			// Nothing written: the server sends 200 with these headers.
			hw.apply()
		}
		return err
	})
}

// apply changes h by the block's rules: remove, then set, then add.
func (m *Module) apply(h http.Header) {
	for _, n := range m.remove {
		delete(h, n)
	}
	for _, f := range m.set {
		h[f.name] = f.values
	}
	for _, f := range m.add {
		h[f.name] = append(h[f.name], f.value)
	}
}

// writer applies the rules of the matching header blocks to the header
// of the response as it leaves: at WriteHeader with a final status, or at
// the first Write, ReadFrom or Flush.
type writer struct {
	http.ResponseWriter
	rules   []*Module // shorter prefix first
	first   [2]*Module
	applied bool
}

// push adds m's rules after those of prefixes as long or shorter.
func (w *writer) push(m *Module) {
	i := len(w.rules)
	for i > 0 && len(w.rules[i-1].prefix) > len(m.prefix) {
		i--
	}
	w.rules = append(w.rules, nil)
	copy(w.rules[i+1:], w.rules[i:])
	w.rules[i] = m
}

func (w *writer) apply() {
	if w.applied {
		return
	}
	w.applied = true
	h := w.ResponseWriter.Header()
	for _, m := range w.rules {
		m.apply(h)
	}
}

// WriteHeader applies the rules before a final status; an informational
// one (1xx other than 101) leaves them for the final response.
func (w *writer) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.apply()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writer) Write(p []byte) (int, error) {
	w.apply()
	return w.ResponseWriter.Write(p)
}

// ReadFrom passes src to the underlying writer's ReadFrom, so a file
// still goes out with sendfile.
func (w *writer) ReadFrom(src io.Reader) (int64, error) {
	w.apply()
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writeOnly{w.ResponseWriter}, src)
}

// Flush applies the rules and flushes the underlying writer.
func (w *writer) Flush() {
	w.apply()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writeOnly hides every method of a writer but Write, so io.Copy cannot
// call ReadFrom again.
type writeOnly struct{ io.Writer }

// Explain says which headers the block changes on the response, or that
// the path is not under its prefix.
func (m *Module) Explain(r *http.Request, _ registry.Mount) registry.Explanation {
	if !registry.MatchPrefix(m.prefix, r.URL.Path) {
		return registry.Explanation{Says: fmt.Sprintf("leaves the response headers alone, as %s is not under %s", r.URL.Path, m.prefix)}
	}
	return registry.Explanation{Says: "on the way out, " + m.summary() + " on the response"}
}

// summary lists what the block does, e.g. "removes X-Powered-By, sets
// Strict-Transport-Security and adds Link".
func (m *Module) summary() string {
	var parts []string
	if len(m.remove) > 0 {
		parts = append(parts, "removes "+strings.Join(m.remove, ", "))
	}
	if len(m.set) > 0 {
		parts = append(parts, "sets "+names(m.set))
	}
	if len(m.add) > 0 {
		parts = append(parts, "adds "+names(m.add))
	}
	switch len(parts) {
	case 0:
		return "changes no header"
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

func names(fs []field) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = f.name
	}
	return strings.Join(s, ", ")
}

// Describe says what the block does, for httpd -S.
func (m *Module) Describe() string {
	return fmt.Sprintf("header %s: %s", m.prefix, m.summary())
}

var (
	_ registry.Module    = (*Module)(nil)
	_ registry.Describer = (*Module)(nil)
	_ registry.Explainer = (*Module)(nil)
	_ io.ReaderFrom      = (*writer)(nil)
	_ http.Flusher       = (*writer)(nil)
)
