package cgi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"httpd/internal/gateway"
	"httpd/internal/gateway/gatewaytest"
	"httpd/internal/testutil"
	"httpd/registry"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // substring of the diagnostics; "" for none
	}{
		{"defaults", `path = "cgi-bin/"`, ""},
		{"all", `path = "/x"
timeout = "5s"
max_processes = 3
queue_timeout = "1s"
pass_auth = true
chunked = "stream"
env = { A = "1" }`, ""},
		{"program", `program = "/usr/lib/git-core/git-http-backend"`, ""},
		{"neither", ``, `Missing path or program`},
		{"both", `path = "x"
program = "/bin/true"`, `Conflicting script_alias attributes; path (set at test.hcl:2,1-5)`},
		{"empty program", `program = ""`, "Empty program"},
		{"misspelt", `path = "x"
timout = "5s"`, `Did you mean "timeout"?`},
		{"bad duration", `path = "x"
timeout = 5`, "Invalid duration for timeout"},
		{"bad max", `path = "x"
max_processes = 0`, "max_processes must be a whole number"},
		{"bad chunked", `path = "x"
chunked = "maybe"`, "is not a choice"},
		{"reserved env", `path = "x"
env = { SCRIPT_NAME = "x" }`, "the server sets this CGI variable"},
		{"header env", `path = "x"
env = { HTTP_PROXY = "x" }`, "HTTP_* variables"},
		{"empty path", `path = ""`, "Empty path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, diags := decode("script_alias \"/cgi-bin/\" {\n" + tt.body + "\n}\n")
			got := diags.Error()
			if tt.want == "" {
				if diags.HasErrors() {
					t.Fatalf("unexpected diagnostics: %s", got)
				}
				if m.Prefix != "/cgi-bin/" {
					t.Errorf("prefix = %q", m.Prefix)
				}
				return
			}
			if !strings.Contains(got, tt.want) {
				t.Fatalf("diagnostics %q do not mention %q", got, tt.want)
			}
		})
	}
	m, _ := decode("script_alias \"/cgi-bin/\" {\npath = \"cgi-bin/\"\n}\n")
	if m.Path != "/srv/cgi-bin" || m.Timeout != DefaultTimeout || m.MaxProcesses != DefaultMaxProcesses ||
		m.QueueTimeout != DefaultQueueTimeout || m.PassAuth || m.StreamChunked {
		t.Errorf("defaults: %+v", m)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	exe := filepath.Join(dir, "exe")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	tests := []struct {
		name, attr, value string
		want              string // "" for valid
	}{
		{"missing folder", "path", filepath.Join(dir, "nope"), "Invalid script_alias path"},
		{"file as folder", "path", file, "Invalid script_alias path"},
		{"folder", "path", dir, ""},
		{"missing program", "program", filepath.Join(dir, "nope"), "Invalid script_alias program"},
		{"folder as program", "program", dir, "is a directory"},
		{"program not executable", "program", file, "is not executable (mode 0644)"},
		{"program", "program", exe, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, diags := decode(fmt.Sprintf("script_alias \"/c/\" {\n%s = %q\n}\n", tt.attr, tt.value))
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			vd := m.Validate(&registry.DecodeContext{ServerRoot: dir})
			if tt.want == "" {
				if vd.HasErrors() {
					t.Fatalf("validate: %v", vd)
				}
				return
			}
			if !vd.HasErrors() || !strings.Contains(vd.Error(), tt.want) || vd[0].Subject == nil || vd[0].Subject.Start.Line != 2 {
				t.Fatalf("validate: %v, want %q at line 2", vd, tt.want)
			}
		})
	}
}

