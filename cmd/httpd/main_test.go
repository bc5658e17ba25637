package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"httpd/conf"
)

// runArgs runs the command line in dir and returns its output.
func runArgs(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return o.String(), e.String(), code
}

func writeConfig(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "htdocs"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "httpd.hcl")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMainCommands(t *testing.T) {
	good := writeConfig(t, "vhost \"a.test\" {\n  document_root = \"htdocs\"\n}\n")
	bad := writeConfig(t, "vhost \"a.test\" {\n  document_root = \"htdocs\"\n  statc {}\n  listen = [\"x\"]\n}\n")
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   []string
		noStdout bool
	}{
		{"version", []string{"-v"}, 0, []string{"httpd " + version + "\n"}, nil, false},
		{"modules", []string{"-l"}, 0, []string{"Compiled in modules", "static", "content"}, nil, false},
		{"check good", []string{"-t", "-f", good}, 0, []string{"Syntax OK\n"}, nil, false},
		{"check good, flag after", []string{"-f", good, "-t"}, 0, []string{"Syntax OK\n"}, nil, false},
		{"check bad", []string{"-t", "-f", bad}, 1, nil,
			[]string{bad + `:3:3: Unsupported block type: Blocks of type "statc" are not expected here. Did you mean "static"?`,
				"     3 |   statc {}\n       |   ^\n", bad + ":4:12: Invalid listen address"}, true},
		{"show", []string{"-S", "-f", good}, 0, []string{":8080 (http):\n    a.test (default)  " + good + ":1\n", "vhost a.test  " + good + ":1\n    document_root: ", "\n    stages, in pipeline order:\n      content  static "}, nil, false},
		{"missing file", []string{"-t", "-f", "/nonexistent/httpd.hcl"}, 1, nil, []string{"Cannot read config file"}, true},
		{"stray argument", []string{"-t", "extra"}, 2, nil, []string{`unexpected argument "extra"`, "usage:"}, true},
		{"unknown flag", []string{"-x"}, 2, nil, []string{"usage:"}, true},
		{"serve: not a folder", []string{"serve", "/nonexistent"}, 1, nil, []string{"is not a folder"}, true},
		{"serve: two folders", []string{"serve", ".", ".."}, 2, nil, []string{"one folder at most"}, true},
		{"serve: bad port", []string{"serve", "-p", "70000", "."}, 1, nil, []string{"out of range"}, true},
		{"serve: bad bind", []string{"serve", ".", "-b", "example.com"}, 1, nil, []string{"not an IP address"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runArgs(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if tt.noStdout && stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
}

func TestMainParseInterspersed(t *testing.T) {
	tests := []struct {
		args []string
		p    int
		pos  string
	}{
		{[]string{"site", "-p", "9000"}, 9000, "site"},
		{[]string{"-p", "9000", "site"}, 9000, "site"},
		{[]string{"a", "-p", "1", "b"}, 1, "a b"},
		{[]string{"--", "-p"}, 8000, "-p"},
		{nil, 8000, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			p := fs.Int("p", 8000, "")
			if err := parseInterspersed(fs, tt.args); err != nil {
				t.Fatal(err)
			}
			if *p != tt.p || strings.Join(fs.Args(), " ") != tt.pos {
				t.Errorf("p = %d, args = %q; want %d, %q", *p, fs.Args(), tt.p, tt.pos)
			}
		})
	}
}

func TestMainServeConfigText(t *testing.T) {
	dir := filepath.Join(t.TempDir(), `we"ird ${x} %{y}`)
	if err := os.MkdirAll(filepath.Join(dir, "cgi-bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := serveConfigText(dir, "127.0.0.1", 8123, true)
	if err != nil {
		t.Fatal(err)
	}
	cfg, diags := conf.Parse([]byte(src), "<serve>", ".")
	// script_alias may not be linked into this test binary; everything
	// else must decode.
	for _, d := range diags {
		if !strings.Contains(d.Detail, "script_alias") {
			t.Errorf("serve config: %s: %s\n%s", d.Summary, d.Detail, src)
		}
	}
	if cfg.ServerRoot != dir {
		t.Errorf("ServerRoot = %q, want %q (quoting lost)", cfg.ServerRoot, dir)
	}
	if !strings.Contains(src, `script_alias "/cgi-bin/"`) || strings.Contains(src, "htbin") {
		t.Errorf("-cgi mounts:\n%s", src)
	}
	if v := cfg.VHosts; len(v) != 1 || v[0].Listeners[0].Addr != "127.0.0.1:8123" || !v[0].Default {
		t.Errorf("vhosts = %+v", v)
	}
}

func TestMainDiagLine(t *testing.T) {
	rng := &hcl.Range{Filename: "conf/httpd.hcl", Start: hcl.Pos{Line: 12, Column: 3}}
	tests := []struct {
		d    *hcl.Diagnostic
		want string
	}{
		{&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported block type", Detail: "Did you mean?", Subject: rng},
			"conf/httpd.hcl:12:3: Unsupported block type: Did you mean?"},
		{&hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Careful", Subject: rng}, "conf/httpd.hcl:12:3: warning: Careful"},
		{&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No file", Detail: "gone."}, "No file: gone."},
	}
	for _, tt := range tests {
		if got := diagLine(tt.d); got != tt.want {
			t.Errorf("diagLine = %q, want %q", got, tt.want)
		}
	}
}

// TestMainShippedConfig checks the config the repository ships, the way
// `go run ./cmd/httpd` reads it from the repository root: it must pass -t,
// and server_root ".." must make the repository the server root, serving
// htdocs/.
func TestMainShippedConfig(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(repo)
	stdout, stderr, code := runArgs(t, "-t")
	if code != 0 || stdout != "Syntax OK\n" {
		t.Fatalf("httpd -t on conf/httpd.hcl: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, code = runArgs(t, "-S")
	if code != 0 {
		t.Fatalf("httpd -S: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"ServerRoot: " + repo + "\n", "document_root: " + filepath.Join(repo, "htdocs") + "\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("httpd -S lacks %q:\n%s", want, stdout)
		}
	}
}
