package tests

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitHTTPBackend is Debian's git smart-HTTP CGI program (package git).
const gitHTTPBackend = "/usr/lib/git-core/git-http-backend"

// envProgram prints the CGI variables a program mount sets.
const envProgram = `#!/bin/sh
printf 'Content-Type: text/plain\n\n'
for v in SCRIPT_NAME PATH_INFO PATH_TRANSLATED SCRIPT_FILENAME QUERY_STRING GREETING; do
  eval "printf '%s=%s\n' $v \"\$$v\""
done
`

// TestCGIProgram: script_alias with program runs that one program for
// every URL under the prefix, with the rest of the path as PATH_INFO; a
// real git-http-backend serves a clone.
func TestCGIProgram(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("git is needed (apt-get install git): %v", err)
	}
	if _, err := os.Stat(gitHTTPBackend); err != nil {
		t.Fatalf("git's %s is needed (apt-get install git): %v", gitHTTPBackend, err)
	}
	h := NewHarness(t)
	h.Write("htdocs/index.html", "home\n", 0o644)
	h.Write("bin/env.sh", envProgram, 0o755)
	projects := filepath.Join(h.Dir, "srv", "git")
	makeRepo(t, git, h.Dir, filepath.Join(projects, "repo.git"))
	config := fmt.Sprintf(`
server {
  listen = ["127.0.0.1:0"]
}
log {
  access = "off"
  level  = "info"
}
vhost "localhost" {
  default       = true
  document_root = "htdocs"
  script_alias "/env/" {
    program = "bin/env.sh"
    env     = { GREETING = "hi" }
  }
  script_alias "/git/" {
    program = %q
    env     = { GIT_PROJECT_ROOT = %q, GIT_HTTP_EXPORT_ALL = "1" }
  }
}
`, gitHTTPBackend, projects)
	srv := h.Start(config)

	t.Run("environment", func(t *testing.T) {
		tests := []struct{ target, info, query string }{
			{"/env/", "/", ""},
			{"/env/a/b.txt?x=1", "/a/b.txt", "x=1"},
			{"/env/%7Euser/", "/~user/", ""},
		}
		for _, tt := range tests {
			resp, body := doRequest(t, http.DefaultClient, mustNewRequest(t, "GET", srv.URL(tt.target), nil))
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d %s", tt.target, resp.StatusCode, body)
			}
			env := parseEnv(body)
			want := map[string]string{
				"SCRIPT_NAME":     "/env",
				"PATH_INFO":       tt.info,
				"PATH_TRANSLATED": filepath.Join(h.Dir, "htdocs") + tt.info,
				"SCRIPT_FILENAME": filepath.Join(h.Dir, "bin", "env.sh"),
				"QUERY_STRING":    tt.query,
				"GREETING":        "hi",
			}
			for k, v := range want {
				if env[k] != v {
					t.Errorf("%s: %s = %q, want %q", tt.target, k, env[k], v)
				}
			}
		}
	})

	t.Run("git clone", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "clone")
		cmd := exec.Command(git, "clone", srv.URL("/git/repo.git"), dst)
		cmd.Env = gitEnv(h.Dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git clone: %v\n%s", err, out)
		}
		b, err := os.ReadFile(filepath.Join(dst, "README"))
		if err != nil || string(b) != "cloned over HTTP\n" {
			t.Errorf("README of the clone: %q %v", b, err)
		}
	})

	t.Run("describe", func(t *testing.T) {
		out, stderr, code := h.Run("-S", "-f", "httpd.hcl")
		want := "CGI program " + gitHTTPBackend + " for every URL under /git/"
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("httpd -S (exit %d) does not say %q:\n%s%s", code, want, out, stderr)
		}
	})
}

// makeRepo creates the bare repository bare holding one commit.
func makeRepo(t *testing.T, git, home, bare string) {
	t.Helper()
	work := filepath.Join(t.TempDir(), "work")
	run := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command(git, args...)
		cmd.Dir = dir
		cmd.Env = gitEnv(home)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	run(work, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(work, "README"), []byte("cloned over HTTP\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(work, "add", "README")
	run(work, "-c", "user.name=httpd", "-c", "user.email=httpd@example.com", "commit", "-q", "-m", "first")
	run(work, "clone", "-q", "--bare", work, bare)
}

// gitEnv keeps the user's and the system's git config out of the test.
func gitEnv(home string) []string {
	return append(os.Environ(), "HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
}

// TestCGIProgramConfigErrors: path and program together, or neither, is
// a config error that points at the block and says what to do.
func TestCGIProgramConfigErrors(t *testing.T) {
	h := NewHarness(t)
	h.Write("cgi-bin/x", "#!/bin/sh\n", 0o755)
	tests := []struct {
		name, body string
		want       string
	}{
		{"both", "    path    = \"cgi-bin\"\n    program = \"cgi-bin/x\"\n",
			`httpd.hcl:5:5: Conflicting script_alias attributes: path (set at httpd.hcl:4,5-9) and program cannot both be set`},
		{"neither", "    timeout = \"5s\"\n",
			`httpd.hcl:3:3: Missing path or program: script_alias needs one of them: path = "cgi-bin/"`},
		{"not executable", "    program = \"httpd.hcl\"\n",
			`httpd.hcl:4:15: Invalid script_alias program: ` + filepath.Join(h.Dir, "httpd.hcl") + ` is not executable (mode 0644)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.Write("httpd.hcl", "vhost \"localhost\" {\n  listen = [\"127.0.0.1:0\"]\n  script_alias \"/x/\" {\n"+tt.body+"  }\n}\n", 0o644)
			_, stderr, code := h.Run("-t", "-f", "httpd.hcl")
			if code != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("httpd -t: exit %d, want 1 and %q in:\n%s", code, tt.want, stderr)
			}
		})
	}
}