func getEnv(t *testing.T, f *fixture, req *http.Request) map[string]string {
	t.Helper()
	resp, body := f.do(req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s (%s)", resp.StatusCode, body, f.lastError())
	}
	var out struct {
		Env  map[string]string
		Cwd  string
		Args []string
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	out.Env["(cwd)"] = out.Cwd
	out.Env["(args)"] = strings.Join(out.Args, " ")
	return out.Env
}

func TestEnvironment(t *testing.T) {
	t.Setenv("HTTPD_SERVER_SECRET", "must-not-leak")
	f := newFixture(t, "")
	f.child("env")
	req := gatewaytest.NewRequest(t, "POST", f.srv.URL+"/cgi-bin/env/a%20b/c?x=1&y=%2F", strings.NewReader("abc"))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Add("X-Multi", "one")
	req.Header.Add("X-Multi", "two")
	req.Header.Set("Proxy", "http://evil.example/")
	req.Header.Set("Authorization", "Basic c2VjcmV0")
	req.Header.Set("X_Spoof", "1")
	req.Header.Add("Cookie", "a=1")
	req.Header.Add("Cookie", "b=2")
	env := getEnv(t, f, req)
	host := strings.TrimPrefix(f.srv.URL, "http://")
	port := host[strings.LastIndexByte(host, ':')+1:]
	want := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_SOFTWARE":   "httpd/test",
		"SERVER_NAME":       "127.0.0.1",
		"SERVER_PORT":       port,
		"SERVER_ADDR":       "127.0.0.1",
		"SERVER_PROTOCOL":   "HTTP/1.1",
		"REQUEST_METHOD":    "POST",
		"REQUEST_URI":       "/cgi-bin/env/a%20b/c?x=1&y=%2F",
		"REQUEST_SCHEME":    "http",
		"SCRIPT_NAME":       "/cgi-bin/env",
		"SCRIPT_FILENAME":   filepath.Join(f.dir, "env"),
		"PATH_INFO":         "/a b/c",
		"PATH_TRANSLATED":   f.docs + "/a b/c",
		"DOCUMENT_ROOT":     f.docs,
		"QUERY_STRING":      "x=1&y=%2F",
		"REMOTE_ADDR":       "127.0.0.1",
		"CONTENT_TYPE":      "text/plain",
		"CONTENT_LENGTH":    "3",
		"HTTP_HOST":         host,
		"HTTP_X_MULTI":      "one, two",
		"HTTP_COOKIE":       "a=1; b=2",
		"EXTRA":             "from-block",
		"PATH":              os.Getenv("PATH"),
		"(cwd)":             f.dir,
		"(args)":            filepath.Join(f.dir, "env"),
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if env["REMOTE_PORT"] == "" {
		t.Error("REMOTE_PORT missing")
	}
	for _, k := range []string{"HTTP_PROXY", "HTTP_AUTHORIZATION", "HTTPS", "HTTPD_SERVER_SECRET", "HTTP_X_SPOOF", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "REDIRECT_STATUS"} {
		if v, ok := env[k]; ok {
			t.Errorf("%s is set (%q)", k, v)
		}
	}
	// Nothing but PATH, the block's env and CGI variables.
	for k := range env {
		switch {
		case strings.HasPrefix(k, "HTTP_"), gateway.PerRequestVar(k), strings.HasPrefix(k, "("),
			k == "PATH", k == "EXTRA", k == "OUT", k == childEnv:
		default:
			t.Errorf("unexpected variable %s=%s", k, env[k])
		}
	}
	if t.Failed() {
		t.Logf("environment:\n%s", envLines(env))
	}
}

func TestPassAuth(t *testing.T) {
	f := newFixture(t, "pass_auth = true")
	f.child("env")
	req := gatewaytest.NewRequest(t, "GET", f.srv.URL+"/cgi-bin/env", nil)
	req.Header.Set("Authorization", "Basic c2VjcmV0")
	req.Header.Set("Proxy-Authorization", "Basic c2VjcmV0")
	env := getEnv(t, f, req)
	if env["HTTP_AUTHORIZATION"] != "Basic c2VjcmV0" {
		t.Errorf("HTTP_AUTHORIZATION = %q", env["HTTP_AUTHORIZATION"])
	}
	if _, ok := env["HTTP_PROXY_AUTHORIZATION"]; ok {
		t.Error("HTTP_PROXY_AUTHORIZATION is set")
	}
	for _, k := range []string{"PATH_INFO", "PATH_TRANSLATED", "CONTENT_LENGTH", "CONTENT_TYPE"} {
		if _, ok := env[k]; ok {
			t.Errorf("%s is set without a reason", k)
		}
	}
	if env["QUERY_STRING"] != "" {
		t.Errorf("QUERY_STRING = %q", env["QUERY_STRING"])
	}
}

func TestHTTP2AndTLS(t *testing.T) {
	f := &fixture{t: t, dir: t.TempDir(), out: t.TempDir(), docs: t.TempDir(), logs: &testutil.SyncBuffer{}}
	f.mod = decodeModule(t, fmt.Sprintf("script_alias \"/cgi-bin/\" {\npath = %q\nenv = { %s = \"1\" }\n}\n", f.dir, childEnv))
	f.start(func(s *httptest.Server) {
		s.EnableHTTP2 = true
		s.StartTLS()
	})
	f.child("env")
	f.child("echo")
	env := getEnv(t, f, gatewaytest.NewRequest(t, "GET", f.srv.URL+"/cgi-bin/env", nil))
	if env["HTTPS"] != "on" || env["SERVER_PROTOCOL"] != "HTTP/2.0" || env["REQUEST_SCHEME"] != "https" {
		t.Errorf("HTTPS=%q SERVER_PROTOCOL=%q REQUEST_SCHEME=%q", env["HTTPS"], env["SERVER_PROTOCOL"], env["REQUEST_SCHEME"])
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	resp, body := f.do(gatewaytest.NewRequest(t, "POST", f.srv.URL+"/cgi-bin/echo", bytes.NewReader(data)))
	if resp.StatusCode != 200 || body != string(data) {
		t.Errorf("h2 echo: status %d, %d bytes back of %d", resp.StatusCode, len(body), len(data))
	}
}

func TestPathInfo(t *testing.T) {
	f := newFixture(t, "")
	f.child("env")
	tests := []struct {
		path, script, info string
	}{
		{"/cgi-bin/env", "/cgi-bin/env", ""},
		{"/cgi-bin/env/", "/cgi-bin/env", "/"},
		{"/cgi-bin/env/x/y.html", "/cgi-bin/env", "/x/y.html"},
		{"/cgi-bin/env/%7Euser", "/cgi-bin/env", "/~user"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			env := getEnv(t, f, gatewaytest.NewRequest(t, "GET", f.srv.URL+tt.path, nil))
			if env["SCRIPT_NAME"] != tt.script || env["PATH_INFO"] != tt.info {
				t.Errorf("SCRIPT_NAME=%q PATH_INFO=%q, want %q %q", env["SCRIPT_NAME"], env["PATH_INFO"], tt.script, tt.info)
			}
			wantPT := ""
			if tt.info != "" {
				wantPT = f.docs + tt.info
			}
			if env["PATH_TRANSLATED"] != wantPT {
				t.Errorf("PATH_TRANSLATED = %q, want %q", env["PATH_TRANSLATED"], wantPT)
			}
		})
	}
}

func TestLargePost(t *testing.T) {
	for _, mode := range []string{"buffer", "stream"} {
		t.Run(mode, func(t *testing.T) {
			f := newFixture(t, fmt.Sprintf("chunked = %q", mode))
			f.child("echo")
			f.child("count")
			data := make([]byte, 5<<20)
			rand.Read(data)
			sum := sha256.Sum256(data)

			resp, body := f.do(gatewaytest.NewRequest(t, "POST", f.srv.URL+"/cgi-bin/echo", bytes.NewReader(data)))
			if resp.StatusCode != 200 || sha256.Sum256([]byte(body)) != sum {
				t.Fatalf("echo: status %d, %d bytes back (%s)", resp.StatusCode, len(body), f.lastError())
			}
			// A body of unknown length: chunked on the wire.
			req := gatewaytest.NewRequest(t, "POST", f.srv.URL+"/cgi-bin/echo", io.MultiReader(bytes.NewReader(data)))
			req.ContentLength = -1
			resp, body = f.do(req)
			if resp.StatusCode != 200 || sha256.Sum256([]byte(body)) != sum {
				t.Fatalf("chunked echo: status %d, %d bytes back (%s)", resp.StatusCode, len(body), f.lastError())
			}
			req = gatewaytest.NewRequest(t, "POST", f.srv.URL+"/cgi-bin/count", io.MultiReader(strings.NewReader("hello")))
			req.ContentLength = -1
			_, body = f.do(req)
			want := "5 5"
			if mode == "stream" {
				want = "5 "
			}
			if body != want {
				t.Errorf("chunked count: %q, want %q (bytes read, CONTENT_LENGTH)", body, want)
			}
		})
	}
}

func TestFullDuplex(t *testing.T) {
	f := newFixture(t, "")
	f.script("early", `printf 'Content-Type: text/plain\n\nearly\n'
n=$(wc -c)
echo "read $n"
`)
	pr, pw := io.Pipe()
	req := gatewaytest.NewRequest(t, "POST", f.srv.URL+"/cgi-bin/early", pr)
	req.ContentLength = 1 << 20
	go pw.Write(make([]byte, 1000))
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "early\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	go func() {
		pw.Write(make([]byte, 1<<20-1000))
		pw.Close()
	}()
	rest, _ := io.ReadAll(br)
	if strings.TrimSpace(string(rest)) != "read 1048576" {
		t.Errorf("rest = %q", rest)
	}
}

