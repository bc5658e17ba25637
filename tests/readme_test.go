package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"httpd/modules/registry"

	_ "httpd/modules/alias"
	_ "httpd/modules/cgi"
	_ "httpd/modules/redirect"
	_ "httpd/modules/static"
	_ "httpd/modules/wsgi"
)

var hclFence = regexp.MustCompile("(?s)```hcl\n(.*?)```")

// TestReadmeExamples parses every hcl example of the README and the
// module READMEs, and checks that each block type they use inside a vhost
// is one a module owns, so the documentation cannot drift from the code.
func TestReadmeExamples(t *testing.T) {
	files, err := filepath.Glob("../modules/*/README.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../README.md")
	known := map[string]bool{"tls": true}
	for _, n := range registry.Names() {
		known[n] = true
	}
	total := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range hclFence.FindAllSubmatch(src, -1) {
			total++
			name := filepath.Base(filepath.Dir(f)) + "/README.md#" + string(rune('0'+i))
			t.Run(name, func(t *testing.T) {
				file, diags := hclsyntax.ParseConfig(m[1], name, hcl.InitialPos)
				if diags.HasErrors() {
					t.Fatalf("example does not parse: %s\n%s", diags.Error(), m[1])
				}
				// An example is a whole config or a snippet of a vhost body.
				check := func(b *hclsyntax.Block) {
					if !known[b.Type] {
						t.Errorf("%s: block type %q is not compiled in (known: %s)", b.TypeRange, b.Type, strings.Join(registry.Names(), ", "))
					}
				}
				for _, b := range file.Body.(*hclsyntax.Body).Blocks {
					switch b.Type {
					case "server", "log", "acme":
					case "vhost":
						for _, inner := range b.Body.Blocks {
							check(inner)
						}
					default:
						check(b)
					}
				}
			})
		}
	}
	if total < 5 {
		t.Fatalf("found only %d hcl examples: is the fence pattern right?", total)
	}
}
