package wsgi

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

// decode parses src, a file holding one wsgi_script_alias block, and
// decodes and validates it with root as the server root.
func decode(t *testing.T, root, src string) (*Module, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	content, diags := f.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "wsgi_script_alias", LabelNames: []string{"url_prefix"}}}})
	if diags.HasErrors() || len(content.Blocks) != 1 {
		t.Fatalf("schema: %v", diags)
	}
	dc := &registry.DecodeContext{ServerRoot: root, DataDir: filepath.Join(root, "var"), VHost: "test", File: "test.hcl"}
	m := new(Module)
	diags = m.Decode(content.Blocks[0], dc)
	if !diags.HasErrors() {
		diags = append(diags, m.Validate(dc)...)
	}
	return m, diags
}

func TestDecode(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "app.wsgi"), []byte("application = None\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(root, "venv"), 0o755)

	t.Run("defaults", func(t *testing.T) {
		m, diags := decode(t, root, `wsgi_script_alias "/app" { script = "app.wsgi" }`)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		want := Module{Prefix: "/app", Script: filepath.Join(root, "app.wsgi"), Callable: "application", Python: "python3",
			Processes: 1, Threads: 15, RequestTimeout: 60 * time.Second}
		if m.Prefix != want.Prefix || m.Script != want.Script || m.Callable != want.Callable || m.Python != want.Python ||
			m.Processes != want.Processes || m.Threads != want.Threads || m.RequestTimeout != want.RequestTimeout ||
			m.MaxRequests != 0 || m.Reload || m.PassAuth || m.Virtualenv != "" {
			t.Errorf("decoded %+v", m)
		}
	})
	t.Run("all", func(t *testing.T) {
		m, diags := decode(t, root, `wsgi_script_alias "/" {
  script          = "app.wsgi"
  callable        = "app"
  python          = "`+python+`"
  python_path     = ["lib", "/opt/x"]
  processes       = 3
  threads         = 2
  max_requests    = 100
  request_timeout = "5s"
  reload          = true
  pass_auth       = true
  env             = { A = "1" }
}`)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if m.Callable != "app" || m.Python != python || m.Processes != 3 || m.Threads != 2 || m.MaxRequests != 100 ||
			m.RequestTimeout != 5*time.Second || !m.Reload || !m.PassAuth || m.Env["A"] != "1" ||
			len(m.PythonPath) != 2 || m.PythonPath[0] != filepath.Join(root, "lib") || m.PythonPath[1] != "/opt/x" {
			t.Errorf("decoded %+v", m)
		}
	})
	t.Run("virtualenv-python", func(t *testing.T) {
		m, _ := decode(t, root, `wsgi_script_alias "/app" {
  script     = "app.wsgi"
  virtualenv = "venv"
}`)
		if m.Python != filepath.Join(root, "venv", "bin", "python") {
			t.Errorf("python %q", m.Python)
		}
	})

	for _, tc := range []struct {
		name, src, want string
	}{
		{"misspelt", `wsgi_script_alias "/app" {
  script   = "app.wsgi"
  proceses = 2
}`, `Did you mean "processes"?`},
		{"missing-script-attr", `wsgi_script_alias "/app" {}`, `"script" is required`},
		{"no-script", `wsgi_script_alias "/app" { script = "nope.wsgi" }`, "WSGI script not found"},
		{"processes-range", `wsgi_script_alias "/app" {
  script    = "app.wsgi"
  processes = 0
}`, "processes must be a whole number from 1 to 256"},
		{"threads-range", `wsgi_script_alias "/app" {
  script  = "app.wsgi"
  threads = 1.5
}`, "threads must be a whole number"},
		{"timeout", `wsgi_script_alias "/app" {
  script          = "app.wsgi"
  request_timeout = "soon"
}`, "is not a duration"},
		{"callable", `wsgi_script_alias "/app" {
  script   = "app.wsgi"
  callable = "my-app"
}`, "is not a Python identifier"},
		{"python", `wsgi_script_alias "/app" {
  script = "app.wsgi"
  python = "python-does-not-exist-9"
}`, "Python interpreter not found"},
		{"virtualenv", `wsgi_script_alias "/app" {
  script     = "app.wsgi"
  python     = "` + python + `"
  virtualenv = "nothere"
}`, "Virtualenv not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := decode(t, root, tc.src)
			if !diags.HasErrors() {
				t.Fatalf("no error, want %q", tc.want)
			}
			var all []string
			for _, d := range diags {
				all = append(all, d.Summary+": "+d.Detail)
				if d.Subject == nil || d.Subject.Filename != "test.hcl" {
					t.Errorf("diagnostic %q has no subject in the file", d.Summary)
				}
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Errorf("diagnostics %q, want %q", all, tc.want)
			}
		})
	}
}
