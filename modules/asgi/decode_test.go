package asgi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"httpd/registry"
)

// decode parses src, a file holding one asgi_app block, and decodes and
// validates it with root as the server root.
func decode(t *testing.T, root, src string) (*Module, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	content, diags := f.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "asgi_app", LabelNames: []string{"url_prefix"}}}})
	if diags.HasErrors() || len(content.Blocks) != 1 {
		t.Fatalf("schema: %v", diags)
	}
	dc := &registry.DecodeContext{ServerRoot: root, DataDir: filepath.Join(root, "var"), VHost: "test", File: "test.hcl"}
	m := new(Module)
	diags = m.Decode(content.Blocks[0], dc)
	diags = append(diags, m.Validate(dc)...)
	return m, diags
}

func TestDecode(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "apps"), 0o755); err != nil {
		t.Fatal(err)
	}

	t.Run("defaults", func(t *testing.T) {
		m, diags := decode(t, root, `asgi_app "/api" { app = "main:app" }`)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if m.Prefix != "/api" || m.App != "main:app" || m.Python != "python3" || m.Processes != 1 ||
			m.Lifespan != "auto" || m.RequestTimeout != 60*time.Second || m.MaxRequests != 0 || m.dir != root || len(m.PythonPath) != 0 {
			t.Errorf("decoded %+v", m)
		}
	})
	t.Run("all", func(t *testing.T) {
		m, diags := decode(t, root, `asgi_app "/" {
  app             = "pkg.main:api.app"
  python_path     = ["apps", "/usr/lib"]
  python          = "/usr/bin/python3"
  processes       = 4
  lifespan        = "off"
  request_timeout = "0s"
  max_requests    = 1000
  env             = { A = "1" }
}`)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if m.App != "pkg.main:api.app" || m.Python != "/usr/bin/python3" || m.Processes != 4 || m.Lifespan != "off" ||
			m.RequestTimeout != 0 || m.MaxRequests != 1000 || m.Env["A"] != "1" || m.dir != filepath.Join(root, "apps") ||
			strings.Join(m.PythonPath, ",") != filepath.Join(root, "apps")+",/usr/lib" {
			t.Errorf("decoded %+v", m)
		}
	})

	errs := []struct {
		name, src, summary, at string
	}{
		{"missing app", `asgi_app "/api" { }`, "Missing required argument", "1,17"},
		{"app without attribute", `asgi_app "/api" { app = "main" }`, "Invalid app", "1,25"},
		{"app not identifiers", `asgi_app "/api" { app = "my-app:app" }`, "Invalid app", "1,25"},
		{"bad lifespan", `asgi_app "/api" {
 app = "m:a"
 lifespan = "yes"
}`, "Invalid lifespan", "3,13"},
		{"zero processes", `asgi_app "/api" {
 app = "m:a"
 processes = 0
}`, "Invalid value for processes", "3,14"},
		{"negative max_requests", `asgi_app "/api" {
 app = "m:a"
 max_requests = -1
}`, "Invalid value for max_requests", "3,17"},
		{"python missing", `asgi_app "/api" {
 app = "m:a"
 python = "/nonexistent/python3"
}`, "Python interpreter not found", "3,11"},
		{"python_path missing", `asgi_app "/api" {
 app = "m:a"
 python_path = ["nope"]
}`, "python_path directory not found", "3,16"},
		{"bad duration", `asgi_app "/api" {
 app = "m:a"
 request_timeout = "soon"
}`, "Invalid duration for request_timeout", "3,20"},
		{"bad prefix", `asgi_app "api" { app = "m:a" }`, "Invalid URL prefix", "1,10"},
		{"unknown attribute", `asgi_app "/api" {
 app = "m:a"
 workers = 2
}`, "Unsupported argument", "3,2"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := decode(t, root, tc.src)
			var found *hcl.Diagnostic
			for _, d := range diags {
				if d.Summary == tc.summary {
					found = d
				}
			}
			if found == nil {
				t.Fatalf("no %q in %v", tc.summary, diags)
			}
			if got := found.Subject.Start; got.Line != atLine(tc.at) || got.Column != atCol(tc.at) {
				t.Errorf("%q at %d,%d; want %s", tc.summary, got.Line, got.Column, tc.at)
			}
			if found.Detail == "" {
				t.Errorf("%q has no detail", tc.summary)
			}
		})
	}
}

func atLine(s string) int { l, _, _ := strings.Cut(s, ","); return atoi(l) }
func atCol(s string) int  { _, c, _ := strings.Cut(s, ","); return atoi(c) }

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