func TestResponses(t *testing.T) {
	f := newFixture(t, "")
	f.child("env")
	f.script("status", `printf 'Status: 404 Gone Fishing\r\nContent-Type: text/plain\r\nX-Extra: 1\r\nX-Extra: 2\r\n\r\nnot here\n'`)
	f.script("client", `printf 'Location: https://example.com/x\n\n'`)
	f.script("moved", `printf 'Status: 301\nLocation: https://example.com/y\nContent-Type: text/html\n\n<a>moved</a>\n'`)
	f.script("local", `printf 'Location: /cgi-bin/env/from-redirect?q=1\n\n'`)
	f.script("localpost", `cat >/dev/null; printf 'Location: /cgi-bin/env\n\n'`)
	f.script("loop", `printf 'Location: /cgi-bin/loop\n\n'`)
	f.script("netpath", `printf 'Location: //evil.example/\n\n'`)
	f.script("hop", `printf 'Content-Type: text/plain\nConnection: close\nTransfer-Encoding: chunked\nSet-Cookie: a=1\nSet-Cookie: b=2\n\nbody'`)
	f.script("nph-old", `printf 'HTTP/1.1 201 Created\nContent-Type: text/plain\n\nmade'`)
	f.script("head", `printf 'Content-Type: text/plain\n\nbody'`)
	client := f.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	tests := []struct {
		name, method, path string
		status             int
		header             map[string]string
		body               string
	}{
		{"status", "GET", "/cgi-bin/status", 404, map[string]string{"X-Extra": "1", "Content-Type": "text/plain"}, "not here\n"},
		{"client redirect", "GET", "/cgi-bin/client", 302, map[string]string{"Location": "https://example.com/x"}, ""},
		{"redirect with status", "GET", "/cgi-bin/moved", 301, map[string]string{"Location": "https://example.com/y"}, "<a>moved</a>\n"},
		{"network path is not local", "GET", "/cgi-bin/netpath", 302, map[string]string{"Location": "//evil.example/"}, ""},
		{"hop-by-hop dropped", "GET", "/cgi-bin/hop", 200, map[string]string{"Connection": "", "Set-Cookie": "a=1"}, "body"},
		{"nph status line", "GET", "/cgi-bin/nph-old", 201, nil, "made"},
		{"head", "HEAD", "/cgi-bin/head", 200, map[string]string{"Content-Type": "text/plain"}, ""},
		{"redirect loop", "GET", "/cgi-bin/loop", 500, nil, "Internal Server Error\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.Do(gatewaytest.NewRequest(t, tt.method, f.srv.URL+tt.path, nil))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || string(b) != tt.body {
				t.Errorf("got %d %q, want %d %q (%s)", resp.StatusCode, b, tt.status, tt.body, f.lastError())
			}
			for k, v := range tt.header {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
	if !strings.Contains(f.lastError(), "more than 10 internal redirects") {
		t.Errorf("loop error: %s", f.lastError())
	}

	t.Run("internal redirect", func(t *testing.T) {
		for _, method := range []string{"GET", "POST"} {
			req := gatewaytest.NewRequest(t, method, f.srv.URL+"/cgi-bin/local?orig=1", strings.NewReader("data"))
			req.Header.Set("X-Keep", "yes")
			req.Header.Set("Content-Type", "text/plain")
			env := getEnv(t, f, req)
			want := map[string]string{
				"REQUEST_METHOD": "GET", "PATH_INFO": "/from-redirect", "QUERY_STRING": "q=1",
				"REDIRECT_URL": "/cgi-bin/local", "REDIRECT_QUERY_STRING": "orig=1", "REDIRECT_STATUS": "200",
				"HTTP_X_KEEP": "yes", "REQUEST_URI": "/cgi-bin/env/from-redirect?q=1",
			}
			for k, v := range want {
				if env[k] != v {
					t.Errorf("%s: %s = %q, want %q", method, k, env[k], v)
				}
			}
			for _, k := range []string{"CONTENT_LENGTH", "CONTENT_TYPE"} {
				if _, ok := env[k]; ok {
					t.Errorf("%s: %s survives the redirect", method, k)
				}
			}
		}
	})
}

func TestMalformedOutput(t *testing.T) {
	f := newFixture(t, "")
	big := strings.Repeat("x", MaxHeaderBytes)
	tests := map[string]string{
		"empty":        `exit 0`,
		"no blank":     `printf 'Content-Type: text/plain\n'`,
		"garbage":      `echo 'this is not a header'; echo; echo body`,
		"no cgi field": `printf 'X-Only: 1\n\nbody'`,
		"bad status":   `printf 'Status: abc\n\n'`,
		"huge header":  `printf 'Content-Type: text/plain\nX-Big: ` + big + `\n\n'`,
		"crash":        `echo oops >&2; exit 3`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			file := strings.ReplaceAll(name, " ", "-")
			f.script(file, body)
			resp, _ := f.get("/cgi-bin/" + file)
			if resp.StatusCode != 502 {
				t.Fatalf("status %d, want 502", resp.StatusCode)
			}
			if e := f.lastError(); !strings.Contains(e, filepath.Join(f.dir, file)) || !strings.Contains(e, "invalid CGI response") {
				t.Errorf("error %q does not name the script and the problem", e)
			}
		})
	}
}

