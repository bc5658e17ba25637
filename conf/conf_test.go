package conf_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"httpd/conf"
	"httpd/registry"
)

// parse parses src as a config in dir (a temporary folder when dir is "")
// and fails the test on any error.
func parse(t *testing.T, src, dir string) *conf.Config {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg, diags := conf.Parse([]byte(src), filepath.Join(dir, "httpd.hcl"), dir)
	if diags.HasErrors() {
		t.Fatalf("unexpected errors:\n%s", diagText(t, diags))
	}
	return cfg
}

func TestConfDefaults(t *testing.T) {
	dir := t.TempDir()
	cfg := parse(t, `vhost "Example.COM." {}`, dir)
	if cfg.ServerRoot != dir {
		t.Errorf("ServerRoot = %q, want the config's folder %q", cfg.ServerRoot, dir)
	}
	s := cfg.Server
	if strings.Join(s.Listen, ",") != conf.DefaultListen {
		t.Errorf("Listen = %q", s.Listen)
	}
	if s.DataDir != filepath.Join(dir, "var") {
		t.Errorf("DataDir = %q", s.DataDir)
	}
	if s.ShutdownTimeout != 10*time.Second {
		t.Errorf("ShutdownTimeout = %v", s.ShutdownTimeout)
	}
	want := conf.Limits{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10, MaxBodyBytes: 100 << 20}
	if s.Limits != want {
		t.Errorf("Limits = %+v, want %+v", s.Limits, want)
	}
	if s.TLS != (conf.ServerTLS{SessionTickets: true, TicketRotation: 12 * time.Hour, PostQuantum: true}) {
		t.Errorf("TLS = %+v, want session tickets on, rotated every 12h", s.TLS)
	}
	if s.TrustedProxies != nil {
		t.Errorf("TrustedProxies = %v, want none", s.TrustedProxies)
	}
	if l := cfg.Log; l != (conf.Log{Access: "stdout", Format: "combined", Error: "stderr", Level: "info", ErrorFormat: "text"}) {
		t.Errorf("Log = %+v", l)
	}
	if cfg.ACME.CA != conf.DefaultACMECA {
		t.Errorf("ACME.CA = %q", cfg.ACME.CA)
	}
	if len(cfg.VHosts) != 1 {
		t.Fatalf("%d vhosts", len(cfg.VHosts))
	}
	v := cfg.VHosts[0]
	if v.Name != "example.com" {
		t.Errorf("Name = %q, want it lowercased without the trailing dot", v.Name)
	}
	if v.TLS.Mode != conf.TLSOff || v.Default || v.DocumentRoot != "" || len(v.Modules) != 0 {
		t.Errorf("vhost = %+v", v)
	}
	if len(v.Listeners) != 1 || v.Listeners[0].Addr != ":8080" || v.Listeners[0].TLS {
		t.Errorf("Listeners = %+v", v.Listeners)
	}
}

