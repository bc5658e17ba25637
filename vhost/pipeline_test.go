package vhost_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"httpd/registry"
)

// stamp is a test outbound stage: it sets X-Stamp on every response on
// its way out and counts the requests it saw.
//
//	stamp {}
type stamp struct{}

// reenter is a test stage that runs the pipeline again on /tag once,
// or forever on /loop.
//
//	reenter {}
type reenter struct{ env *registry.Env }

func init() {
	registry.Register(registry.Info{
		Name:  "stamp",
		Phase: registry.PhaseHeader,
		Doc:   "set X-Stamp on every response (tests)",
		New:   func() registry.Module { return new(stamp) },
	})
	registry.Register(registry.Info{
		Name:  "reenter",
		Phase: registry.PhaseRewrite,
		Doc:   "run the pipeline again (tests)",
		New:   func() registry.Module { return new(reenter) },
	})
}

func (*stamp) Decode(b *hcl.Block, _ *registry.DecodeContext) hcl.Diagnostics {
	_, diags := b.Body.Content(&hcl.BodySchema{})
	return diags
}
func (*stamp) Provision(context.Context, *registry.Env) error { return nil }

type stampWriter struct {
	http.ResponseWriter
	n int
}

func (w *stampWriter) WriteHeader(code int) {
	w.Header().Add("X-Stamp", "yes")
	w.n++
	w.ResponseWriter.WriteHeader(code)
}

func (w *stampWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *stampWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (*stamp) Wrap(next registry.Handler) registry.Handler {
	return registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return next.ServeHTTP(&stampWriter{ResponseWriter: w}, r)
	})
}

func (*reenter) Decode(b *hcl.Block, _ *registry.DecodeContext) hcl.Diagnostics {
	_, diags := b.Body.Content(&hcl.BodySchema{})
	return diags
}
func (e *reenter) Provision(_ context.Context, env *registry.Env) error { e.env = env; return nil }

func (e *reenter) Wrap(next registry.Handler) registry.Handler {
	return registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		var to string
		switch r.URL.Path {
		case "/first":
			to = "/tag"
		case "/loop":
			to = "/loop"
		default:
			return next.ServeHTTP(w, r)
		}
		r2, n := registry.Reentered(r)
		if n > registry.MaxReentries {
			return registry.Errorf(http.StatusInternalServerError, "rewrite loop on %s", to)
		}
		r2.URL.Path = to
		return e.env.Pipeline.ServeHTTP(w, r2)
	})
}

// TestVHostPipelineOutbound checks that outbound stages see every
// response once, error pages included, and that a re-entered request
// passes them only once.
func TestVHostPipelineOutbound(t *testing.T) {
	t.Parallel()
	ts := startServer(t, listen+`
vhost "p.test" {
  stamp {}
  reenter {}
  probe "/tag"  { tag = "tagged" }
  probe "/fail" { mode = "fail" }
}`)
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/tag", 200, "tagged"},
		{"/first", 200, "tagged"},
		{"/fail", 403, "403 Forbidden"},
		{"/nothing", 404, "404 Not Found"},
		{"/loop", 500, "500 Internal Server Error"},
	} {
		req, _ := http.NewRequest("GET", "http://"+ts.addr+tc.path, nil)
		req.Host = "p.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", tc.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.body) {
			t.Errorf("GET %s = %d %q, want %d with %q", tc.path, resp.StatusCode, b, tc.status, tc.body)
		}
		if got := resp.Header.Values("X-Stamp"); len(got) != 1 {
			t.Errorf("GET %s: X-Stamp = %q, want one", tc.path, got)
		}
	}
	waitFor(t, "the loop's log line", func() bool { return strings.Contains(ts.log.String(), "rewrite loop on /loop") })
}
