package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"httpd/internal/testport"
)

// coreRaw sends req as is over a new connection to addr and returns all
// the server answers until it closes the connection (or 3s pass).
func coreRaw(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

// coreGet requests http://addr+path with the Host header host.
func coreGet(t *testing.T, client *http.Client, addr, host, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if client == nil {
		client = noRedirect
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", path, host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", path, err)
	}
	return resp, string(b)
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	return testport.Free(t, 1)[0]
}

const coreSites = `
server {
  listen           = ["127.0.0.1:0"]
  shutdown_timeout = "5s"
}
log {
  access = "stdout"
  format = "common"
  level  = "debug"
}
vhost "first.test" {
  document_root = "first"
}
vhost "a.test" {
  aliases       = ["www.a.test", "*.a.example"]
  document_root = "a"
}
vhost "deep.a.example" {
  aliases       = ["*.deep.a.example"]
  document_root = "deep"
}
vhost "b.test" {
  default       = true
  document_root = "b"
}
vhost "other.test" {
  listen        = ["127.0.0.2:0"]
  document_root = "other"
}
`

func writeSites(h *Harness) {
	for _, s := range []string{"first", "a", "deep", "b", "other"} {
		h.Write(s+"/index.html", "site "+s+"\n", 0o644)
	}
}

func TestCoreVHostRouting(t *testing.T) {
	t.Parallel()
	h := NewHarness(t)
	writeSites(h)
	srv := h.Start(coreSites)
	addr := srv.Addrs["127.0.0.1:0"]
	tests := []struct{ host, want string }{
		{"a.test", "a"},
		{"www.a.test", "a"},
		{"WWW.A.Test", "a"},
		{"a.test.", "a"},
		{"a.test:" + strings.Split(addr, ":")[1], "a"},
		{"x.a.example", "a"},
		{"deep.a.example", "deep"},
		{"x.deep.a.example", "deep"},
		{"a.example", "b"},
		{"first.test", "first"},
		{"unknown.test", "b"},
		{"127.0.0.1", "b"},
		{"other.test", "b"}, // other.test is not on this listener
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			resp, body := coreGet(t, nil, addr, tt.host, "/")
			if resp.StatusCode != 200 || body != "site "+tt.want+"\n" {
				t.Errorf("Host %s: %d %q, want site %s", tt.host, resp.StatusCode, body, tt.want)
			}
		})
	}
	other := srv.Addrs["127.0.0.2:0"]
	if other == "" || !strings.HasPrefix(other, "127.0.0.2:") {
		t.Fatalf("no second listener: %v", srv.Addrs)
	}
	for _, host := range []string{"other.test", "a.test", ""} {
		if resp, body := coreGet(t, nil, other, host, "/"); body != "site other\n" {
			t.Errorf("127.0.0.2, Host %q: %d %q, want the only vhost there", host, resp.StatusCode, body)
		}
	}
	// HTTP/1.0 without Host: the default vhost. HTTP/1.1 without Host: 400.
	if got := coreRaw(t, addr, "GET / HTTP/1.0\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.0 200 ") || !strings.HasSuffix(got, "site b\n") {
		t.Errorf("HTTP/1.0 without Host: %q", got)
	}
	if got := coreRaw(t, addr, "GET / HTTP/1.1\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 400 ") {
		t.Errorf("HTTP/1.1 without Host: %q", got)
	}
	srv.Stop()
}

