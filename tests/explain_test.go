package tests

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of tests/testdata/explain")

// explainConfig has a block of every module and vhosts chosen every
// way: by name, alias, wildcard and as the default; one has TLS, so its
// plain listener redirects.
const explainConfig = `server {
  listen          = ["127.0.0.1:8080"]
  trusted_proxies = ["10.9.0.0/16"]
}

vhost "example.test" {
  aliases       = ["www.example.test", "*.sites.test"]
  document_root = "htdocs"

  header "/" {
    set    = { "X-Frame-Options" = "DENY" }
    remove = ["X-Powered-By"]
  }
  access "/admin/" {
    allow = ["10.0.0.0/8"]
  }
  access "/admin/public/" {
    allow = ["0.0.0.0/0"]
  }
  rewrite "^/post/([0-9]+)$" {
    to = "/app/post?id=$1"
  }
  rewrite "^/blog/(.*)$" {
    to     = "/news/$1"
    status = 301
  }
  redirect "/old/" {
    to     = "https://new.example.test/"
    status = 301
  }
  redirect "/gone" {
    status = 410
  }
  static {
    browse = true
  }
  alias "/icons/" {
    path = "icons/"
  }
  script_alias "/cgi-bin/" {
    path = "cgi-bin/"
  }
  script_alias "/git/" {
    program = "bin/backend"
  }
  wsgi_script_alias "/app" {
    script          = "wsgi/app.wsgi"
    processes       = 2
    threads         = 8
    request_timeout = "30s"
  }
  fastcgi "/php/" {
    to               = "unix:run/php-fpm.sock"
    front_controller = "/php/index.php"
  }
  reverse_proxy "/api/" {
    to           = ["http://127.0.0.1:9001", "http://127.0.0.1:9002/v1"]
    strip_prefix = true
  }
}

vhost "other.test" {
  default       = true
  document_root = "other"
}

vhost "secure.test" {
  listen        = ["http://127.0.0.1:8081", "https://127.0.0.1:8443"]
  tls           = "internal"
  document_root = "other"
}
`

// explainCases are the requests of the golden files: each file holds
// the command and its output.
var explainCases = []struct {
	name string
	args []string
}{
	{"static_file", []string{"http://example.test:8080/hello.txt"}},
	{"static_index", []string{"http://example.test:8080/"}},
	{"static_dir_redirect", []string{"http://example.test:8080/docs"}},
	{"static_listing", []string{"http://example.test:8080/docs/"}},
	{"static_missing", []string{"http://example.test:8080/nope.txt"}},
	{"static_hidden", []string{"http://example.test:8080/.env"}},
	{"static_method", []string{"-X", "POST", "http://example.test:8080/hello.txt"}},
	{"alias", []string{"http://example.test:8080/icons/logo.svg"}},
	{"redirect", []string{"http://example.test:8080/old/page?x=1"}},
	{"redirect_gone", []string{"http://example.test:8080/gone/x"}},
	{"cgi", []string{"http://example.test:8080/cgi-bin/hello/extra?q=1"}},
	{"cgi_missing", []string{"http://example.test:8080/cgi-bin/nothere"}},
	{"cgi_not_executable", []string{"http://example.test:8080/cgi-bin/notes.txt"}},
	{"cgi_program", []string{"http://example.test:8080/git/repo.git/info/refs"}},
	{"wsgi", []string{"http://example.test:8080/app/hello"}},
	{"fastcgi_script", []string{"http://example.test:8080/php/info.php/extra"}},
	{"fastcgi_front_controller", []string{"http://example.test:8080/php/articles/7"}},
	{"fastcgi_file", []string{"http://example.test:8080/php/style.css"}},
	{"proxy", []string{"http://example.test:8080/api/users?id=3"}},
	{"access_denied", []string{"http://example.test:8080/admin/"}},
	{"access_allowed", []string{"-from", "10.1.2.3", "http://example.test:8080/admin/"}},
	{"access_behind_proxy", []string{"-from", "10.9.0.1", "-H", "X-Forwarded-For: 10.1.2.3", "http://example.test:8080/admin/"}},
	{"access_most_specific", []string{"http://example.test:8080/admin/public/"}},
	{"rewrite_internal", []string{"http://example.test:8080/post/7"}},
	{"rewrite_redirect", []string{"http://example.test:8080/blog/hello"}},
	{"vhost_alias", []string{"http://www.example.test:8080/hello.txt"}},
	{"vhost_wildcard", []string{"http://a.sites.test:8080/hello.txt"}},
	{"vhost_default", []string{"http://unknown.test:8080/"}},
	{"vhost_host_header", []string{"-H", "Host: www.example.test", "http://127.0.0.1:8080/hello.txt"}},
	{"path_only", []string{"/hello.txt"}},
	{"https_redirect", []string{"http://secure.test:8081/x?y=1"}},
	{"tls_mismatch", []string{"https://example.test:8080/"}},
	{"no_listener", []string{"http://example.test:9999/"}},
}