func TestForbidden(t *testing.T) {
	f := newFixture(t, "")
	f.script("ok", `printf 'Content-Type: text/plain\n\nok'`)
	os.WriteFile(filepath.Join(f.dir, "plain"), []byte("#!/bin/sh\necho hi\n"), 0o644)
	os.Mkdir(filepath.Join(f.dir, "sub"), 0o755)
	f.script(".hidden", `printf 'Content-Type: text/plain\n\nhidden'`)
	outside := filepath.Join(t.TempDir(), "outside")
	os.WriteFile(outside, []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nescaped'\n"), 0o755)
	os.Symlink(outside, filepath.Join(f.dir, "escape"))
	os.Symlink("ok", filepath.Join(f.dir, "inside"))
	os.Symlink("nowhere", filepath.Join(f.dir, "dangling"))

	tests := []struct {
		target string // raw request target
		status int
		why    string
	}{
		{"/cgi-bin/ok", 200, ""},
		{"/cgi-bin/inside", 200, ""},
		{"/cgi-bin/missing", 404, "no such script"},
		{"/cgi-bin/dangling", 404, "no such script"},
		{"/cgi-bin/plain", 403, "not executable (mode 0644)"},
		{"/cgi-bin/sub", 403, "is a directory"},
		{"/cgi-bin/sub/", 403, "is a directory"},
		{"/cgi-bin/", 403, "names the script folder"},
		{"/cgi-bin/.hidden", 404, "dot-files"},
		{"/cgi-bin/escape", 404, "outside the script folder"},
		{"/cgi-bin/../outside", 404, "dot segment"},
		{"/cgi-bin/%2e%2e/outside", 404, "dot segment"},
		{"/cgi-bin/ok/../../x", 404, "dot segment"},
		{"/cgi-bin/sub%2fx", 404, "encoded slash"},
		{"/cgi-bin/ok%5c..%5cx", 404, "encoded slash"},
		{"/cgi-bin/ok%00", 404, "NUL"},
		{"/cgi-bin//ok", 404, "empty script name"},
		{"/other", 404, "fallback"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://x"+tt.target, nil)
			w := httptest.NewRecorder()
			err := f.h.ServeHTTP(w, r)
			status := w.Code
			if err != nil {
				status = registry.StatusOf(err)
			}
			if status != tt.status {
				t.Fatalf("status %d, want %d (%v)", status, tt.status, err)
			}
			if tt.why != "" && (err == nil || !strings.Contains(err.Error(), tt.why)) {
				t.Errorf("error %v does not say %q", err, tt.why)
			}
			if strings.Contains(w.Body.String(), "escaped") {
				t.Error("ran a script outside the folder")
			}
			if tt.status == 404 && tt.why != "fallback" && !registry.IsNotice(err) {
				t.Errorf("the 404 %v is not marked to be logged at info", err)
			}
		})
	}
}

