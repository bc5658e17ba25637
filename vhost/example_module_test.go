package vhost_test

// This file is a whole module. It shows that adding a vhost block type
// takes one small folder and no change to the core: register an Info from
// init, decode the block with the module's own schema, and return a
// handler from Wrap. Link it into cmd/httpd with a blank import.

import (
	"context"
	"io"
	"net/http"

	"github.com/hashicorp/hcl/v2"

	"httpd/registry"
)

func init() {
	registry.Register(registry.Info{
		Name:   "hello",
		Labels: []string{"url_prefix"},
		Phase:  registry.PhaseMount,
		Doc:    "answer with a greeting",
		New:    func() registry.Module { return new(hello) },
	})
}

// hello is one block: hello "/hi" { greeting = "Hello" }.
type hello struct{ greeting string }

func (h *hello) Decode(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	c, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "greeting"}}})
	var ds hcl.Diagnostics
	h.greeting, ds = registry.String(c, "greeting", dc.Eval, "Hello")
	return append(diags, ds...)
}

func (h *hello) Provision(ctx context.Context, env *registry.Env) error { return nil }

func (h *hello) Wrap(next registry.Handler) registry.Handler {
	return registry.MountFunc(func(w http.ResponseWriter, r *http.Request, m registry.Mount) error {
		_, err := io.WriteString(w, h.greeting+", "+r.URL.Path+"\n")
		return err
	})
}
