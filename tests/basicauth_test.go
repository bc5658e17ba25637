package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// htpasswd runs Debian's htpasswd (apache2-utils) in the harness root
// with args, failing the test when it is missing or fails.
func htpasswd(t *testing.T, h *Harness, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Fatalf("the basic_auth tests need htpasswd from Debian's apache2-utils (apt-get install apache2-utils): %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = h.Dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("htpasswd %q: %v\n%s", args, err, out)
	}
}

// authGet sends a request with Basic credentials (none when user is "")
// and returns the status, the challenge and the body.
func authGet(t *testing.T, method, url, user, pass string) (status int, challenge, body string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b)
}

// waitCount waits until the server's stderr holds substr n times.
func waitCount(t *testing.T, srv *Server, substr string, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(srv.Stderr(), substr) < n {
		if time.Now().After(deadline) {
			t.Fatalf("stderr does not hold %q %d times within 15s:\n%s", substr, n, srv.Stderr())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBasicAuth runs httpd with a basic_auth block over static files, a
// CGI script and a WSGI app, with an htpasswd file written by Debian's
// htpasswd in each of its schemes, then changes the file and reloads.
func TestBasicAuth(t *testing.T) {
	py := wsgiPython(t)
	h := NewHarness(t)
	if err := os.Mkdir(filepath.Join(h.Dir, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	htpasswd(t, h, "-cbB", "-C", "5", "conf/htpasswd", "alice", "wonderland")
	htpasswd(t, h, "-bm", "conf/htpasswd", "carol", "pässwörd")
	htpasswd(t, h, "-bs", "conf/htpasswd", "bob", "builder")
	h.Write("htdocs/public.txt", "for everyone\n", 0o644)
	h.Write("htdocs/admin/secret.txt", "top secret\n", 0o644)
	h.Write("cgi-bin/env.sh", readTestdata(t, "env.sh"), 0o755)
	wsgiFixture(t, h, "../modules/wsgi/testdata/app.py", "wsgi/app.py")
	srv := h.Start(fmt.Sprintf(`
server {
  listen           = ["127.0.0.1:0"]
  shutdown_timeout = "5s"
}
log {
  access = "off"
  level  = "info"
}
vhost "localhost" {
  default       = true
  document_root = "htdocs"
  basic_auth "/admin/" {
    realm    = "Admin \"zone\""
    htpasswd = "conf/htpasswd"
  }
  rewrite "^/shortcut$" { to = "/admin/secret.txt" }
  script_alias "/admin/cgi/" {
    path = "cgi-bin"
  }
  wsgi_script_alias "/admin/app" {
    script = "wsgi/app.py"
    python = %q
  }
}
`, py))
	const challenge = `Basic realm="Admin \"zone\""`

	tests := []struct {
		name       string
		method     string // "" is GET
		path       string
		user, pass string
		status     int
		body       string // the body holds it
	}{
		{name: "outside the prefix", path: "/public.txt", status: 200, body: "for everyone"},
		{name: "no credentials", path: "/admin/secret.txt", status: 401},
		{name: "no credentials, HEAD", method: "HEAD", path: "/admin/secret.txt", status: 401},
		{name: "no credentials, missing file", path: "/admin/nothing.txt", status: 401},
		{name: "bcrypt", path: "/admin/secret.txt", user: "alice", pass: "wonderland", status: 200, body: "top secret"},
		{name: "bcrypt again, cached", path: "/admin/secret.txt", user: "alice", pass: "wonderland", status: 200, body: "top secret"},
		{name: "bcrypt, wrong password", path: "/admin/secret.txt", user: "alice", pass: "Wonderland", status: 401},
		{name: "apr1", path: "/admin/secret.txt", user: "carol", pass: "pässwörd", status: 200, body: "top secret"},
		{name: "apr1, wrong password", path: "/admin/secret.txt", user: "carol", pass: "passwort", status: 401},
		{name: "sha", path: "/admin/secret.txt", user: "bob", pass: "builder", status: 200, body: "top secret"},
		{name: "sha, wrong password", path: "/admin/secret.txt", user: "bob", pass: "builde", status: 401},
		{name: "unknown user", path: "/admin/secret.txt", user: "eve", pass: "wonderland", status: 401},
		{name: "user of another case", path: "/admin/secret.txt", user: "Alice", pass: "wonderland", status: 401},
		{name: "authenticated miss", path: "/admin/nothing.txt", user: "alice", pass: "wonderland", status: 404},
		{name: "internal rewrite under the prefix", path: "/shortcut", status: 401},
		{name: "internal rewrite, authenticated", path: "/shortcut", user: "bob", pass: "builder", status: 200, body: "top secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			status, chal, body := authGet(t, method, srv.URL(tt.path), tt.user, tt.pass)
			if status != tt.status || !strings.Contains(body, tt.body) {
				t.Fatalf("status %d body %q, want %d and %q", status, body, tt.status, tt.body)
			}
			if status == 401 {
				if chal != challenge {
					t.Errorf("WWW-Authenticate %q, want %q", chal, challenge)
				}
				if strings.Contains(body, "secret") {
					t.Errorf("a 401 holds the resource: %q", body)
				}
				if method == "GET" && !strings.Contains(body, "401 Unauthorized") {
					t.Errorf("a 401 without the status page: %q", body)
				}
			} else if chal != "" {
				t.Errorf("WWW-Authenticate %q on a %d", chal, status)
			}
		})
	}

	// Paths that a cleaning stage would take for /admin/ are asked for a
	// password too; raw request lines, since clients clean them.
	for _, target := range []string{"//admin/secret.txt", "/x/../admin/secret.txt", "/admin/./secret.txt", "/%61dmin/secret.txt"} {
		t.Run("raw "+target, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", target)
			b, _ := io.ReadAll(conn)
			if strings.Contains(string(b), "top secret") || !strings.HasPrefix(string(b), "HTTP/1.1 4") {
				t.Errorf("GET %s without credentials:\n%s", target, b)
			}
		})
	}

	t.Run("CGI sees REMOTE_USER", func(t *testing.T) {
		status, _, body := authGet(t, "GET", srv.URL("/admin/cgi/env.sh"), "alice", "wonderland")
		if status != 200 {
			t.Fatalf("status %d: %s", status, body)
		}
		for _, want := range []string{"\nREMOTE_USER=alice\n", "\nAUTH_TYPE=Basic\n"} {
			if !strings.Contains("\n"+body, want) {
				t.Errorf("the environment lacks %q:\n%s", want, body)
			}
		}
		if strings.Contains(body, "HTTP_AUTHORIZATION") || strings.Contains(body, "d29uZGVybGFuZ") {
			t.Errorf("the script sees the Authorization header:\n%s", body)
		}
		if status, _, _ := authGet(t, "GET", srv.URL("/admin/cgi/env.sh"), "", ""); status != 401 {
			t.Errorf("the script without credentials: %d", status)
		}
	})

	t.Run("WSGI sees REMOTE_USER", func(t *testing.T) {
		status, _, body := authGet(t, "GET", srv.URL("/admin/app/environ"), "bob", "builder")
		if status != 200 {
			t.Fatalf("status %d: %s", status, body)
		}
		var env map[string]any
		if err := json.Unmarshal([]byte(body), &env); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		if env["REMOTE_USER"] != "bob" || env["AUTH_TYPE"] != "Basic" {
			t.Errorf("REMOTE_USER %v AUTH_TYPE %v, want bob and Basic", env["REMOTE_USER"], env["AUTH_TYPE"])
		}
		if v, ok := env["HTTP_AUTHORIZATION"]; ok {
			t.Errorf("the app sees HTTP_AUTHORIZATION %v", v)
		}
	})

	// The error log says why, and never holds a password.
	srv.WaitStderr(`user \"eve\" is not in`, 5*time.Second)
	srv.WaitStderr(`user \"alice\": wrong password`, 5*time.Second)
	for _, pw := range []string{"wonderland", "Wonderland", "builde", "passwort"} {
		if strings.Contains(srv.Stderr(), pw) {
			t.Errorf("the error log holds the password %q:\n%s", pw, srv.Stderr())
		}
	}

	// A changed file takes effect on SIGHUP, not before; the cache of
	// the old config goes with it.
	htpasswd(t, h, "-bB", "-C", "5", "conf/htpasswd", "alice", "looking-glass")
	htpasswd(t, h, "-bB", "-C", "5", "conf/htpasswd", "dave", "d4ve")
	if status, _, _ := authGet(t, "GET", srv.URL("/admin/secret.txt"), "alice", "wonderland"); status != 200 {
		t.Errorf("the old password before the reload: %d", status)
	}
	srv.Signal(syscall.SIGHUP)
	waitCount(t, srv, "config reloaded", 1)
	for _, tc := range []struct {
		user, pass string
		status     int
	}{
		{"alice", "looking-glass", 200},
		{"alice", "wonderland", 401},
		{"dave", "d4ve", 200},
		{"bob", "builder", 200},
	} {
		if status, _, _ := authGet(t, "GET", srv.URL("/admin/secret.txt"), tc.user, tc.pass); status != tc.status {
			t.Errorf("after the reload, %s:%s: %d, want %d", tc.user, tc.pass, status, tc.status)
		}
	}

	// A line the server cannot use: the reload fails naming the file and
	// line, and the running config keeps serving.
	htpasswd(t, h, "-bp", "conf/htpasswd", "mallory", "plain")
	srv.Signal(syscall.SIGHUP)
	waitCount(t, srv, "config not reloaded", 1)
	if !strings.Contains(srv.Stderr(), `conf/htpasswd:5: user \"mallory\": not a bcrypt, apr1 or {SHA} hash`) {
		t.Errorf("the error log does not name the file and line:\n%s", srv.Stderr())
	}
	if status, _, _ := authGet(t, "GET", srv.URL("/admin/secret.txt"), "alice", "looking-glass"); status != 200 {
		t.Errorf("after a failed reload: %d", status)
	}
	if status, _, _ := authGet(t, "GET", srv.URL("/admin/secret.txt"), "mallory", "plain"); status != 401 {
		t.Errorf("a refused line lets its user in: %d", status)
	}
	srv.Stop()
}

// TestBasicAuthConfigCheck: httpd -t reports a missing htpasswd file and
// a line it cannot use, with the file and line, and exits 1.
func TestBasicAuthConfigCheck(t *testing.T) {
	h := NewHarness(t)
	h.Write("htdocs/index.html", "hi\n", 0o644)
	config := func(file string) string {
		return fmt.Sprintf(`vhost "localhost" {
  document_root = "htdocs"
  basic_auth "/admin/" {
    htpasswd = %q
  }
}
`, file)
	}
	htpasswd(t, h, "-cbB", "-C", "4", "good", "alice", "wonderland")
	h.Write("bad", "# users\nalice:$2y$04$tooshort\n", 0o644)
	h.Write("crypt", "", 0o644)
	htpasswd(t, h, "-bd", "crypt", "bob", "builder")
	tests := []struct {
		file string
		code int
		want []string
	}{
		{"good", 0, []string{"Syntax OK"}},
		{"missing", 1, []string{"httpd.hcl:4:16", "htpasswd file not found", h.Dir + "/missing does not exist; make it with: htpasswd -cB"}},
		{"bad", 1, []string{"httpd.hcl:4:16", "Invalid htpasswd file", h.Dir + `/bad:2: user "alice": malformed bcrypt hash`}},
		{"crypt", 1, []string{"httpd.hcl:4:16", h.Dir + `/crypt:1: user "bob": not a bcrypt, apr1 or {SHA} hash`}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			h.Write("httpd.hcl", config(tt.file), 0o644)
			stdout, stderr, code := h.Run("-t", "-f", "httpd.hcl")
			out := stdout + stderr
			if code != tt.code {
				t.Errorf("exit %d, want %d:\n%s", code, tt.code, out)
			}
			// The text writer may wrap a long detail.
			flat := strings.Join(strings.Fields(out), " ")
			for _, w := range tt.want {
				if !strings.Contains(flat, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}

	// -S shows the stage, -l the module.
	h.Write("httpd.hcl", config("good"), 0o644)
	stdout, stderr, code := h.Run("-S", "-f", "httpd.hcl")
	if want := `basic_auth /admin/ realm "Restricted" htpasswd ` + h.Dir + "/good"; code != 0 || !strings.Contains(stdout, want) {
		t.Errorf("-S: exit %d, want %q in:\n%s%s", code, want, stdout, stderr)
	}
	stdout, _, code = h.Run("-l")
	if code != 0 || !regexp.MustCompile(`(?m)^  basic_auth +access +\S`).MatchString(stdout) {
		t.Errorf("-l: exit %d:\n%s", code, stdout)
	}
}

// TestBasicAuthPHPFPM: a PHP script behind basic_auth, run by Debian's
// PHP-FPM, sees REMOTE_USER and AUTH_TYPE, not the Authorization header.
func TestBasicAuthPHPFPM(t *testing.T) {
	fpm := startPHPFPM(t)
	h := NewHarness(t)
	htpasswd(t, h, "-cbB", "-C", "4", "users", "alice", "wonderland")
	h.Write("htdocs/admin/who.php", `<?php
header('Content-Type: text/plain');
echo implode(' ', [$_SERVER['REMOTE_USER'] ?? '-', $_SERVER['AUTH_TYPE'] ?? '-',
    isset($_SERVER['HTTP_AUTHORIZATION']) ? 'authorization' : 'no-authorization']);
`, 0o644)
	srv := h.Start(fmt.Sprintf(`
server {
  listen = ["127.0.0.1:0"]
}
vhost "localhost" {
  default       = true
  document_root = "htdocs"
  basic_auth "/admin/" {
    realm    = "PHP"
    htpasswd = "users"
  }
  fastcgi "/admin/" {
    to = "unix:%s"
  }
}
`, fpm.Sock))
	if status, chal, body := authGet(t, "GET", srv.URL("/admin/who.php"), "", ""); status != 401 || chal != `Basic realm="PHP"` || strings.Contains(body, "no-authorization") {
		t.Errorf("without credentials: %d %q %q", status, chal, body)
	}
	status, _, body := authGet(t, "GET", srv.URL("/admin/who.php"), "alice", "wonderland")
	if status != 200 || body != "alice Basic no-authorization" {
		t.Errorf("with credentials: %d %q, want 200 %q", status, body, "alice Basic no-authorization")
	}
	srv.Stop()
}
