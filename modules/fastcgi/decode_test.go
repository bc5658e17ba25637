package fastcgi

import (
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"httpd/internal/testutil"
	"httpd/registry"
)

// decode decodes and validates a fastcgi block whose body is body.
func decode(t *testing.T, body string, docRoot string) (*Module, hcl.Diagnostics) {
	t.Helper()
	b := testutil.ParseBlock(t, "fastcgi \"/\" {\n"+body+"\n}\n")
	dc := &registry.DecodeContext{ServerRoot: "/srv", DocumentRoot: docRoot, VHost: "example.com", File: "test.hcl"}
	m := new(Module)
	diags := m.Decode(b, dc)
	if !diags.HasErrors() {
		diags = append(diags, m.Validate(dc)...)
	}
	return m, diags
}

func TestFastCGIDecode(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // part of the diagnostics; "" for none
		line int    // the line the first diagnostic points at (the block's first is 1)
	}{
		{"minimal", `to = "unix:/run/php/php8.2-fpm.sock"`, "", 0},
		{"all", `to = "tcp://127.0.0.1:9000"
split_path = [".php", ".phtml"]
index = ["index.php", "index.html"]
front_controller = "/index.php"
env = { APP_ENV = "prod" }
timeout = "30s"
pass_auth = true
max_idle_conns = 4`, "", 0},
		{"ipv6", `to = "tcp://[::1]:9000"`, "", 0},
		{"unix url form", `to = "unix:///run/php.sock"`, "", 0},
		{"missing to", `index = ["index.php"]`, `The argument "to" is required`, 1},
		{"http scheme", `to = "http://127.0.0.1:9000"`, `the scheme "http" is not one fastcgi speaks`, 2},
		{"no scheme", `to = "127.0.0.1:9000"`, `did you mean "tcp://127.0.0.1:9000"?`, 2},
		{"bare path", `to = "/run/php.sock"`, `did you mean "unix:/run/php.sock"?`, 2},
		{"no port", `to = "tcp://127.0.0.1"`, "is not tcp://HOST:PORT", 2},
		{"bad port", `to = "tcp://127.0.0.1:99999"`, "port must be a number from 1 to 65535", 2},
		{"empty unix", `to = "unix:"`, "names no socket", 2},
		{"garbage", `to = "php-fpm"`, "is not an address", 2},
		{"empty split_path", `to = "unix:/x.sock"
split_path = []`, "Empty split_path", 3},
		{"split_path with slash", `to = "unix:/x.sock"
split_path = ["/x.php"]`, "is not a file name suffix", 3},
		{"front controller relative", `to = "unix:/x.sock"
front_controller = "index.php"`, `must be a URL path starting with "/"`, 3},
		{"front controller not a script", `to = "unix:/x.sock"
front_controller = "/index.html"`, "is not a script", 3},
		{"front controller with query", `to = "unix:/x.sock"
front_controller = "/index.php?x=1"`, "no query", 3},
		{"front controller dir", `to = "unix:/x.sock"
front_controller = "/app/"`, "names a directory", 3},
		{"front controller dotdot", `to = "unix:/x.sock"
front_controller = "/../index.php"`, `".." segments`, 3},
		{"bad index", `to = "unix:/x.sock"
index = ["a/index.php"]`, "Invalid index file name", 3},
		{"reserved env", `to = "unix:/x.sock"
env = { SCRIPT_FILENAME = "/etc/passwd" }`, "the server sets this parameter", 3},
		{"header env", `to = "unix:/x.sock"
env = { HTTP_PROXY = "x" }`, "HTTP_* parameters", 3},
		{"bad timeout", `to = "unix:/x.sock"
timeout = 60`, "Invalid duration for timeout", 3},
		{"misspelt", `to = "unix:/x.sock"
front_controler = "/index.php"`, `Did you mean "front_controller"?`, 3},
		{"bad max_idle_conns", `to = "unix:/x.sock"
max_idle_conns = -1`, "max_idle_conns must be a whole number", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := decode(t, tt.body, "/srv/htdocs")
			if tt.want == "" {
				if len(diags) > 0 {
					t.Fatalf("unexpected diagnostics: %s", diags.Error())
				}
				return
			}
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tt.want) {
				t.Fatalf("diagnostics %q do not mention %q", diags.Error(), tt.want)
			}
			d := diags[0]
			if d.Subject == nil || d.Subject.Filename != "test.hcl" || d.Subject.Start.Line != tt.line || d.Subject.Start.Column < 1 {
				t.Errorf("diagnostic points at %v, want test.hcl line %d", d.Subject, tt.line)
			}
		})
	}
}

func TestFastCGIDecodeValues(t *testing.T) {
	m, diags := decode(t, `to = "unix:var/php.sock"`, "/srv/htdocs")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if m.Network != "unix" || m.Address != "/srv/var/php.sock" || !slices.Equal(m.SplitPath, []string{".php"}) ||
		!slices.Equal(m.Index, []string{"index.php"}) || m.FrontController != "" || m.Timeout != DefaultTimeout ||
		m.PassAuth || m.MaxIdleConns != DefaultMaxIdleConns {
		t.Errorf("defaults: %+v", m)
	}
	m, diags = decode(t, `to = "tcp://127.0.0.1:9000"
timeout = "0s"`, "/srv/htdocs")
	if diags.HasErrors() || m.Network != "tcp" || m.Address != "127.0.0.1:9000" || m.Timeout != 0 {
		t.Errorf("tcp: %+v %s", m, diags.Error())
	}
	if got := m.Describe(); got != "FastCGI tcp://127.0.0.1:9000 (split_path .php, index index.php, front_controller none, timeout none)" {
		t.Errorf("Describe = %q", got)
	}
}

func TestFastCGIValidate(t *testing.T) {
	_, diags := decode(t, `to = "unix:/x.sock"`, "")
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "Missing document_root") || diags[0].Subject == nil {
		t.Errorf("no document_root: %v", diags)
	}
}

func TestFastCGIEveryErrorInOnePass(t *testing.T) {
	_, diags := decode(t, `to = "http://x"
split_path = []
front_controller = "index.php"
timeout = "soon"`, "/srv/htdocs")
	if len(diags) < 4 {
		t.Errorf("%d diagnostics, want one per attribute: %s", len(diags), diags.Error())
	}
}
