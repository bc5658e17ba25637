package status

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"

	"httpd/certs"
	"httpd/internal/stats"
	"httpd/registry"
)

func init() {
	registry.Register(registry.Info{
		Name:   "status",
		Labels: []string{"url_prefix"},
		Phase:  registry.PhaseMount,
		Doc:    "the server-status page (HTML, or JSON with ?format=json) for allowed clients",
		New:    func() registry.Module { return new(Module) },
	})
}

var schema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "allow", Required: false}},
}

// Module is one status block: the page at its URL prefix (the block's
// label), for the clients in allow.
type Module struct {
	prefix string
	allow  stats.Allow
	stats  *stats.Server
	now    func() time.Time
	// fleet reports the storage and the session-ticket keys:
	// certs.Status, or a fake in tests.
	fleet func() certs.FleetStatus
}

// jsonReport is the JSON page: the server's report with the storage and
// session-ticket keys beside its fields.
type jsonReport struct {
	*stats.Report
	certs.FleetStatus
}

// Decode reads the block: allow, a list of networks, is required.
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
	if d.HasErrors() {
		return diags
	}
	var ds hcl.Diagnostics
	m.allow, ds = stats.DecodeAllow(b, content, dc)
	return append(diags, ds...)
}

// Provision finds the server's live state.
func (m *Module) Provision(ctx context.Context, env *registry.Env) error {
	m.stats = stats.From(env.Shared)
	m.now = time.Now
	m.fleet = certs.Status
	return nil
}

// Wrap returns the page's handler.
func (m *Module) Wrap(next registry.Handler) registry.Handler {
	return registry.MountFunc(func(w http.ResponseWriter, r *http.Request, mt registry.Mount) error {
		return m.serve(w, r, mt)
	})
}

// serve answers the page: 403 outside allow, 404 below the page, 405
// for methods other than GET and HEAD.
func (m *Module) serve(w http.ResponseWriter, r *http.Request, mt registry.Mount) error {
	if !m.allow.Allows(r) {
		return registry.Errorf(http.StatusForbidden, "status %s: client %s is not in allow [%s]", m.prefix, r.RemoteAddr, m.allow)
	}
	if mt.Path != "" && mt.Path != "/" {
		return registry.Errorf(http.StatusNotFound, "status %s: no page %q below the status page", m.prefix, mt.Path)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return registry.Errorf(http.StatusMethodNotAllowed, "status %s: method %s", m.prefix, r.Method)
	}
	rep := m.stats.Report(m.now())
	var fleet certs.FleetStatus
	if m.fleet != nil {
		fleet = m.fleet()
	}
	q := r.URL.Query()
	var buf bytes.Buffer
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	switch q.Get("format") {
	case "json":
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(jsonReport{Report: rep, FleetStatus: fleet}); err != nil {
			return fmt.Errorf("status %s: encode JSON: %w", m.prefix, err)
		}
		h.Set("Content-Type", "application/json")
	case "", "html":
		refresh, _ := strconv.Atoi(q.Get("refresh"))
		if err := render(&buf, rep, fleet, refresh); err != nil {
			return fmt.Errorf("status %s: render: %w", m.prefix, err)
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	default:
		return registry.Errorf(http.StatusBadRequest, "status %s: format %q: use html or json", m.prefix, q.Get("format"))
	}
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
	return nil
}

// Explain says who may read the page.
func (m *Module) Explain(r *http.Request, mt registry.Mount) registry.Explanation {
	if !m.allow.Allows(r) {
		return registry.Explanation{Says: fmt.Sprintf("status %s: client %s is not in allow [%s], so the answer is 403 Forbidden", m.prefix, r.RemoteAddr, m.allow),
			Status: http.StatusForbidden, Ends: true}
	}
	return registry.Explanation{Says: fmt.Sprintf("status %s shows the server's status page (allow [%s])", m.prefix, m.allow),
		Status: http.StatusOK, Ends: true}
}

// Describe says what the block serves, for httpd -S.
func (m *Module) Describe() string {
	return fmt.Sprintf("server status page, allow [%s]", m.allow)
}

var (
	_ registry.Module    = (*Module)(nil)
	_ registry.Describer = (*Module)(nil)
	_ registry.Explainer = (*Module)(nil)
)
