package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"httpd/registry"

	_ "httpd/modules/alias"
	_ "httpd/modules/cgi"
	_ "httpd/modules/redirect"
	_ "httpd/modules/static"
	_ "httpd/modules/wsgi"
)

var hclFence = regexp.MustCompile("(?s)```hcl\n(.*?)```")

// readmeOwner names the block type each module folder's README documents.
var readmeOwner = map[string]string{
	"alias": "alias", "cgi": "script_alias", "redirect": "redirect",
	"static": "static", "wsgi": "wsgi_script_alias",
}

// TestReadmeExamples decodes every hcl example of the README and the
// module READMEs: each module block with the module that owns it, which
// must accept it without a single diagnostic, so the documentation cannot
// drift from the code. An example is a whole config or a snippet of a
// vhost body; each example of a module's README shows that module's block.
func TestReadmeExamples(t *testing.T) {
	files, err := filepath.Glob("../modules/*/README.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../README.md")
	total := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		folder := filepath.Base(filepath.Dir(f))
		owner := readmeOwner[folder]
		if folder != ".." && owner == "" {
			t.Errorf("%s: no module named for this README in readmeOwner", f)
		}
		for i, m := range hclFence.FindAllSubmatch(src, -1) {
			total++
			name := fmt.Sprintf("%s/README.md#%d", folder, i)
			t.Run(name, func(t *testing.T) {
				file, diags := hclsyntax.ParseConfig(m[1], name, hcl.InitialPos)
				if diags.HasErrors() {
					t.Fatalf("example does not parse: %s\n%s", diags.Error(), m[1])
				}
				seen := map[string]bool{}
				for _, b := range moduleBlocks(file.Body.(*hclsyntax.Body)) {
					seen[b.Type] = true
					decodeExample(t, b)
				}
				if owner != "" && !seen[owner] {
					t.Errorf("example has no %s block:\n%s", owner, m[1])
				}
			})
		}
	}
	if total < 5 {
		t.Fatalf("found only %d hcl examples: is the fence pattern right?", total)
	}
}

// moduleBlocks returns the blocks of an example that belong in a vhost:
// those of every vhost block, and top-level ones other than the core's.
func moduleBlocks(body *hclsyntax.Body) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range body.Blocks {
		switch b.Type {
		case "server", "log", "acme":
		case "vhost":
			out = append(out, b.Body.Blocks...)
		default:
			out = append(out, b)
		}
	}
	return out
}

// decodeExample decodes one block with the module that owns it.
func decodeExample(t *testing.T, b *hclsyntax.Block) {
	t.Helper()
	if b.Type == "tls" {
		return // the core's own block
	}
	info, ok := registry.Lookup(b.Type)
	if !ok {
		t.Errorf("%s: block type %q is not compiled in (known: %s)", b.TypeRange, b.Type, strings.Join(registry.Names(), ", "))
		return
	}
	dc := &registry.DecodeContext{ServerRoot: "/srv", DocumentRoot: "/srv/htdocs", DataDir: "/srv/var", VHost: "example.com"}
	if diags := info.New().Decode(b.AsHCLBlock(), dc); len(diags) > 0 {
		t.Errorf("%s block: %s", b.Type, diags.Error())
	}
}