// explainFixtures writes the files the config names.
func explainFixtures(h *Harness) {
	h.Write("htdocs/hello.txt", "hello\n", 0o644)
	h.Write("htdocs/index.html", "<h1>home</h1>\n", 0o644)
	h.Write("htdocs/docs/a.txt", "a\n", 0o644)
	h.Write("htdocs/admin/index.html", "admin\n", 0o644)
	h.Write("htdocs/.env", "SECRET=1\n", 0o644)
	h.Write("htdocs/php/index.php", "<?php echo 'front';\n", 0o644)
	h.Write("htdocs/php/info.php", "<?php phpinfo();\n", 0o644)
	h.Write("htdocs/php/style.css", "body{}\n", 0o644)
	h.Write("icons/logo.svg", "<svg/>\n", 0o644)
	h.Write("cgi-bin/hello", "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho hi\n", 0o755)
	h.Write("cgi-bin/notes.txt", "not a script\n", 0o644)
	h.Write("bin/backend", "#!/bin/sh\necho 'Status: 204'\necho\n", 0o755)
	h.Write("wsgi/app.wsgi", "def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'hi']\n", 0o644)
	h.Write("other/index.html", "other\n", 0o644)
}

// TestExplain runs httpd explain over a config with every module and
// compares each walk with its golden file under testdata/explain (go
// test -run TestExplain -update rewrites them). The golden files are
// the pipeline's documentation by example.
func TestExplain(t *testing.T) {
	wsgiPython(t)
	h := NewHarness(t)
	explainFixtures(h)
	h.Write("httpd.hcl", explainConfig, 0o644)
	if out, errOut, code := h.Run("-t", "-no-import", "-f", "httpd.hcl"); code != 0 {
		t.Fatalf("httpd -t: exit %d\n%s%s", code, out, errOut)
	}
	for _, tc := range explainCases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"explain", "-f", "httpd.hcl"}, tc.args...)
			out, errOut, code := h.Run(args...)
			if code != 0 {
				t.Fatalf("httpd %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
			}
			got := "$ httpd " + strings.Join(quoteArgs(args), " ") + "\n" + out
			golden := filepath.Join("testdata", "explain", tc.name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./tests -run TestExplain -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("httpd explain output differs from %s (if the change is meant, run with -update):\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

// TestExplainMisuse checks the errors of httpd explain: no URL, a bad
// -from, a bad header, an unknown scheme.
func TestExplainMisuse(t *testing.T) {
	h := NewHarness(t)
	h.Write("htdocs/index.html", "x\n", 0o644)
	h.Write("httpd.hcl", "server {\n  listen = [\"127.0.0.1:8080\"]\n}\nvhost \"a.test\" {\n  document_root = \"htdocs\"\n}\n", 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"explain", "-f", "httpd.hcl"}, 2, "usage: httpd explain"},
		{[]string{"explain", "-f", "httpd.hcl", "-from", "nowhere", "/"}, 2, "is not an IP address"},
		{[]string{"explain", "-f", "httpd.hcl", "-H", "NoColon", "/"}, 2, "write a header as 'Name: value'"},
		{[]string{"explain", "-f", "httpd.hcl", "ftp://a.test/"}, 2, "the scheme must be http or https"},
		{[]string{"explain", "-f", "missing.hcl", "/"}, 1, "missing.hcl"},
	} {
		_, errOut, code := h.Run(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("httpd %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), code, errOut, tc.code, tc.want)
		}
	}
}

// readmeExplain finds the sample of the README's "### httpd explain"
// section: a fenced block whose first line is the command.
var readmeExplain = regexp.MustCompile("(?s)### httpd explain\n.*?```\n(\\$ httpd explain [^\n]*)\n(.*?)```")

// TestExplainReadme checks that the README's sample of httpd explain is
// what the shipped config gives today.
func TestExplainReadme(t *testing.T) {
	src, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := readmeExplain.FindSubmatch(src)
	if m == nil {
		t.Fatal("README.md has no \"### httpd explain\" section with a fenced sample starting with \"$ httpd explain\"")
	}
	args := strings.Fields(strings.TrimPrefix(string(m[1]), "$ httpd "))
	cmd := exec.Command(binary, args...)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("httpd %s: %v", strings.Join(args, " "), err)
	}
	if string(out) != string(m[2]) {
		t.Errorf("README.md's httpd explain sample is out of date; it should read:\n%s\n%s", m[1], out)
	}
}

// quoteArgs quotes the arguments that hold spaces, for the command line
// a golden file starts with.
func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " ?") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return out
}
