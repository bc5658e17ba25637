package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/hashicorp/hcl/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"httpd/internal/stats"
	"httpd/registry"
)

func init() {
	registry.Register(registry.Info{
		Name:   "metrics",
		Labels: []string{"url_prefix"},
		Phase:  registry.PhaseMount,
		Doc:    "Prometheus metrics of the whole server for allowed clients",
		New:    func() registry.Module { return new(Module) },
	})
}

var schema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "allow"}},
}

// Module is one metrics block: the exposition at its URL prefix (the
// block's label), for the clients in allow.
type Module struct {
	prefix  string
	allow   stats.Allow
	log     *slog.Logger
	handler http.Handler
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

// Provision makes the block's registry: the server's collector, and the
// Go runtime's and the process's.
func (m *Module) Provision(ctx context.Context, env *registry.Env) error {
	m.log = env.Logger
	if m.log == nil {
		m.log = slog.Default()
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(NewCollector(stats.From(env.Shared))); err != nil {
		return fmt.Errorf("metrics %s: %w", m.prefix, err)
	}
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return fmt.Errorf("metrics %s: %w", m.prefix, err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return fmt.Errorf("metrics %s: %w", m.prefix, err)
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      logger{m.log},
		ErrorHandling: promhttp.ContinueOnError,
	})
	return nil
}

// logger gives promhttp's errors to slog.
type logger struct{ l *slog.Logger }

func (l logger) Println(v ...any) { l.l.Error("metrics: " + fmt.Sprint(v...)) }

// Wrap returns the exposition's handler.
func (m *Module) Wrap(next registry.Handler) registry.Handler {
	return registry.MountFunc(func(w http.ResponseWriter, r *http.Request, mt registry.Mount) error {
		if !m.allow.Allows(r) {
			return registry.Errorf(http.StatusForbidden, "metrics %s: client %s is not in allow [%s]", m.prefix, r.RemoteAddr, m.allow)
		}
		if mt.Path != "" && mt.Path != "/" {
			return registry.Errorf(http.StatusNotFound, "metrics %s: nothing at %q below the metrics", m.prefix, mt.Path)
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			return registry.Errorf(http.StatusMethodNotAllowed, "metrics %s: method %s", m.prefix, r.Method)
		}
		w.Header().Set("Cache-Control", "no-store")
		m.handler.ServeHTTP(w, r)
		return nil
	})
}

// Explain says who may read the metrics.
func (m *Module) Explain(r *http.Request, mt registry.Mount) registry.Explanation {
	if !m.allow.Allows(r) {
		return registry.Explanation{Says: fmt.Sprintf("metrics %s: client %s is not in allow [%s], so the answer is 403 Forbidden", m.prefix, r.RemoteAddr, m.allow),
			Status: http.StatusForbidden, Ends: true}
	}
	return registry.Explanation{Says: fmt.Sprintf("metrics %s answers with the server's Prometheus metrics (allow [%s])", m.prefix, m.allow),
		Status: http.StatusOK, Ends: true}
}

// Describe says what the block serves, for httpd -S.
func (m *Module) Describe() string {
	return fmt.Sprintf("Prometheus metrics, allow [%s]", m.allow)
}

var (
	_ registry.Module    = (*Module)(nil)
	_ registry.Describer = (*Module)(nil)
	_ registry.Explainer = (*Module)(nil)
)
