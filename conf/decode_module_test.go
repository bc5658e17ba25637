package conf

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"httpd/registry"
)

// probe is a module with a required path and an optional size, whose
// Validate complains, like a careless one might, about every path that is
// not "ok", also the empty one it is left with when Decode failed.
type probe struct {
	defRange, pathRange hcl.Range
	path                string
}

func (p *probe) Decode(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	p.defRange = b.DefRange
	c, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "path", Required: true}, {Name: "size"},
	}})
	var ds hcl.Diagnostics
	p.path, ds = registry.String(c, "path", dc.Eval, "")
	diags = append(diags, ds...)
	if a, ok := c.Attributes["path"]; ok {
		p.pathRange = a.Expr.Range()
	}
	_, ds = registry.Size(c, "size", dc.Eval, 0)
	return append(diags, ds...)
}

func (p *probe) Validate(dc *registry.DecodeContext) hcl.Diagnostics {
	if p.path == "ok" {
		return nil
	}
	rng := p.pathRange
	if rng.Filename == "" {
		rng = p.defRange
	}
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Bad path", Subject: rng.Ptr()}}
}

func (p *probe) Provision(context.Context, *registry.Env) error { return nil }
func (p *probe) Wrap(next registry.Handler) registry.Handler    { return next }

// TestConfDecodeModule: Decode and Validate diagnostics of a block come
// in one pass, without Validate repeating what Decode already said.
func TestConfDecodeModule(t *testing.T) {
	tests := []struct {
		name, body string
		validate   bool
		want       []string // "line:col summary", in order
	}{
		{"valid", `path = "ok"`, true, nil},
		{"validate only", `path = "bad"`, true, []string{"2:10 Bad path"}},
		{"decode and validate errors together", "path = \"bad\"\n  size = \"lots\"", true,
			[]string{"3:10 Invalid size for size", "2:10 Bad path"}},
		{"validate repeats a bad attribute", `path = ["x"]`, true, []string{"2:10 Invalid value for path"}},
		{"validate repeats a missing attribute", `size = 1`, true, []string{"1:13 Missing required argument"}},
		{"missing attribute and another error", `size = "lots"`, true,
			[]string{"1:13 Missing required argument", "2:10 Invalid size for size"}},
		{"no validate", `path = "bad"`, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "probe \"/p/\" {\n  " + tt.body + "\n}\n"
			f, diags := hclsyntax.ParseConfig([]byte(src), "t.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			b := f.Body.(*hclsyntax.Body).Blocks[0].AsHCLBlock()
			dc := &registry.DecodeContext{ServerRoot: "/srv", VHost: "example.com"}
			var got []string
			for _, d := range decodeModule(new(probe), b, dc, tt.validate) {
				got = append(got, fmt.Sprintf("%d:%d %s", d.Subject.Start.Line, d.Subject.Start.Column, d.Summary))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