// TestProgram: with program, every URL under the prefix runs the one
// program, SCRIPT_NAME is the prefix without its slash and PATH_INFO the
// rest, as with Apache's ScriptAlias to a file.
func TestProgram(t *testing.T) {
	f := newProgramFixture(t, "env", "")
	tests := []struct {
		target string // raw request target
		info   string // PATH_INFO
		query  string
		status int
		why    string // for a failure
	}{
		{target: "/git/", info: "/", status: 200},
		{target: "/git/repo.git/info/refs?service=git-upload-pack", info: "/repo.git/info/refs", query: "service=git-upload-pack", status: 200},
		{target: "/git/a%20b/c", info: "/a b/c", status: 200},
		{target: "/git/.hidden/x", info: "/.hidden/x", status: 200},
		{target: "/git/%2e%2e/x", status: 404, why: "dot segment"},
		{target: "/git/a%2fb", status: 404, why: "encoded slash"},
		{target: "/git/a%00", status: 404, why: "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			if tt.status != 200 {
				err := f.h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://x"+tt.target, nil))
				if registry.StatusOf(err) != tt.status || !strings.Contains(err.Error(), tt.why) {
					t.Fatalf("error %v, want %d saying %q", err, tt.status, tt.why)
				}
				if !registry.IsNotice(err) {
					t.Errorf("the 404 %v is not marked to be logged at info", err)
				}
				return
			}
			env := getEnv(t, f, gatewaytest.NewRequest(t, "GET", f.srv.URL+tt.target, nil))
			want := map[string]string{
				"SCRIPT_NAME":     "/git",
				"PATH_INFO":       tt.info,
				"PATH_TRANSLATED": f.docs + tt.info,
				"SCRIPT_FILENAME": filepath.Join(f.dir, "env"),
				"QUERY_STRING":    tt.query,
				"(args)":          filepath.Join(f.dir, "env"),
			}
			for k, v := range want {
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
		})
	}

	// A program gone after the start is a 404 that says so.
	os.Remove(filepath.Join(f.dir, "env"))
	err := f.h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://x/git/x", nil))
	if registry.StatusOf(err) != 404 || !strings.Contains(err.Error(), "no such program") {
		t.Errorf("after removing the program: %v", err)
	}
}