func TestConfValues(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "site", "htdocs"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := parse(t, `
server_root = "site"
server {
  listen           = ["127.0.0.1:8081", "[::1]:8082"]
  data_dir         = "/tmp/httpd-data"
  shutdown_timeout = "1m30s"
  user             = "www-data"
  trusted_proxies  = ["10.0.0.0/8", "::1"]
  limits {
    read_header_timeout = "2s"
    read_timeout        = "3s"
    write_timeout       = "4s"
    idle_timeout        = "5s"
    max_header_bytes    = "8KiB"
    max_body_bytes      = 10
  }
  tls {
    session_tickets = false
    ticket_rotation = "1h"
    post_quantum    = false
  }
}
log {
  access = "logs/access.log"
  error  = "/var/log/httpd-error.log"
  format = "common"
  level  = "warn"
}
vhost "a.test" {
  aliases       = ["WWW.A.TEST", "*.a.example."]
  document_root = "htdocs"
  default       = true
  listen        = ["http://127.0.0.1:8083", "127.0.0.1:80"]
}
`, dir)
	root := filepath.Join(dir, "site")
	if cfg.ServerRoot != root {
		t.Errorf("ServerRoot = %q, want %q", cfg.ServerRoot, root)
	}
	s := cfg.Server
	if strings.Join(s.Listen, " ") != "127.0.0.1:8081 [::1]:8082" || s.DataDir != "/tmp/httpd-data" ||
		s.ShutdownTimeout != 90*time.Second || s.User != "www-data" {
		t.Errorf("Server = %+v", s)
	}
	want := conf.Limits{ReadHeaderTimeout: 2 * time.Second, ReadTimeout: 3 * time.Second, WriteTimeout: 4 * time.Second,
		IdleTimeout: 5 * time.Second, MaxHeaderBytes: 8 << 10, MaxBodyBytes: 10}
	if s.Limits != want {
		t.Errorf("Limits = %+v, want %+v", s.Limits, want)
	}
	if s.TLS != (conf.ServerTLS{SessionTickets: false, TicketRotation: time.Hour, PostQuantum: false}) {
		t.Errorf("TLS = %+v", s.TLS)
	}
	if fmt.Sprint(s.TrustedProxies) != "[10.0.0.0/8 ::1/128]" {
		t.Errorf("TrustedProxies = %v", s.TrustedProxies)
	}
	if l := cfg.Log; l.Access != filepath.Join(root, "logs/access.log") || l.Error != "/var/log/httpd-error.log" || l.Format != "common" || l.Level != "warn" {
		t.Errorf("Log = %+v", l)
	}
	v := cfg.VHosts[0]
	if strings.Join(v.Names(), " ") != "a.test www.a.test *.a.example" {
		t.Errorf("Names = %q", v.Names())
	}
	if v.DocumentRoot != filepath.Join(root, "htdocs") || !v.Default {
		t.Errorf("vhost = %+v", v)
	}
	if len(v.Listeners) != 2 || v.Listeners[0].Addr != "127.0.0.1:8083" || v.Listeners[1].Addr != "127.0.0.1:80" {
		t.Errorf("Listeners = %+v", v.Listeners)
	}
	// A vhost with a document_root and no static block gets one.
	if len(v.Modules) != 1 || v.Modules[0].Info.Name != "static" {
		t.Errorf("Modules = %+v, want the implicit static", v.Modules)
	}
}

func TestConfServerRoot(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "conf")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		root string // the server_root line, "" for none
		want string
	}{
		{"default is the config folder", "", sub},
		{"dot", `"."`, sub},
		{"parent, as the shipped config", `".."`, dir},
		{"relative", `"../conf"`, sub},
		{"absolute", `"` + dir + `"`, dir},
		{"absolute uncleaned", `"` + dir + `/conf/.."`, dir},
		{"from env()", `env("HTTPD_TEST_ROOT")`, dir},
	}
	t.Setenv("HTTPD_TEST_ROOT", dir)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := `vhost "a.test" {}`
			if tt.root != "" {
				src = "server_root = " + tt.root + "\n" + src
			}
			cfg := parse(t, src, sub)
			if cfg.ServerRoot != tt.want {
				t.Errorf("ServerRoot = %q, want %q", cfg.ServerRoot, tt.want)
			}
			if cfg.Server.DataDir != filepath.Join(tt.want, "var") {
				t.Errorf("DataDir = %q, want it under server_root", cfg.Server.DataDir)
			}
		})
	}
}

func TestConfLoadRelativePath(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "htdocs"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := "server_root = \"..\"\nvhost \"a.test\" { document_root = \"htdocs\" }\n"
	if err := os.WriteFile(filepath.Join(dir, "conf", "httpd.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	cfg, diags := conf.Load("conf/httpd.hcl")
	if diags.HasErrors() {
		t.Fatal(diagText(t, diags))
	}
	if cfg.ServerRoot != dir || cfg.VHosts[0].DocumentRoot != filepath.Join(dir, "htdocs") {
		t.Errorf("ServerRoot = %q, DocumentRoot = %q", cfg.ServerRoot, cfg.VHosts[0].DocumentRoot)
	}

	_, diags = conf.Load("conf/missing.hcl")
	if !diags.HasErrors() || !strings.Contains(diags[0].Summary, "Cannot read config file") {
		t.Errorf("Load of a missing file: %s", diags)
	}
}

func TestConfEnvFunction(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "www"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HTTPD_TEST_DOCROOT", "www")
	t.Setenv("HTTPD_TEST_PORT", "9999")
	t.Setenv("HTTPD_TEST_EMPTY", "")
	tests := []struct {
		name  string
		src   string
		check func(*conf.Config) string
		err   string // part of the error, "" for none
	}{
		{"document_root", `vhost "a.test" { document_root = env("HTTPD_TEST_DOCROOT") }`,
			func(c *conf.Config) string { return c.VHosts[0].DocumentRoot }, ""},
		{"template", `vhost "a.test" { listen = ["127.0.0.1:${env("HTTPD_TEST_PORT")}"] }`,
			func(c *conf.Config) string { return c.VHosts[0].Listeners[0].Addr }, ""},
		{"unset is empty", `log { access = "${env("HTTPD_TEST_UNSET_VARIABLE")}stdout" }` + "\n" + `vhost "a.test" {}`,
			func(c *conf.Config) string { return c.Log.Access }, ""},
		{"empty value", `server { user = env("HTTPD_TEST_EMPTY") }` + "\n" + `vhost "a.test" {}`,
			func(c *conf.Config) string { return "user=" + c.Server.User }, ""},
		{"no argument", `vhost "a.test" { document_root = env() }`, nil, "Not enough function arguments"},
		{"unknown function", `vhost "a.test" { document_root = file("x") }`, nil, "Call to unknown function"},
		{"variable", `vhost "a.test" { document_root = HOME }`, nil, "Variables not allowed"},
	}
	want := map[string]string{
		"document_root":  filepath.Join(dir, "www"),
		"template":       "127.0.0.1:9999",
		"unset is empty": "stdout",
		"empty value":    "user=",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := conf.Parse([]byte(tt.src), "env.hcl", dir)
			if tt.err != "" {
				if !diags.HasErrors() || !strings.Contains(diagText(t, diags), tt.err) {
					t.Fatalf("want an error about %q, got:\n%s", tt.err, diagText(t, diags))
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diagText(t, diags))
			}
			if got := tt.check(cfg); got != want[tt.name] {
				t.Errorf("got %q, want %q", got, want[tt.name])
			}
		})
	}
}

