package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cgiSite is a server root with the scripts of testdata/cgi: /cgi-bin/
// with the defaults, /slow-bin/ with a one-second timeout.
type cgiSite struct {
	h   *Harness
	srv *Server
	out string // $OUT of the scripts
}

func newCGISite(t *testing.T) *cgiSite {
	t.Helper()
	h := NewHarness(t)
	s := &cgiSite{h: h, out: filepath.Join(h.Dir, "out")}
	if err := os.Mkdir(s.out, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"env.sh", "echo.pl", "respond.py", "hang.sh", "broken.sh"} {
		b, err := os.ReadFile(filepath.Join("testdata", "cgi", name))
		if err != nil {
			t.Fatal(err)
		}
		h.Write("cgi-bin/"+name, string(b), 0o755)
	}
	h.Write("slow-bin/hang.sh", readTestdata(t, "hang.sh"), 0o755)
	h.Write("cgi-bin/not-executable", "#!/bin/sh\necho hi\n", 0o644)
	h.Write("cgi-bin/subdir/x", "", 0o644)
	h.Write("htdocs/page.txt", "a static page\n", 0o644)
	for _, prog := range []string{"hello", "stream"} {
		compileC(t, filepath.Join("testdata", "cgi", prog+".c"), filepath.Join(h.Dir, "cgi-bin", prog))
	}
	s.srv = h.Start(fmt.Sprintf(`
server {
  listen           = ["127.0.0.1:0"]
  shutdown_timeout = "1s"
}
log {
  access = "stdout"
  error  = "stderr"
  level  = "debug"
}
vhost "localhost" {
  default       = true
  document_root = "htdocs"
  script_alias "/cgi-bin/" {
    path = "cgi-bin"
    env  = { OUT = %q }
  }
  script_alias "/slow-bin/" {
    path    = "slow-bin"
    timeout = "1s"
    env     = { OUT = %q }
  }
}
`, s.out, s.out))
	return s
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "cgi", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// compileC builds a C program with gcc; a missing gcc fails the test.
func compileC(t *testing.T, src, dst string) {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Fatalf("gcc is needed to build the C CGI programs: %v", err)
	}
	if out, err := exec.Command(gcc, "-O2", "-o", dst, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", src, err, out)
	}
}

func (s *cgiSite) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	return doRequest(t, http.DefaultClient, mustNewRequest(t, "GET", s.srv.URL(path), nil))
}