func TestCoreCheckConfig(t *testing.T) {
	t.Parallel()
	h := NewHarness(t)
	h.Write("htdocs/index.html", "hi", 0o644)
	h.Write("good.hcl", "vhost \"a.test\" {\n  document_root = \"htdocs\"\n  static { browse = true }\n}\n", 0o644)
	h.Write("bad.hcl", "server {\n  shutdown_timeout = \"10 s\"\n}\n\nvhost \"a.test\" {\n  document_root = \"htdocs\"\n\n    statc {\n    browse = true\n  }\n}\n", 0o644)

	stdout, stderr, code := h.Run("-t", "-f", "good.hcl")
	if code != 0 || stdout != "Syntax OK\n" {
		t.Errorf("-t good.hcl: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	stdout, stderr, code = h.Run("-t", "-f", "bad.hcl")
	if code != 1 {
		t.Errorf("-t bad.hcl: exit %d, want 1", code)
	}
	if strings.Contains(stdout, "Syntax OK") {
		t.Errorf("-t bad.hcl printed Syntax OK")
	}
	for _, want := range []string{
		`bad.hcl:8:5: Unsupported block type: Blocks of type "statc" are not expected here. Did you mean "static"?`,
		`bad.hcl:2:22: Invalid duration for shutdown_timeout`, // every error, in one pass
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("-t bad.hcl: stderr lacks %q:\n%s", want, stderr)
		}
	}
	// Without -t the bad config does not start either.
	_, stderr, code = h.Run("-f", "bad.hcl")
	if code != 1 || !strings.Contains(stderr, `Did you mean "static"?`) {
		t.Errorf("serving bad.hcl: exit %d, stderr %q", code, stderr)
	}
	// The default config file is conf/httpd.hcl under the working folder.
	h.Write("conf/httpd.hcl", "server_root = \"..\"\nvhost \"a.test\" { document_root = \"htdocs\" }\n", 0o644)
	if stdout, stderr, code := h.Run("-t"); code != 0 || stdout != "Syntax OK\n" {
		t.Errorf("-t with conf/httpd.hcl: exit %d, %q %q", code, stdout, stderr)
	}
}

func TestCoreInfoCommands(t *testing.T) {
	t.Parallel()
	h := NewHarness(t)
	writeSites(h)
	h.Write("httpd.hcl", coreSites, 0o644)
	h.Write("a/icons/x.png", "png", 0o644)

	stdout, stderr, code := h.Run("-S", "-f", "httpd.hcl")
	if code != 0 {
		t.Fatalf("-S: exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"127.0.0.1:0 (http):\n    first.test  ",
		"    b.test (default)  ",
		"        aliases: www.a.test, *.a.example\n",
		"127.0.0.2:0 (http):\n    other.test (default)",
		"vhost a.test  httpd.hcl:",
		"\n    document_root: " + filepath.Join(h.Dir, "a") + "\n    stages, in pipeline order:\n      content  static ",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("-S lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _, code = h.Run("-l")
	if code != 0 || !regexp.MustCompile(`(?m)^  static +content +\S`).MatchString(stdout) {
		t.Errorf("-l: exit %d:\n%s", code, stdout)
	}
	stdout, _, code = h.Run("-v")
	if code != 0 || !regexp.MustCompile(`^httpd \S+\n$`).MatchString(stdout) {
		t.Errorf("-v: exit %d: %q", code, stdout)
	}
}

func TestCoreServe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args func(port int) []string
	}{
		{"dir first", func(p int) []string { return []string{"serve", "site", "-p", strconv.Itoa(p), "-b", "127.0.0.1"} }},
		{"flags first", func(p int) []string { return []string{"serve", "-b", "127.0.0.1", "-p", strconv.Itoa(p), "site"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := NewHarness(t)
			h.Write("site/hello.txt", "hello from serve\n", 0o644)
			h.Write("site/sub/a.txt", "a", 0o644)
			port := freePort(t)
			srv := h.StartArgs(tt.args(port)...)
			base := fmt.Sprintf("http://127.0.0.1:%d", port)
			// stdout and stderr are read apart: the line may come after
			// the start that the harness waited for on stderr.
			srv.WaitStdout(fmt.Sprintf("Serving HTTP on 127.0.0.1 port %d", port), 5*time.Second)
			resp, body := coreGet(t, nil, fmt.Sprintf("127.0.0.1:%d", port), "localhost", "/hello.txt")
			if resp.StatusCode != 200 || body != "hello from serve\n" {
				t.Errorf("GET /hello.txt: %d %q", resp.StatusCode, body)
			}
			// A folder without index.html is listed, as http.server does.
			resp, body = coreGet(t, nil, fmt.Sprintf("127.0.0.1:%d", port), "localhost", "/sub/")
			if resp.StatusCode != 200 || !strings.Contains(body, "a.txt") {
				t.Errorf("GET /sub/: %d %q", resp.StatusCode, body)
			}
			// The access log goes to stdout.
			srv.WaitStdout(`"GET /hello.txt HTTP/1.1" 200 17`, 5*time.Second)
			_ = base
			srv.Stop()
		})
	}
}

// TestCoreSignalReload: SIGHUP with a good config serves the new content
// and vhosts on the connections already open; with a bad one the error is
// logged with file:line:col and the running config keeps serving.
func TestCoreSignalReload(t *testing.T) {
	t.Parallel()
	h := NewHarness(t)
	h.Write("one/index.html", "one\n", 0o644)
	h.Write("two/index.html", "two\n", 0o644)
	h.Write("new/index.html", "new vhost\n", 0o644)
	config := func(root, extra string) string {
		return fmt.Sprintf(`server {
  listen = ["127.0.0.1:0"]
}
vhost "a.test" {
  document_root = %q
}
%s`, root, extra)
	}
	srv := h.Start(config("one", ""))
	addr := srv.Addr

	// A keep-alive connection opened before the reload.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	ask := func(host string) (int, string) {
		t.Helper()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host); err != nil {
			t.Fatalf("keep-alive connection: %v", err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("keep-alive connection: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if _, body := ask("a.test"); body != "one\n" {
		t.Fatalf("before reload: %q", body)
	}

	h.Write("httpd.hcl", config("two", `vhost "new.test" {
  document_root = "new"
}`), 0o644)
	srv.Signal(syscall.SIGHUP)
	srv.WaitStderr("config reloaded", 10*time.Second)
	if _, body := ask("a.test"); body != "two\n" {
		t.Errorf("after reload, same connection: %q, want two", body)
	}
	if _, body := ask("new.test"); body != "new vhost\n" {
		t.Errorf("after reload, new vhost: %q", body)
	}

	// A bad config: logged with its position, the old one serves on.
	h.Write("httpd.hcl", config("two", "vhost \"bad.test\" {\n  document_root = \"two\"\n  statc {}\n}\n"), 0o644)
	srv.Signal(syscall.SIGHUP)
	srv.WaitStderr("config not reloaded", 10*time.Second)
	if !regexp.MustCompile(`httpd\.hcl:9:3: Unsupported block type[^\n]*Did you mean \\?"static\\?"`).MatchString(srv.Stderr()) {
		t.Errorf("the error log lacks the diagnostic with file:line:col:\n%s", srv.Stderr())
	}
	if _, body := ask("new.test"); body != "new vhost\n" {
		t.Errorf("after a failed reload, same connection: %q", body)
	}
	resp, body := coreGet(t, nil, addr, "a.test", "/")
	if resp.StatusCode != 200 || body != "two\n" {
		t.Errorf("after a failed reload, new connection: %d %q", resp.StatusCode, body)
	}
	srv.Stop()
}

// TestCoreSignalTerm: a request in flight when SIGTERM arrives finishes,
// and the server exits 0 within shutdown_timeout.
func TestCoreSignalTerm(t *testing.T) {
	t.Parallel()
	h := NewHarness(t)
	const size = 32 << 20
	big := filepath.Join(h.Dir, "htdocs", "big.bin")
	h.Write("htdocs/index.html", "hi", 0o644)
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil { // sparse: quick to make
		t.Fatal(err)
	}
	f.Close()
	srv := h.Start(`server {
  listen           = ["127.0.0.1:0"]
  shutdown_timeout = "20s"
}
vhost "a.test" {
  document_root = "htdocs"
}`)
	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A small receive buffer keeps the response in flight.
	_ = conn.(*net.TCPConn).SetReadBuffer(16 << 10)
	if _, err := io.WriteString(conn, "GET /big.bin HTTP/1.1\r\nHost: a.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /big.bin: %v %v", resp, err)
	}
	// Read a little, then stop the server while most is still unsent.
	if _, err := io.CopyN(io.Discard, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	srv.Signal(syscall.SIGTERM)
	srv.WaitStderr("shutting down", 10*time.Second)
	// New connections are refused once the listener is closed.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", srv.Addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Error("the server still accepts connections while shutting down")
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-srv.Done():
		t.Fatal("the server exited with a request in flight")
	default:
	}
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != size-1<<20 {
		t.Errorf("the in-flight response was cut: read %d more bytes of %d (%v)", n, size-1<<20, err)
	}
	srv.Wait(15 * time.Second)
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("shutdown took %v, longer than shutdown_timeout", took)
	}
	if !strings.Contains(srv.Stderr(), "msg=stopped") {
		t.Errorf("no stop message:\n%s", srv.Stderr())
	}
}

// TestCoreLimits: each malformed request gets its 4xx and leaves an
// error-log line with the client's address.
func TestCoreLimits(t *testing.T) {
	t.Parallel()
	h := NewHarness(t)
	h.Write("htdocs/index.html", "hi", 0o644)
	srv := h.Start(`server {
  listen = ["127.0.0.1:0"]
  limits {
    read_header_timeout = "500ms"
    max_header_bytes    = "2KiB"
    max_body_bytes      = 1000
  }
}
log {
  level = "info"
}
vhost "a.test" {
  document_root = "htdocs"
}`)
	tests := []struct {
		name   string
		req    string
		status string
		log    string // in the same error-log line as the client address
	}{
		{"oversized header", "GET / HTTP/1.1\r\nHost: a.test\r\nX-Big: " + strings.Repeat("x", 16<<10) + "\r\n\r\n", "431", "status=431"},
		{"body over max_body_bytes", "POST /index.html HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5000\r\n\r\n", "413", "max_body_bytes"},
		{"conflicting Content-Length and Transfer-Encoding", "POST /index.html HTTP/1.1\r\nHost: a.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400", "Content-Length and Transfer-Encoding"},
		{"slow header", "GET / HTTP/1.1\r\nHost: a.te", "408", "read_header_timeout"},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", "400", "Host"},
		{"bad request line", "GET\r\n\r\n", "400", "status=400"},
		{"bad header", "GET / HTTP/1.1\r\nHost: a.test\r\nBad Header\r\n\r\n", "400", "status=400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial("tcp", srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			local := c.LocalAddr().String()
			if _, err := io.WriteString(c, tt.req); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			b, _ := io.ReadAll(c) // each of these ends the connection
			if !strings.HasPrefix(string(b), "HTTP/1.1 "+tt.status+" ") {
				t.Fatalf("answer %q, want %s", b, tt.status)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				found := false
				for _, l := range strings.Split(srv.Stderr(), "\n") {
					if strings.Contains(l, "remote="+local) && strings.Contains(l, tt.log) {
						found = true
					}
				}
				if found {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no error-log line with remote=%s and %q:\n%s", local, tt.log, srv.Stderr())
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	// The server is fine afterwards.
	t.Run("still serving", func(t *testing.T) {
		if resp, body := coreGet(t, nil, srv.Addr, "a.test", "/"); resp.StatusCode != 200 || body != "hi" {
			t.Errorf("GET /: %d %q", resp.StatusCode, body)
		}
	})
}

func TestCoreAccessLog(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format string
		access string // where the log goes
		want   *regexp.Regexp
	}{
		{"common", "stdout", regexp.MustCompile(`(?m)^127\.0\.0\.1 - - \[[^]]+\] "GET /page\.txt\?x=1 HTTP/1\.1" 200 5$`)},
		{"combined", "logs/access.log", regexp.MustCompile(`(?m)^127\.0\.0\.1 - - \[[^]]+\] "GET /page\.txt\?x=1 HTTP/1\.1" 200 5 "http://ref\.test/" "core-test/1\.0"$`)},
		{"json", "stdout", regexp.MustCompile(`(?m)^\{.*"uri":"/page\.txt\?x=1".*\}$`)},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			t.Parallel()
			h := NewHarness(t)
			h.Write("htdocs/page.txt", "page\n", 0o644)
			h.Write("logs/.keep", "", 0o644)
			srv := h.Start(fmt.Sprintf(`server {
  listen = ["127.0.0.1:0"]
}
log {
  access = %q
  format = %q
}
vhost "a.test" {
  document_root = "htdocs"
}`, tt.access, tt.format))
			resp, _ := coreGet(t, nil, srv.Addr, "a.test", "/page.txt?x=1", "Referer", "http://ref.test/", "User-Agent", "core-test/1.0")
			if resp.StatusCode != 200 {
				t.Fatalf("GET: %d", resp.StatusCode)
			}
			read := func() string {
				if tt.access == "stdout" {
					return srv.Stdout()
				}
				b, _ := os.ReadFile(filepath.Join(h.Dir, tt.access))
				return string(b)
			}
			deadline := time.Now().Add(5 * time.Second)
			for !tt.want.MatchString(read()) {
				if time.Now().After(deadline) {
					t.Fatalf("the access log has no line matching %s:\n%s", tt.want, read())
				}
				time.Sleep(10 * time.Millisecond)
			}
			if tt.format == "json" {
				line := tt.want.FindString(read())
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("not JSON: %v: %s", err, line)
				}
				if rec["status"] != 200.0 || rec["vhost"] != "a.test" || rec["remote"] != "127.0.0.1" || rec["user_agent"] != "core-test/1.0" {
					t.Errorf("record = %v", rec)
				}
			}
			srv.Stop()
		})
	}
}