func TestStreaming(t *testing.T) {
	f := newFixture(t, "")
	f.script("slow", `printf 'Content-Type: text/event-stream\n\n'
echo 'data: first'
sleep 2
echo 'data: second'
`)
	start := time.Now()
	resp, err := f.srv.Client().Get(f.srv.URL + "/cgi-bin/slow")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("first line after %v: output was held back", d)
	}
	line, _ = br.ReadString('\n')
	if line != "data: second\n" || time.Since(start) < 2*time.Second {
		t.Errorf("second line %q after %v", line, time.Since(start))
	}
}

// pidScript records its own pid and a background child's in $OUT/pids,
// then waits. before runs first (say, printing headers).
func pidScript(before string) string {
	return before + `
sleep 60 &
echo $$ $! > "$OUT/pids.tmp"
mv "$OUT/pids.tmp" "$OUT/pids"
wait
`
}

func TestTimeoutKillsGroup(t *testing.T) {
	f := newFixture(t, `timeout = "700ms"`)
	f.script("hang", pidScript(""))
	f.script("hangbody", pidScript(`printf 'Content-Type: text/plain\n\npartial\n'`))
	start := time.Now()
	resp, _ := f.get("/cgi-bin/hang")
	if resp.StatusCode != 504 {
		t.Fatalf("status %d, want 504", resp.StatusCode)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	if !strings.Contains(f.lastError(), "timed out") {
		t.Errorf("error %q", f.lastError())
	}
	waitGone(t, f.readPids(2), 5*time.Second)

	os.Remove(filepath.Join(f.out, "pids"))
	resp, body := f.get("/cgi-bin/hangbody")
	if resp.StatusCode != 200 || body != "partial\n" {
		t.Errorf("got %d %q", resp.StatusCode, body)
	}
	waitGone(t, f.readPids(2), 5*time.Second)
}

func TestDisconnectKillsGroup(t *testing.T) {
	f := newFixture(t, "")
	f.script("hang", pidScript(`printf 'Content-Type: text/plain\n\nstarted\n'`))
	ctx, cancel := context.WithCancel(context.Background())
	req := gatewaytest.NewRequest(t, "GET", f.srv.URL+"/cgi-bin/hang", nil).WithContext(ctx)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	if line != "started\n" {
		t.Fatalf("first line %q", line)
	}
	pids := f.readPids(2)
	cancel()
	resp.Body.Close()
	waitGone(t, pids, 5*time.Second)
}

func TestLingeringScriptStopped(t *testing.T) {
	f := newFixture(t, "")
	// The script closes its output and goes on; a background child keeps
	// running too.
	f.script("linger", `printf 'Content-Type: text/plain\n\ndone'
exec >&- 2>&-
`+pidScript(""))
	resp, body := f.get("/cgi-bin/linger")
	if resp.StatusCode != 200 || body != "done" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	waitGone(t, f.readPids(2), KillGrace+5*time.Second)
}

func TestOrphansStopped(t *testing.T) {
	f := newFixture(t, "")
	f.script("fork", `sleep 60 >/dev/null 2>&1 &
echo $! > "$OUT/pids"
printf 'Content-Type: text/plain\n\nbye'
`)
	resp, body := f.get("/cgi-bin/fork")
	if resp.StatusCode != 200 || body != "bye" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	waitGone(t, f.readPids(1), 5*time.Second)
}

func TestMaxProcesses(t *testing.T) {
	f := newFixture(t, `max_processes = 1
queue_timeout = "300ms"`)
	f.script("slow", `sleep 1.5; printf 'Content-Type: text/plain\n\nslow'`)
	f.script("fast", `printf 'Content-Type: text/plain\n\nfast'`)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp, body := f.get("/cgi-bin/slow")
		if resp.StatusCode != 200 || body != "slow" {
			t.Errorf("slow: %d %q", resp.StatusCode, body)
		}
	}()
	// Wait until the slow script holds the slot.
	for i := 0; len(f.mod.slots) == 0; i++ {
		if i > 500 {
			t.Fatal("slow script never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, _ := f.get("/cgi-bin/fast")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over the limit: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	wg.Wait()
	if resp, body := f.get("/cgi-bin/fast"); resp.StatusCode != 200 || body != "fast" {
		t.Errorf("after: %d %q", resp.StatusCode, body)
	}
}

func TestConcurrent(t *testing.T) {
	f := newFixture(t, `max_processes = 8`)
	f.script("hello", `printf 'Content-Type: text/plain\n\nhello %s\n' "$QUERY_STRING"`)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := f.srv.Client().Get(fmt.Sprintf("%s/cgi-bin/hello?%d", f.srv.URL, i))
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := fmt.Sprintf("hello %d\n", i); resp.StatusCode != 200 || string(b) != want {
				t.Errorf("%d: %d %q", i, resp.StatusCode, b)
			}
		}()
	}
	wg.Wait()
}

func TestStderrLogged(t *testing.T) {
	f := newFixture(t, "")
	f.script("noisy", `echo "first complaint" >&2
printf 'Content-Type: text/plain\n\nok'
echo "second complaint" >&2
`)
	resp, _ := f.get("/cgi-bin/noisy")
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		logs := f.logs.String()
		if strings.Contains(logs, "second complaint") {
			for _, line := range strings.Split(logs, "\n") {
				if strings.Contains(line, "complaint") &&
					(!strings.Contains(line, filepath.Join(f.dir, "noisy")) || !strings.Contains(line, "GET /cgi-bin/noisy") || !strings.Contains(line, "remote=127.0.0.1")) {
					t.Errorf("log line lacks script or request: %s", line)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stderr not logged:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCleanupStopsScripts(t *testing.T) {
	f := newFixture(t, "")
	f.script("hang", pidScript(`printf 'Content-Type: text/plain\n\nstarted\n'`))
	resp, err := f.srv.Client().Get(f.srv.URL + "/cgi-bin/hang")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	pids := f.readPids(2)
	start := time.Now()
	if err := f.mod.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > KillGrace+time.Second {
		t.Errorf("cleanup took %v", d)
	}
	waitGone(t, pids, time.Second)
	resp2, _ := f.get("/cgi-bin/hang")
	if resp2.StatusCode != 503 {
		t.Errorf("after cleanup: %d, want 503", resp2.StatusCode)
	}
}

// TestCleanupKill: once Env.Kill closes, Cleanup kills scripts that
// ignore SIGTERM without waiting out KillGrace.
func TestCleanupKill(t *testing.T) {
	tests := []struct {
		name       string
		killBefore bool // Kill closes before Cleanup starts, else during it
	}{
		{"closed before cleanup", true},
		{"closed during cleanup", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, "")
			f.script("stuck", "trap '' TERM\n"+pidScript(`printf 'Content-Type: text/plain\n\nstarted\n'`))
			resp, err := f.srv.Client().Get(f.srv.URL + "/cgi-bin/stuck")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			pids := f.readPids(2)
			const after = 200 * time.Millisecond
			start := time.Now()
			if tt.killBefore {
				close(f.kill)
			} else {
				time.AfterFunc(after, func() { close(f.kill) })
			}
			if err := f.mod.Cleanup(); err != nil {
				t.Fatal(err)
			}
			if d, limit := time.Since(start), after+reapWait; d > limit {
				t.Errorf("cleanup took %v, want at most %v", d, limit)
			}
			waitGone(t, pids, time.Second)
		})
	}
}

func TestDescribe(t *testing.T) {
	m, _ := decode("script_alias \"/cgi-bin/\" {\npath = \"/x\"\ntimeout = \"5s\"\npass_auth = true\n}\n")
	if got := m.Describe(); !strings.Contains(got, "/x") || !strings.Contains(got, "5s") || !strings.Contains(got, "pass_auth") {
		t.Errorf("Describe() = %q", got)
	}
	m, _ = decode("script_alias \"/git/\" {\nprogram = \"/usr/lib/git-core/git-http-backend\"\n}\n")
	if got := m.Describe(); !strings.Contains(got, "CGI program /usr/lib/git-core/git-http-backend for every URL under /git/") ||
		!strings.Contains(got, `SCRIPT_NAME "/git"`) || !strings.Contains(got, "PATH_INFO") {
		t.Errorf("Describe() = %q", got)
	}
	if _, ok := registry.Lookup("script_alias"); !ok {
		t.Error("script_alias not registered")
	}
}