func doRequest(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func mustNewRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func parseEnv(body string) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(body, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env
}

// pids reads the pids hang.sh recorded.
func (s *cgiSite) pids(t *testing.T) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(s.out, "pids"))
		if err == nil {
			var pids []int
			for _, f := range strings.Fields(string(b)) {
				var p int
				fmt.Sscan(f, &p)
				pids = append(pids, p)
			}
			if len(pids) == 2 {
				os.Remove(filepath.Join(s.out, "pids"))
				return pids
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("hang.sh recorded no pids")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// requireGone fails unless every pid has exited within timeout (a
// zombie waiting for a slow init counts as exited).
func requireGone(t *testing.T, pids []int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var alive []int
		for _, p := range pids {
			if isRunning(p) {
				alive = append(alive, p)
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes still running: %v", alive)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isRunning(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	st := string(b)
	i := strings.LastIndexByte(st, ')')
	return i < 0 || i+2 >= len(st) || st[i+2] != 'Z'
}

func TestCGIEnvironment(t *testing.T) {
	t.Setenv("HTTPD_E2E_SECRET", "must-not-leak")
	s := newCGISite(t)
	req := mustNewRequest(t, "GET", s.srv.URL("/cgi-bin/env.sh/extra/path?a=1&b=two"), nil)
	req.Header.Set("X-Custom", "yes")
	req.Header.Set("Proxy", "http://evil.example/")
	req.Header.Set("Authorization", "Basic c2VjcmV0")
	resp, body := doRequest(t, http.DefaultClient, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	env := parseEnv(body)
	_, port, _ := net.SplitHostPort(s.srv.Addr)
	root, _ := filepath.EvalSymlinks(s.h.Dir)
	want := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_PROTOCOL":   "HTTP/1.1",
		"SERVER_NAME":       "127.0.0.1",
		"SERVER_PORT":       port,
		"REQUEST_METHOD":    "GET",
		"SCRIPT_NAME":       "/cgi-bin/env.sh",
		"PATH_INFO":         "/extra/path",
		"QUERY_STRING":      "a=1&b=two",
		"REQUEST_URI":       "/cgi-bin/env.sh/extra/path?a=1&b=two",
		"REMOTE_ADDR":       "127.0.0.1",
		"HTTP_X_CUSTOM":     "yes",
		"HTTP_HOST":         s.srv.Addr,
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	for _, k := range []string{"SERVER_SOFTWARE", "REMOTE_PORT", "SCRIPT_FILENAME", "DOCUMENT_ROOT", "PATH_TRANSLATED", "PATH"} {
		if env[k] == "" {
			t.Errorf("%s is missing", k)
		}
	}
	// The server names itself with the version httpd -v prints.
	version, _, _ := s.h.Run("-v")
	if want := "httpd/" + strings.TrimPrefix(strings.TrimSpace(version), "httpd "); env["SERVER_SOFTWARE"] != want {
		t.Errorf("SERVER_SOFTWARE = %q, want %q", env["SERVER_SOFTWARE"], want)
	}
	if !strings.HasSuffix(env["SCRIPT_FILENAME"], "/cgi-bin/env.sh") || !strings.HasSuffix(env["PATH_TRANSLATED"], "/htdocs/extra/path") {
		t.Errorf("SCRIPT_FILENAME=%q PATH_TRANSLATED=%q (root %s)", env["SCRIPT_FILENAME"], env["PATH_TRANSLATED"], root)
	}
	for _, k := range []string{"HTTP_PROXY", "HTTP_AUTHORIZATION", "HTTPD_E2E_SECRET", "HOME", "HTTPS"} {
		if _, ok := env[k]; ok {
			t.Errorf("%s is set", k)
		}
	}
}

func TestCGILargePost(t *testing.T) {
	s := newCGISite(t)
	data := make([]byte, 5<<20)
	rand.Read(data)
	sum := sha256.Sum256(data)
	resp, body := doRequest(t, http.DefaultClient, mustNewRequest(t, "POST", s.srv.URL("/cgi-bin/echo.pl"), bytes.NewReader(data)))
	if resp.StatusCode != 200 || sha256.Sum256([]byte(body)) != sum || resp.Header.Get("X-Content-Length") != "5242880" {
		t.Fatalf("status %d, %d bytes back, CONTENT_LENGTH %q", resp.StatusCode, len(body), resp.Header.Get("X-Content-Length"))
	}
	// Chunked: collected, then passed with CONTENT_LENGTH.
	req := mustNewRequest(t, "POST", s.srv.URL("/cgi-bin/echo.pl"), io.MultiReader(bytes.NewReader(data)))
	req.ContentLength = -1
	resp, body = doRequest(t, http.DefaultClient, req)
	if resp.StatusCode != 200 || sha256.Sum256([]byte(body)) != sum || resp.Header.Get("X-Content-Length") != "5242880" {
		t.Fatalf("chunked: status %d, %d bytes back, CONTENT_LENGTH %q", resp.StatusCode, len(body), resp.Header.Get("X-Content-Length"))
	}
}

func TestCGIStatusAndLocation(t *testing.T) {
	s := newCGISite(t)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		query    string
		status   int
		location string
		body     string
	}{
		{"", 200, "", "hello from python\n"},
		{"notfound", 404, "", "no such thing\n"},
		{"client", 302, "https://example.com/elsewhere", ""},
		{"moved", 301, "https://example.com/moved", "<a href=\"https://example.com/moved\">moved</a>\n"},
		{"static", 200, "", "a static page\n"},
	}
	for _, tt := range tests {
		t.Run("q="+tt.query, func(t *testing.T) {
			resp, body := doRequest(t, noFollow, mustNewRequest(t, "GET", s.srv.URL("/cgi-bin/respond.py?"+tt.query), nil))
			if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location || body != tt.body {
				t.Errorf("got %d %q %q, want %d %q %q", resp.StatusCode, resp.Header.Get("Location"), body, tt.status, tt.location, tt.body)
			}
		})
	}
	t.Run("internal redirect", func(t *testing.T) {
		resp, body := doRequest(t, noFollow, mustNewRequest(t, "POST", s.srv.URL("/cgi-bin/respond.py?local"), strings.NewReader("x=1")))
		env := parseEnv(body)
		if resp.StatusCode != 200 || env["REQUEST_METHOD"] != "GET" || env["PATH_INFO"] != "/after-redirect" ||
			env["QUERY_STRING"] != "from=python" || env["REDIRECT_URL"] != "/cgi-bin/respond.py" {
			t.Errorf("status %d, env:\n%s", resp.StatusCode, body)
		}
	})
	t.Run("cookies", func(t *testing.T) {
		resp, _ := s.get(t, "/cgi-bin/respond.py?cookies")
		if got := resp.Header.Values("Set-Cookie"); len(got) != 2 {
			t.Errorf("Set-Cookie = %q", got)
		}
	})
}

func TestCGIStreaming(t *testing.T) {
	s := newCGISite(t)
	start := time.Now()
	resp, err := http.Get(s.srv.URL("/cgi-bin/stream"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil || first != "first\n" {
		t.Fatalf("first line %q, %v", first, err)
	}
	if d := time.Since(start); d >= 1500*time.Millisecond {
		t.Errorf("first line after %v, before the script's 2s sleep ended it should be there", d)
	}
	second, _ := br.ReadString('\n')
	if second != "second\n" || time.Since(start) < 2*time.Second {
		t.Errorf("second line %q after %v", second, time.Since(start))
	}
}

func TestCGITimeoutKillsProcessGroup(t *testing.T) {
	s := newCGISite(t)
	start := time.Now()
	resp, _ := s.get(t, "/slow-bin/hang.sh?quiet")
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504", resp.StatusCode)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("took %v with a 1s timeout", d)
	}
	requireGone(t, s.pids(t), 5*time.Second)
	s.srv.WaitStderr("timed out after 1s", 5*time.Second)
}

// TestCGIDisconnectKillsProcessGroup: a client that resets the connection
// is gone (SPEC §9; one that only sends a FIN may still be reading).
func TestCGIDisconnectKillsProcessGroup(t *testing.T) {
	s := newCGISite(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := mustNewRequest(t, "GET", s.srv.URL("/cgi-bin/hang.sh"), nil).WithContext(ctx)
	resetting := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // close with a reset
			}
			return c, err
		},
	}}
	resp, err := resetting.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	if line != "started\n" {
		t.Fatalf("first line %q", line)
	}
	pids := s.pids(t)
	cancel()
	resp.Body.Close()
	requireGone(t, pids, 5*time.Second)
}

func TestCGIConcurrent(t *testing.T) {
	s := newCGISite(t)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := "/cgi-bin/hello"
			want := "hello\n"
			if i%2 == 1 {
				path, want = "/cgi-bin/respond.py", "hello from python\n"
			}
			resp, err := http.Get(s.srv.URL(path))
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != want {
				t.Errorf("request %d: %d %q", i, resp.StatusCode, b)
			}
		}()
	}
	wg.Wait()
}

