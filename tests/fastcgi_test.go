package tests

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"httpd/internal/testutil"
	_ "httpd/modules/fastcgi"
)

func init() {
	// TestReadmeExamples decodes modules/fastcgi/README.md with this
	// module.
	readmeOwner["fastcgi"] = "fastcgi"
}

// phpFPM is a php-fpm run by a test.
type phpFPM struct {
	Sock string // its Unix socket
	Log  string // its error log
	cmd  *exec.Cmd
	done chan struct{}
}

// phpFPMBinary is Debian's PHP-FPM, or $HTTPD_TEST_PHP_FPM. The tests
// fail when it is missing: CI installs php8.2-fpm.
func phpFPMBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("HTTPD_TEST_PHP_FPM")
	if bin == "" {
		bin = "/usr/sbin/php-fpm8.2"
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("FastCGI tests need PHP-FPM at %s (apt-get install php8.2-fpm, or set HTTPD_TEST_PHP_FPM): %v", bin, err)
	}
	return bin
}

// startPHPFPM runs php-fpm in the foreground with a pool of its own: a
// Unix socket in a temporary folder, three static workers, no php.ini
// (-n) so that the distribution's settings do not matter. It is stopped
// when the test ends.
func startPHPFPM(t *testing.T) *phpFPM {
	t.Helper()
	bin := phpFPMBinary(t)
	dir, err := os.MkdirTemp("", "fpm") // short: a socket path has ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, sub := range []string{"sessions", "uploads"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f := &phpFPM{Sock: filepath.Join(dir, "fpm.sock"), Log: filepath.Join(dir, "fpm.log"), done: make(chan struct{})}
	conf := fmt.Sprintf(`[global]
error_log = %[1]s/fpm.log
daemonize = no
pid = %[1]s/fpm.pid

[test]
listen = %[1]s/fpm.sock
pm = static
pm.max_children = 3
catch_workers_output = yes
security.limit_extensions = .php
php_admin_value[session.save_path] = %[1]s/sessions
php_admin_value[upload_tmp_dir] = %[1]s/uploads
php_admin_value[upload_max_filesize] = 4M
php_admin_value[post_max_size] = 8M
php_admin_value[display_errors] = off
`, dir)
	confPath := filepath.Join(dir, "pool.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-n", "-F", "-y", confPath}
	if os.Geteuid() == 0 {
		args = append(args, "-R") // workers run as root, as the test does
	}
	f.cmd = exec.Command(bin, args...)
	var out bytes.Buffer
	f.cmd.Stdout, f.cmd.Stderr = &out, &out
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		f.cmd.Wait()
		close(f.done)
	}()
	t.Cleanup(f.Stop)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.Dial("unix", f.Sock); err == nil {
			c.Close()
			return f
		}
		select {
		case <-f.done:
			log, _ := os.ReadFile(f.Log)
			t.Fatalf("php-fpm exited before serving:\n%s\n%s", out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(f.Log)
			t.Fatalf("php-fpm did not listen on %s within 20s:\n%s", f.Sock, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop terminates php-fpm (SIGTERM to its master, by pid) and waits for
// it to exit; SIGKILL after 10s.
func (f *phpFPM) Stop() {
	select {
	case <-f.done:
		return
	default:
	}
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-f.done:
	case <-time.After(10 * time.Second):
		_ = f.cmd.Process.Kill()
		<-f.done
	}
}

// phpSite copies testdata/php into the harness's htdocs.
func phpSite(t *testing.T, h *Harness) {
	t.Helper()
	err := filepath.WalkDir(filepath.Join("testdata", "php"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join("testdata", "php"), p)
		h.Write(filepath.Join("htdocs", rel), string(b), 0o644)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func fastcgiConfig(sock string) string {
	return fmt.Sprintf(`
server {
  listen           = ["127.0.0.1:0"]
  shutdown_timeout = "2s"
}
log {
  access = "stdout"
  error  = "stderr"
  level  = "debug"
}
vhost "localhost" {
  default       = true
  document_root = "htdocs"
  fastcgi "/" {
    to               = "unix:%s"
    index            = ["index.php", "index.html"]
    front_controller = "/index.php"
    env              = { APP_ENV = "test" }
    timeout          = "20s"
  }
}
`, sock)
}

// TestFastCGIPHPFPMConnectionsUnderLoad sends requests from more clients
// than PHP-FPM has workers: httpd queues them for its kept connections,
// so it opens a few connections, not one per request. A relay in front
// of PHP-FPM's socket counts them.
func TestFastCGIPHPFPMConnectionsUnderLoad(t *testing.T) {
	const clients, each = 12, 30
	fpm := startPHPFPM(t)
	relay, opened := countingRelay(t, fpm.Sock)
	h := NewHarness(t)
	h.Write("htdocs/hello.php", "<?php echo 'hello';\n", 0o644)
	srv := h.Start(fastcgiConfig(relay))
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	errs := make(chan error, clients)
	for range clients {
		go func() {
			for range each {
				resp, err := client.Get(srv.URL("/hello.php"))
				if err != nil {
					errs <- err
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(body) != "hello" || err != nil {
					errs <- fmt.Errorf("%d %q %v", resp.StatusCode, body, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range clients {
		if err := testutil.Recv(t, errs, 60*time.Second, "a client's requests"); err != nil {
			t.Fatal(err)
		}
	}
	// The first burst opens up to one per client; one per request would
	// be 360.
	if n := opened.Load(); n > clients*each/4 {
		t.Errorf("%d requests took %d connections to PHP-FPM's 3 workers", clients*each, n)
	}
}

// countingRelay listens on a Unix socket beside sock and relays each
// connection to it, counting the connections; it returns its path.
func countingRelay(t *testing.T, sock string) (string, *atomic.Int64) {
	t.Helper()
	path := sock + ".relay"
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			go func() {
				defer c.Close()
				up, err := net.Dial("unix", sock)
				if err != nil {
					return
				}
				defer up.Close()
				go func() {
					io.Copy(up, c)
					up.(*net.UnixConn).CloseWrite()
				}()
				io.Copy(c, up)
			}()
		}
	}()
	return path, &n
}

// TestFastCGIPHPFPM runs a small PHP app through the real binary and
// Debian's PHP-FPM.
func TestFastCGIPHPFPM(t *testing.T) {
	fpm := startPHPFPM(t)
	h := NewHarness(t)
	phpSite(t, h)
	srv := h.Start(fastcgiConfig(fpm.Sock))
	htdocs := filepath.Join(h.Dir, "htdocs")
	client := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	get := func(t *testing.T, path string) (*http.Response, string) {
		t.Helper()
		return doRequest(t, client, mustNewRequest(t, "GET", srv.URL(path), nil))
	}

	t.Run("front controller route", func(t *testing.T) {
		resp, body := get(t, "/post/42?ref=x")
		if resp.StatusCode != 200 || body != "post 42 uri=/post/42?ref=x script=/index.php\n" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		if !strings.HasPrefix(resp.Header.Get("X-Powered-By"), "PHP/") {
			t.Errorf("X-Powered-By = %q: was this PHP?", resp.Header.Get("X-Powered-By"))
		}
		resp, body = get(t, "/nothing/here")
		if resp.StatusCode != 404 || body != "no route for /nothing/here\n" {
			t.Errorf("unrouted: %d %q", resp.StatusCode, body)
		}
	})

	t.Run("script name and path info", func(t *testing.T) {
		req := mustNewRequest(t, "GET", srv.URL("/info.php/extra/a%20b?q=1"), nil)
		req.Header.Set("X-Test", "yes")
		resp, body := doRequest(t, client, req)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		want := map[string]any{
			"SCRIPT_NAME":       "/info.php",
			"SCRIPT_FILENAME":   filepath.Join(htdocs, "info.php"),
			"__FILE__":          filepath.Join(htdocs, "info.php"),
			"PATH_INFO":         "/extra/a b",
			"PATH_TRANSLATED":   filepath.Join(htdocs, "extra/a b"),
			"PHP_SELF":          "/info.php/extra/a b",
			"REQUEST_URI":       "/info.php/extra/a%20b?q=1",
			"QUERY_STRING":      "q=1",
			"DOCUMENT_ROOT":     htdocs,
			"REDIRECT_STATUS":   "200",
			"HTTPS":             nil,
			"REQUEST_METHOD":    "GET",
			"GATEWAY_INTERFACE": "CGI/1.1",
			"APP_ENV":           "test",
			"HTTP_X_TEST":       "yes",
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %#v, want %#v", k, got[k], v)
			}
		}
		if s, _ := got["SERVER_SOFTWARE"].(string); !strings.HasPrefix(s, "httpd/") {
			t.Errorf("SERVER_SOFTWARE = %q", s)
		}
	})

	t.Run("directory index", func(t *testing.T) {
		if resp, body := get(t, "/blog/"); resp.StatusCode != 200 || body != "blog index at /blog/index.php\n" {
			t.Errorf("/blog/: %d %q", resp.StatusCode, body)
		}
		if resp, _ := get(t, "/blog"); resp.StatusCode != 301 || resp.Header.Get("Location") != "/blog/" {
			t.Errorf("/blog: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("static file", func(t *testing.T) {
		want, _ := os.ReadFile(filepath.Join(htdocs, "assets", "style.css"))
		resp, body := get(t, "/assets/style.css")
		if resp.StatusCode != 200 || body != string(want) {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/css; charset=utf-8" {
			t.Errorf("Content-Type = %q", ct)
		}
		if resp.Header.Get("X-Powered-By") != "" || resp.Header.Get("Etag") == "" {
			t.Errorf("not served by the file server: %v", resp.Header)
		}
		req := mustNewRequest(t, "GET", srv.URL("/assets/style.css"), nil)
		req.Header.Set("If-None-Match", resp.Header.Get("Etag"))
		if resp, _ := doRequest(t, client, req); resp.StatusCode != 304 {
			t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
		}
	})

	t.Run("session", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
		for i := 1; i <= 3; i++ {
			resp, body := doRequest(t, c, mustNewRequest(t, "GET", srv.URL("/visits"), nil))
			if resp.StatusCode != 200 || body != fmt.Sprintf("visits %d\n", i) {
				t.Fatalf("visit %d: %d %q", i, resp.StatusCode, body)
			}
		}
		u, _ := url.Parse(srv.URL("/"))
		if cookies := jar.Cookies(u); len(cookies) != 1 || cookies[0].Name != "PHPSESSID" {
			t.Errorf("cookies %v", cookies)
		}
	})

	t.Run("form post", func(t *testing.T) {
		form := url.Values{"name": {"Ada Lovelace"}, "age": {"36"}}
		req := mustNewRequest(t, "POST", srv.URL("/form"), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, body := doRequest(t, client, req); resp.StatusCode != 200 || body != "hello Ada Lovelace, you are 36\n" {
			t.Errorf("%d %q", resp.StatusCode, body)
		}
		if resp, _ := get(t, "/form"); resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
			t.Errorf("GET /form: %d %q", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})

	t.Run("upload", func(t *testing.T) {
		data := make([]byte, 1<<20+123)
		rand.Read(data)
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("note", "a megabyte")
		fw, _ := mw.CreateFormFile("file", "blob.bin")
		fw.Write(data)
		mw.Close()
		for _, chunked := range []bool{false, true} {
			var body io.Reader = bytes.NewReader(buf.Bytes())
			if chunked {
				body = io.MultiReader(body) // no length known: sent chunked
			}
			req := mustNewRequest(t, "POST", srv.URL("/upload"), body)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			resp, got := doRequest(t, client, req)
			if resp.StatusCode != 200 {
				t.Fatalf("chunked %v: %d %q", chunked, resp.StatusCode, got)
			}
			var out struct {
				Name, Sha256, Note string
				Size               int
			}
			if err := json.Unmarshal([]byte(got), &out); err != nil {
				t.Fatalf("%v: %s", err, got)
			}
			sum := sha256.Sum256(data)
			if out.Name != "blob.bin" || out.Size != len(data) || out.Sha256 != hex.EncodeToString(sum[:]) || out.Note != "a megabyte" {
				t.Errorf("chunked %v: PHP saw %+v", chunked, out)
			}
		}
	})

	t.Run("redirect", func(t *testing.T) {
		resp, _ := get(t, "/go")
		if resp.StatusCode != 302 || resp.Header.Get("Location") != "/post/7" {
			t.Errorf("%d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("uploaded jpg is never run", func(t *testing.T) {
		for _, p := range []string{"/uploads/evil.jpg/x.php", "/uploads/evil.jpg/.php", "/uploads/evil.jpg/index.php/x"} {
			resp, body := get(t, p)
			if strings.Contains(body, "EXECUTED") || resp.StatusCode == 200 {
				t.Errorf("%s: %d %q", p, resp.StatusCode, body)
			}
		}
		resp, body := get(t, "/uploads/evil.jpg")
		if resp.StatusCode != 200 || !strings.Contains(body, `<?php echo "EXECUTED"; ?>`) || resp.Header.Get("Content-Type") != "image/jpeg" {
			t.Errorf("the jpg as a file: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Type"))
		}
		for _, raw := range []string{"/uploads/evil.jpg%00.php", "/uploads/evil.jpg%2fx.php", "/blog/../uploads/evil.jpg/x.php", "/%2e%2e/etc/passwd"} {
			status, body := rawGet(t, srv.Addr, raw)
			if status != 400 && status != 404 || strings.Contains(body, "EXECUTED") || strings.Contains(body, "root:") {
				t.Errorf("%s: %d %q", raw, status, body)
			}
		}
	})

	t.Run("flush", func(t *testing.T) {
		marker := filepath.Join(h.Dir, "flush-marker")
		resp, err := client.Get(srv.URL("/stream?marker=" + url.QueryEscape(marker)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		start := time.Now()
		line, err := br.ReadString('\n')
		if err != nil || line != "first\n" {
			t.Fatalf("first line %q, %v", line, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the flushed line took %v", d)
		}
		if err := os.WriteFile(marker, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if line, err := br.ReadString('\n'); err != nil || line != "second\n" {
			t.Fatalf("second line %q, %v", line, err)
		}
	})

	t.Run("client gone stops the script", func(t *testing.T) {
		done := filepath.Join(h.Dir, "ticker-done")
		resp, err := client.Get(srv.URL("/ticker?done=" + url.QueryEscape(done)))
		if err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || !strings.HasPrefix(line, "tick 0 ") {
			t.Fatalf("first tick %q, %v", line, err)
		}
		resp.Body.Close() // the client goes away mid-response
		deadline := time.Now().Add(15 * time.Second)
		for {
			b, err := os.ReadFile(done)
			if err == nil && len(b) > 0 {
				if string(b) != "1" {
					t.Errorf("connection_status() = %s at the end, want 1 (ABORTED)", b)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the script still runs 15s after its client went away")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	t.Run("stderr", func(t *testing.T) {
		if resp, body := get(t, "/log?tag=e2e-42"); resp.StatusCode != 200 || body != "logged\n" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		srv.WaitStderr("hello from error_log e2e-42", 10*time.Second)
		for _, line := range strings.Split(srv.Stderr(), "\n") {
			if strings.Contains(line, "hello from error_log e2e-42") {
				if !strings.Contains(line, "script stderr") || !strings.Contains(line, "script="+filepath.Join(htdocs, "index.php")) || !strings.Contains(line, "module=fastcgi") {
					t.Errorf("log line %q lacks the script or module", line)
				}
			}
		}
	})

	t.Run("more requests than workers", func(t *testing.T) {
		errs := make(chan error, 12)
		for i := 0; i < 12; i++ {
			go func() {
				resp, err := client.Get(srv.URL(fmt.Sprintf("/post/%d", i)))
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if want := fmt.Sprintf("post %d uri=/post/%d script=/index.php\n", i, i); resp.StatusCode != 200 || string(b) != want {
					errs <- fmt.Errorf("request %d: %d %q", i, resp.StatusCode, b)
					return
				}
				errs <- nil
			}()
		}
		for i := 0; i < 12; i++ {
			select {
			case err := <-errs:
				if err != nil {
					t.Error(err)
				}
			case <-time.After(40 * time.Second):
				t.Fatal("requests stuck: kept connections hold every PHP-FPM worker?")
			}
		}
	})

	t.Run("php-fpm stopped", func(t *testing.T) {
		fpm.Stop()
		resp, _ := get(t, "/post/1")
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("%d, want 502", resp.StatusCode)
		}
		srv.WaitStderr("cannot reach the responder at unix:"+fpm.Sock, 10*time.Second)
		if resp, _ := get(t, "/assets/style.css"); resp.StatusCode != 200 {
			t.Errorf("static file with PHP-FPM down: %d", resp.StatusCode)
		}
	})
}

// rawGet sends a GET with the request target exactly as given and
// returns the status and body.
func rawGet(t *testing.T, addr, target string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", target)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestFastCGIPHPFPMTLS runs the app over TLS and HTTP/2: PHP sees
// HTTPS=on, a flushed line and an upload stream through the HTTP/2
// engine too.
func TestFastCGIPHPFPMTLS(t *testing.T) {
	fpm := startPHPFPM(t)
	h := NewHarness(t)
	phpSite(t, h)
	srv := h.Start(fmt.Sprintf(`
server { data_dir = "var" }
log {
  access = "off"
  level  = "debug"
}
vhost "localhost" {
  listen        = ["https://127.0.0.1:0"]
  document_root = "htdocs"
  tls           = "internal"
  fastcgi "/" {
    to               = "unix:%s"
    front_controller = "/index.php"
  }
}
`, fpm.Sock))
	client := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"},
			ForceAttemptHTTP2: true,
		},
	}
	base := "https://" + srv.Addr

	resp, body := doRequest(t, client, mustNewRequest(t, "GET", base+"/info.php/x", nil))
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Fatalf("%s %d %q", resp.Proto, resp.StatusCode, body)
	}
	var info map[string]any
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if info["HTTPS"] != "on" || info["PATH_INFO"] != "/x" {
		t.Errorf("HTTPS = %v, PATH_INFO = %v", info["HTTPS"], info["PATH_INFO"])
	}

	marker := filepath.Join(h.Dir, "flush-marker")
	resp, err := client.Get(base + "/stream?marker=" + url.QueryEscape(marker))
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "first\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	os.WriteFile(marker, nil, 0o644)
	if line, err := br.ReadString('\n'); err != nil || line != "second\n" {
		t.Fatalf("second line %q, %v", line, err)
	}
	resp.Body.Close()

	data := bytes.Repeat([]byte("0123456789"), 200_000)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "big.txt")
	fw.Write(data)
	mw.Close()
	req := mustNewRequest(t, "POST", base+"/upload", io.MultiReader(&buf))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, body = doRequest(t, client, req)
	sum := sha256.Sum256(data)
	if resp.StatusCode != 200 || !strings.Contains(body, hex.EncodeToString(sum[:])) {
		t.Errorf("upload over HTTP/2: %d %q", resp.StatusCode, body)
	}
}