func TestConfListeners(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"c.pem", "k.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	type l struct {
		addr string
		tls  bool
	}
	tests := []struct {
		name string
		body string
		want []l
	}{
		{"plain", `listen = ["127.0.0.1:8080", ":80"]`, []l{{"127.0.0.1:8080", false}, {":80", false}}},
		{"ipv6", `listen = ["[::1]:8080"]`, []l{{"[::1]:8080", false}}},
		{"localhost", `listen = ["localhost:8080"]`, []l{{"localhost:8080", false}}},
		{"tls files", `listen = [":8443", ":80"]` + "\n" + "tls {\n cert = \"c.pem\"\n key = \"k.pem\"\n}", []l{{":8443", true}, {":80", false}}},
		{"internal", `listen = ["https://127.0.0.1:4443", "http://127.0.0.1:8080", ":9443"]` + "\n" + `tls = "internal"`,
			[]l{{"127.0.0.1:4443", true}, {"127.0.0.1:8080", false}, {":9443", true}}},
		{"http scheme with tls off", `listen = ["http://:8080"]`, []l{{":8080", false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parse(t, "vhost \"a.test\" {\n"+tt.body+"\n}\n", dir)
			var got []l
			for _, x := range cfg.VHosts[0].Listeners {
				got = append(got, l{x.Addr, x.TLS})
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Listeners = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("Listeners = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// TestConfDiagnostics checks single problems by summary and position; the
// golden files in testdata show complete messages.
func TestConfDiagnostics(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "htdocs"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		src  string
		want []string // "line:col: substring" of each diagnostic, in order
	}{
		{"misspelt block", "vhost \"a\" {\n  document_root = \"htdocs\"\n  statc {}\n}\n",
			[]string{`3:3: Did you mean "static"?`}},
		{"unknown block lists known", "vhost \"a\" {\n  zzz {}\n}\n",
			[]string{"2:3: Block types a vhost may hold: tls, alias, static."}},
		{"misspelt attribute", "vhost \"a\" {\n  alises = []\n}\n",
			[]string{`2:3: Did you mean "aliases"?`}},
		{"bad duration", "server {\n  shutdown_timeout = \"5 min\"\n}\nvhost \"a\" {}\n",
			[]string{`2:22: "5 min" is not a duration`}},
		{"bad size", "server {\n  limits {\n    max_body_bytes = \"1XB\"\n  }\n}\nvhost \"a\" {}\n",
			[]string{`3:22: unknown unit "xb"`}},
		{"bad listen", "vhost \"a\" {\n  listen = [\"8080\"]\n}\n",
			[]string{`2:12: "8080" is not an address`}},
		{"duplicate mount", "vhost \"a\" {\n  alias \"/x/\" { path = \"htdocs\" }\n  alias \"/x/\" { path = \"htdocs\" }\n}\n",
			[]string{`3:9: by the alias block at x.hcl:2:3`}},
		{"two defaults", "vhost \"a\" {\n  default = true\n}\nvhost \"b\" {\n  default = true\n}\n",
			[]string{`4:1: vhost "a" (x.hcl:1:1) is already the default for :8080`}},
		{"duplicate name", "vhost \"a\" {}\nvhost \"b\" {\n  aliases = [\"A\"]\n}\n",
			[]string{`2:1: "a" on :8080 already belongs to vhost "a" (x.hcl:1:1)`}},
		{"same name twice", "vhost \"a\" {}\nvhost \"a\" {}\n",
			[]string{`2:1: Duplicate host name`}},
		{"plain and tls", "vhost \"a\" {\n  tls = \"internal\"\n}\nvhost \"b\" {}\n",
			[]string{`4:1: :8080 speaks TLS for vhost "a" (x.hcl:1:1) but plain HTTP for vhost "b"`}},
		{"missing document_root", "vhost \"a\" {\n  document_root = \"nope\"\n}\n",
			[]string{`2:19: document_root is not a folder`}},
		{"several in one pass", "server {\n  shutdown_timeout = 5\n}\nvhost \"a\" {\n  document_root = \"nope\"\n  statc {}\n}\n",
			[]string{"2:22: Write durations as strings", "6:3: Unsupported block type", "5:19: document_root is not a folder"}},
		{"unknown engine", "server {\n  http1_engine = \"netty\"\n}\nvhost \"a\" {}\n",
			[]string{`2:18: http1_engine must be one of "native", "net/http"`}},
		{"unknown HTTP/2 engine", "server {\n  http2_engine = \"h2o\"\n}\nvhost \"a\" {}\n",
			[]string{`2:18: http2_engine must be one of "native", "net/http"`}},
		{"mount without path", "vhost \"a\" {\n  alias \"/x/\" {}\n}\n",
			[]string{`2:15: Missing required argument`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := conf.Parse([]byte(tt.src), "x.hcl", dir)
			if len(diags) != len(tt.want) {
				t.Fatalf("got %d diagnostics, want %d:\n%s", len(diags), len(tt.want), diagText(t, diags))
			}
			for i, d := range diags {
				pos, sub, _ := strings.Cut(tt.want[i], ": ")
				if d.Subject == nil {
					t.Errorf("diagnostic %d has no position", i)
					continue
				}
				if got := fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column); d.Subject.Filename != "x.hcl" || got != pos {
					t.Errorf("diagnostic %d at %s:%s, want x.hcl:%s", i, d.Subject.Filename, got, pos)
				}
				if text := d.Summary + ": " + d.Detail; !strings.Contains(text, sub) {
					t.Errorf("diagnostic %d = %q, want it to hold %q", i, text, sub)
				}
				if d.Severity != hcl.DiagError {
					t.Errorf("diagnostic %d is not an error", i)
				}
			}
		})
	}
}

func TestConfModuleBlocks(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"htdocs", "icons", "docs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := parse(t, `
vhost "a.test" {
  document_root = "htdocs"
  alias "/icons/" { path = "icons" }
  static { browse = true }
  alias "/docs" { path = "docs" }
}`, dir)
	var got []string
	for _, mb := range cfg.VHosts[0].Modules {
		got = append(got, mb.Info.Name+"("+mb.Prefix()+")")
	}
	// Sorted by phase, declaration order kept within one.
	if want := "alias(/icons/) alias(/docs) static()"; strings.Join(got, " ") != want {
		t.Errorf("Modules = %q, want %q", strings.Join(got, " "), want)
	}
	if cfg.VHosts[0].Modules[2].Info.Phase != registry.PhaseContent {
		t.Errorf("static is not the content stage")
	}
}

// FuzzParse checks that no input makes the config reader panic.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.hcl")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`vhost "a" { listen = ["[::1]:0"] aliases = ["*.x"] }`))
	f.Add([]byte("server { limits { max_body_bytes = 1e400 } }"))
	f.Add([]byte("vhost \"\" {}\nvhost \"a\" { tls {} }"))
	f.Add([]byte(`vhost "a" { listen = [null] default = null aliases = null }`))
	f.Add([]byte(`server_root = env("X") vhost "${env("Y")}" {}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := conf.Parse(src, "fuzz.hcl", dir)
		if cfg == nil {
			t.Fatal("Parse returned a nil config")
		}
		for _, d := range diags {
			if d.Summary == "" {
				t.Errorf("a diagnostic without a summary: %+v", d)
			}
		}
	})
}