func TestCGIBadScripts(t *testing.T) {
	s := newCGISite(t)
	tests := []struct {
		path   string
		status int
		log    string
	}{
		{"/cgi-bin/broken.sh", 502, "invalid CGI response"},
		{"/cgi-bin/missing", 404, "no such script"},
		{"/cgi-bin/not-executable", 403, "not executable"},
		{"/cgi-bin/subdir", 403, "is a directory"},
		{"/cgi-bin/%2e%2e/httpd.hcl", 404, "dot segment"},
		{"/cgi-bin/subdir%2fx", 404, "encoded slash"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, _ := s.get(t, tt.path)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			s.srv.WaitStderr(tt.log, 5*time.Second)
		})
	}
	s.srv.WaitStderr("complaint from broken.sh", 5*time.Second)
	for _, line := range strings.Split(s.srv.Stderr(), "\n") {
		if strings.Contains(line, "invalid CGI response") && !strings.Contains(line, "broken.sh") {
			t.Errorf("502 log line does not name the script: %s", line)
		}
	}
}

func TestCGIStopEndsScripts(t *testing.T) {
	s := newCGISite(t)
	resp, err := http.Get(s.srv.URL("/cgi-bin/hang.sh"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	pids := s.pids(t)
	s.srv.Stop()
	requireGone(t, pids, 5*time.Second)
}
