package tests

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// wsgiPython is the interpreter of the WSGI end-to-end tests; Debian's
// has python3-flask and python3-django. The tests fail when it is missing.
func wsgiPython(t *testing.T) string {
	t.Helper()
	p := "/usr/bin/python3"
	if env := os.Getenv("HTTPD_TEST_PYTHON"); env != "" {
		p = env
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("WSGI tests need Python 3 at %s (set HTTPD_TEST_PYTHON): %v", p, err)
	}
	return p
}

// wsgiFixture copies a module test script or a file of testdata/wsgi into
// the harness root.
func wsgiFixture(t *testing.T, h *Harness, src, dst string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	return h.Write(dst, string(b), 0o644)
}

func wsgiConfig(mounts string) string {
	return `
server {
  listen           = ["127.0.0.1:0"]
  shutdown_timeout = "10s"
}
log {
  access = "off"
  level  = "debug"
}
vhost "localhost" {
  default = true
` + mounts + `
}
`
}

// wsgiWorkers lists running WSGI workers under dir: processes whose
// command line holds a worker title and whose working directory (the
// script's) is in dir.
func wsgiWorkers(dir string) []string {
	var pids []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte("\x00httpd wsgi ")) {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || cwd != dir && !strings.HasPrefix(cwd, dir+"/") {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && bytes.Contains(st, []byte(") Z ")) {
			continue
		}
		pids = append(pids, e.Name())
	}
	return pids
}

func stopAndCheckWorkers(t *testing.T, srv *Server, dir string) {
	t.Helper()
	srv.Stop()
	if pids := wsgiWorkers(dir); len(pids) > 0 {
		t.Errorf("WSGI workers outlived the server: %v", pids)
	}
}

func wsgiGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", u, err)
	}
	return resp.StatusCode, string(b)
}

func TestWSGIGateway(t *testing.T) {
	py := wsgiPython(t)
	h := NewHarness(t)
	wsgiFixture(t, h, "../modules/wsgi/testdata/app.py", "wsgi/app.py")
	wsgiFixture(t, h, "../modules/wsgi/testdata/validated.py", "wsgi/validated.py")
	wsgiFixture(t, h, "../modules/wsgi/testdata/broken.py", "wsgi/broken.py")
	srv := h.Start(wsgiConfig(fmt.Sprintf(`
  wsgi_script_alias "/app" {
    script    = "wsgi/app.py"
    python    = %[1]q
    processes = 2
    threads   = 10
  }
  wsgi_script_alias "/valid/" {
    script = "wsgi/validated.py"
    python = %[1]q
  }
  wsgi_script_alias "/slow" {
    script          = "wsgi/app.py"
    python          = %[1]q
    threads         = 2
    request_timeout = "1s"
  }
  wsgi_script_alias "/broken" {
    script = "wsgi/broken.py"
    python = %[1]q
  }
`, py)))
	defer stopAndCheckWorkers(t, srv, h.Dir)

	t.Run("environ", func(t *testing.T) {
		code, body := wsgiGet(t, srv.URL("/app/environ/a%20b?x=1"))
		var env map[string]any
		if err := json.Unmarshal([]byte(body), &env); err != nil || code != 200 {
			t.Fatalf("status %d, %v: %s", code, err, body)
		}
		for k, v := range map[string]string{
			"SCRIPT_NAME": "/app", "PATH_INFO": "/environ/a b", "QUERY_STRING": "x=1",
			"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
			"REQUEST_URI": "/app/environ/a%20b?x=1", "wsgi.url_scheme": "http", "HTTP_HOST": srv.Addr,
			"SCRIPT_FILENAME": filepath.Join(h.Dir, "wsgi/app.py"), "wsgi.multiprocess": "true",
		} {
			if got := fmt.Sprint(env[k]); got != v {
				t.Errorf("environ[%s] = %q, want %q", k, got, v)
			}
		}
	})

	t.Run("input", func(t *testing.T) {
		for _, chunked := range []bool{false, true} {
			req, _ := http.NewRequest("POST", srv.URL("/app/input?mode=readline"), strings.NewReader("a\nbb\nccc"))
			if chunked {
				req.Body = io.NopCloser(strings.NewReader("a\nbb\nccc"))
				req.ContentLength = -1
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != `["a\n", "bb\n", "ccc", ""]` {
				t.Errorf("chunked=%v: %s", chunked, b)
			}
		}
	})

	t.Run("streaming", func(t *testing.T) {
		start := time.Now()
		resp, err := http.Get(srv.URL("/app/stream?sleep=1.5"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 6)
		if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first\n" {
			t.Fatalf("first chunk %q: %v", buf, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("first chunk after %v", d)
		}
		rest, _ := io.ReadAll(resp.Body)
		if string(rest) != "second\n" {
			t.Errorf("rest %q", rest)
		}
	})

	t.Run("upload-20MB", func(t *testing.T) {
		data := make([]byte, 20<<20)
		rand.New(rand.NewSource(3)).Read(data)
		sum := sha256.Sum256(data)
		resp, err := http.Post(srv.URL("/app/upload"), "application/octet-stream", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got struct {
			SHA256 string
			Length int
		}
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		if got.SHA256 != hex.EncodeToString(sum[:]) || got.Length != len(data) {
			t.Errorf("app saw %+v", got)
		}
	})

	t.Run("validator", func(t *testing.T) {
		resp, err := http.Post(srv.URL("/valid/x"), "text/plain", strings.NewReader("checked"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "valid:checked" {
			t.Errorf("status %d, body %q", resp.StatusCode, b)
		}
	})

	t.Run("app-error", func(t *testing.T) {
		if code, _ := wsgiGet(t, srv.URL("/app/raise")); code != 500 {
			t.Errorf("status %d", code)
		}
		srv.WaitStderr("RuntimeError: boom from the app", 5*time.Second)
	})

	t.Run("crash", func(t *testing.T) {
		if code, _ := wsgiGet(t, srv.URL("/app/crash")); code != 502 {
			t.Errorf("crash: status %d, want 502", code)
		}
		if code, _ := wsgiGet(t, srv.URL("/app/pid")); code != 200 {
			t.Errorf("after crash: status %d", code)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		if code, _ := wsgiGet(t, srv.URL("/slow/sleep?s=10")); code != 504 {
			t.Errorf("status %d, want 504", code)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
		if code, body := wsgiGet(t, srv.URL("/slow/sleep?s=0")); code != 200 || body != "slept" {
			t.Errorf("after timeout: %d %q", code, body)
		}
	})

	t.Run("import-error", func(t *testing.T) {
		if code, _ := wsgiGet(t, srv.URL("/broken/")); code != 500 {
			t.Errorf("status %d, want 500", code)
		}
		srv.WaitStderr("missing_dependency_xyz", 5*time.Second)
		if code, _ := wsgiGet(t, srv.URL("/app/pid")); code != 200 {
			t.Errorf("other mounts: status %d", code)
		}
	})

	t.Run("concurrent-100", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan string, 100)
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				want := fmt.Sprintf("r%d", i)
				resp, err := http.Post(srv.URL("/app/input?mode=read"), "text/plain", strings.NewReader(want))
				if err != nil {
					errs <- err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(b) != `["`+want+`"]` {
					errs <- fmt.Sprintf("%d %s", resp.StatusCode, b)
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
	})
}

func TestWSGIReload(t *testing.T) {
	py := wsgiPython(t)
	h := NewHarness(t)
	const app = `def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'%s']
`
	script := h.Write("app.wsgi", fmt.Sprintf(app, "v1"), 0o644)
	srv := h.Start(wsgiConfig(fmt.Sprintf(`
  wsgi_script_alias "/" {
    script = "app.wsgi"
    python = %q
    reload = true
  }
`, py)))
	defer stopAndCheckWorkers(t, srv, h.Dir)
	if _, body := wsgiGet(t, srv.URL("/")); body != "v1" {
		t.Fatalf("body %q", body)
	}
	h.Write("app.wsgi", fmt.Sprintf(app, "v2"), 0o644)
	later := time.Now().Add(2 * time.Second)
	os.Chtimes(script, later, later)
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := wsgiGet(t, srv.URL("/"))
		if code != 200 {
			t.Fatalf("status %d during reload", code)
		}
		if body == "v2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %q", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWSGIFlask(t *testing.T) {
	py := wsgiPython(t)
	h := NewHarness(t)
	wsgiFixture(t, h, "testdata/wsgi/flask_app.py", "flask/app.py")
	srv := h.Start(wsgiConfig(fmt.Sprintf(`
  wsgi_script_alias "/flask" {
    script  = "flask/app.py"
    python  = %q
    threads = 4
  }
`, py)))
	defer stopAndCheckWorkers(t, srv, h.Dir)

	if code, body := wsgiGet(t, srv.URL("/flask/")); code != 200 || body != "Hello from Flask" {
		t.Errorf("index: %d %q", code, body)
	}
	resp, err := http.PostForm(srv.URL("/flask/echo?q=1"), url.Values{"name": {"José"}})
	if err != nil {
		t.Fatal(err)
	}
	var echo map[string]any
	json.NewDecoder(resp.Body).Decode(&echo)
	resp.Body.Close()
	if echo["script_root"] != "/flask" || echo["path"] != "/echo" || fmt.Sprint(echo["form"]) != "map[name:José]" ||
		fmt.Sprint(echo["args"]) != "map[q:1]" || echo["url"] != srv.URL("/flask/echo?q=1") {
		t.Errorf("echo: %v", echo)
	}
	resp, err = http.Post(srv.URL("/flask/json"), "application/json", strings.NewReader(`{"a": [1, 2]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"got":{"a":[1,2]}`) {
		t.Errorf("json: %s", b)
	}

	// A multipart upload of 5 MB.
	data := make([]byte, 5<<20)
	rand.New(rand.NewSource(4)).Read(data)
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "blob.bin")
	fw.Write(data)
	mw.Close()
	resp, err = http.Post(srv.URL("/flask/upload"), mw.FormDataContentType(), &mp)
	if err != nil {
		t.Fatal(err)
	}
	var up struct {
		Name   string
		SHA256 string
		Length int
	}
	json.NewDecoder(resp.Body).Decode(&up)
	resp.Body.Close()
	sum := sha256.Sum256(data)
	if up.Name != "blob.bin" || up.SHA256 != hex.EncodeToString(sum[:]) || up.Length != len(data) {
		t.Errorf("upload: %+v", up)
	}

	start := time.Now()
	resp, err = http.Get(srv.URL("/flask/stream"))
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 6)
	io.ReadFull(resp.Body, first)
	if d := time.Since(start); d > 900*time.Millisecond || string(first) != "first\n" {
		t.Errorf("stream: %q after %v", first, d)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	if code, _ := wsgiGet(t, srv.URL("/flask/fail")); code != 500 {
		t.Errorf("fail: status %d", code)
	}
	srv.WaitStderr("flask view failed", 5*time.Second)
	if code, _ := wsgiGet(t, srv.URL("/flask/nope")); code != 404 {
		t.Errorf("missing route: status %d", code)
	}
}

func TestWSGIDjango(t *testing.T) {
	py := wsgiPython(t)
	h := NewHarness(t)
	wsgiFixture(t, h, "testdata/wsgi/django_app.py", "site/django_app.py")
	srv := h.Start(wsgiConfig(fmt.Sprintf(`
  wsgi_script_alias "/django" {
    script    = "site/django_app.py"
    python    = %q
    processes = 2
    threads   = 4
  }
`, py)))
	defer stopAndCheckWorkers(t, srv, h.Dir)

	if code, body := wsgiGet(t, srv.URL("/django/")); code != 200 || body != "Hello from Django" {
		t.Errorf("index: %d %q", code, body)
	}
	resp, err := http.PostForm(srv.URL("/django/echo/?page=2"), url.Values{"a": {"1"}, "b": {"two words"}})
	if err != nil {
		t.Fatal(err)
	}
	var echo map[string]any
	json.NewDecoder(resp.Body).Decode(&echo)
	resp.Body.Close()
	if echo["method"] != "POST" || echo["path"] != "/django/echo/" || echo["path_info"] != "/echo/" ||
		echo["script_name"] != "/django" || fmt.Sprint(echo["post"]) != "map[a:1 b:two words]" ||
		fmt.Sprint(echo["get"]) != "map[page:2]" || echo["absolute"] != srv.URL("/django/echo/?page=2") {
		t.Errorf("echo: %v", echo)
	}
	// CommonMiddleware's APPEND_SLASH redirect must keep the mount prefix.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = client.Get(srv.URL("/django/echo"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 301 || !strings.HasSuffix(resp.Header.Get("Location"), "/django/echo/") {
		t.Errorf("append slash: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if code, body := wsgiGet(t, srv.URL("/django/stream/")); code != 200 || body != "one\ntwo\n" {
		t.Errorf("stream: %d %q", code, body)
	}
	if code, _ := wsgiGet(t, srv.URL("/django/missing/")); code != 404 {
		t.Errorf("missing: status %d", code)
	}
}

// TestWSGISighupUnderLoad reloads the server several times while clients
// keep sending requests: none may fail, and the old workers go away.
func TestWSGISighupUnderLoad(t *testing.T) {
	py := wsgiPython(t)
	h := NewHarness(t)
	wsgiFixture(t, h, "../modules/wsgi/testdata/app.py", "wsgi/app.py")
	srv := h.Start(wsgiConfig(fmt.Sprintf(`
  wsgi_script_alias "/app" {
    script    = "wsgi/app.py"
    python    = %q
    processes = 2
    threads   = 4
  }
`, py)))
	defer stopAndCheckWorkers(t, srv, h.Dir)

	var (
		stop   atomic.Bool
		ok     atomic.Int64
		failed atomic.Int64
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []string
		pids   sync.Map
	)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 20 * time.Second}
			for !stop.Load() {
				resp, err := client.Post(srv.URL("/app/pid"), "text/plain", strings.NewReader("x"))
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 {
						ok.Add(1)
						pids.Store(string(b), true)
						continue
					}
					err = fmt.Errorf("status %d: %s", resp.StatusCode, b)
				}
				failed.Add(1)
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < 3; i++ {
		time.Sleep(700 * time.Millisecond)
		n := strings.Count(srv.Stderr(), "config reloaded")
		srv.Signal(syscall.SIGHUP)
		deadline := time.Now().Add(20 * time.Second)
		for strings.Count(srv.Stderr(), "config reloaded") <= n {
			if time.Now().After(deadline) {
				t.Fatalf("no reload after SIGHUP:\n%s", srv.Stderr())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(700 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed during SIGHUP reloads: %q", failed.Load(), failed.Load()+ok.Load(), errs[:min(len(errs), 5)])
	}
	n := 0
	pids.Range(func(any, any) bool { n++; return true })
	if n < 4 {
		t.Errorf("requests were served by %d workers; each reload should start new ones", n)
	}
	// Only the current generation's two workers remain.
	deadline := time.Now().Add(15 * time.Second)
	for len(wsgiWorkers(h.Dir)) > 2 {
		if time.Now().After(deadline) {
			t.Errorf("old workers still running: %v", wsgiWorkers(h.Dir))
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%d requests served across %d workers", ok.Load(), n)
}

// holdApp answers /hold only once the file named by ?release exists,
// after creating the one named by ?held: it keeps a worker thread busy
// for as long as a test wants.
const holdApp = `import os, time
from urllib.parse import parse_qs

def application(environ, start_response):
    q = {k: v[0] for k, v in parse_qs(environ.get('QUERY_STRING', '')).items()}
    if environ['PATH_INFO'] == '/hold':
        with open(q['held'], 'w') as f:
            f.write('held')
        deadline = time.monotonic() + 30
        while not os.path.exists(q['release']) and time.monotonic() < deadline:
            time.sleep(0.01)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'done']
`

// TestWSGIClientGoneWhileQueued: a client that goes away while its
// request waits for a worker thread is logged as 499 at info level, like
// nginx, and is no server error: no ERROR line, no 503.
func TestWSGIClientGoneWhileQueued(t *testing.T) {
	py := wsgiPython(t)
	h := NewHarness(t)
	h.Write("hold.wsgi", holdApp, 0o644)
	srv := h.Start(wsgiConfig(fmt.Sprintf(`
  wsgi_script_alias "/app" {
    script    = "hold.wsgi"
    python    = %q
    processes = 1
    threads   = 1
  }
`, py)))
	defer stopAndCheckWorkers(t, srv, h.Dir)

	// The only worker thread is busy with /hold until release exists.
	held, release := filepath.Join(h.Dir, "held"), filepath.Join(h.Dir, "release")
	defer os.WriteFile(release, nil, 0o644) // let the server stop soon if the test fails
	holder := make(chan error, 1)
	go func() {
		resp, err := http.Get(srv.URL("/app/hold?" + url.Values{"held": {held}, "release": {release}}.Encode()))
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != "done" {
				err = fmt.Errorf("status %d, body %q", resp.StatusCode, b)
			}
		}
		holder <- err
	}()
	waitFile(t, held, "held")

	// A second request queues for the thread; its client then resets
	// the connection.
	c, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET /app/queued HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	srv.WaitStderr("wsgi request waiting for a worker", 10*time.Second)
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	srv.WaitStderr("status=499", 10*time.Second)

	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-holder:
		if err != nil {
			t.Errorf("held request: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("held request did not finish")
	}

	for _, line := range strings.Split(srv.Stderr(), "\n") {
		switch {
		case strings.Contains(line, "status=499") && !strings.Contains(line, "level=INFO"):
			t.Errorf("499 not logged at INFO: %s", line)
		case strings.Contains(line, "level=ERROR"), strings.Contains(line, "status=503"):
			t.Errorf("a client gone while queued is no server error: %s", line)
		}
	}
}

// TestWSGIStopWithoutWarnings: workers that stop on SIGHUP and on SIGTERM
// close their sockets, so a Python that turns ResourceWarning into an
// error reports nothing.
func TestWSGIStopWithoutWarnings(t *testing.T) {
	py := wsgiPython(t)
	h := NewHarness(t)
	wsgiFixture(t, h, "../modules/wsgi/testdata/app.py", "wsgi/app.py")
	srv := h.Start(wsgiConfig(fmt.Sprintf(`
  wsgi_script_alias "/app" {
    script    = "wsgi/app.py"
    python    = %q
    processes = 2
    threads   = 2
    env       = { PYTHONWARNINGS = "error::ResourceWarning" }
  }
`, py)))
	if code, _ := wsgiGet(t, srv.URL("/app/pid")); code != 200 {
		t.Fatalf("status %d", code)
	}
	srv.Signal(syscall.SIGHUP)
	srv.WaitStderr("config reloaded", 20*time.Second)
	if code, _ := wsgiGet(t, srv.URL("/app/pid")); code != 200 {
		t.Fatalf("after reload: status %d", code)
	}
	stopAndCheckWorkers(t, srv, h.Dir)
	if strings.Contains(srv.Stderr(), "ResourceWarning") {
		t.Errorf("workers warned while stopping:\n%s", srv.Stderr())
	}
}

// TestWSGIWorkerTitle: ps names each worker by mount and vhost, in a
// short command line, not the whole worker program.
func TestWSGIWorkerTitle(t *testing.T) {
	py := wsgiPython(t)
	h := NewHarness(t)
	wsgiFixture(t, h, "../modules/wsgi/testdata/app.py", "wsgi/app.py")
	srv := h.Start(wsgiConfig(fmt.Sprintf(`
  wsgi_script_alias "/app" {
    script = "wsgi/app.py"
    python = %q
  }
`, py)))
	defer stopAndCheckWorkers(t, srv, h.Dir)
	code, pid := wsgiGet(t, srv.URL("/app/pid"))
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	b, err := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
	if err != nil {
		t.Fatal(err)
	}
	cmdline := strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
	if want := py + " - httpd wsgi /app (localhost) worker 1"; cmdline != want || len(b) >= 200 {
		t.Errorf("worker command line %q (%d bytes), want %q", cmdline, len(b), want)
	}
}

// TestWSGIPython: the interpreter each mount runs is logged once per
// generation with its version, and httpd -S shows it. A bare name such as
// "python3" is the first one on PATH, so the log names the path it
// resolved to and the interpreter's own sys.executable.
func TestWSGIPython(t *testing.T) {
	py := wsgiPython(t)
	onPath, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", "import sys; print(sys.version.split()[0])").Output()
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(out))
	h := NewHarness(t)
	wsgiFixture(t, h, "../modules/wsgi/testdata/app.py", "wsgi/app.py")
	srv := h.Start(wsgiConfig(fmt.Sprintf(`
  wsgi_script_alias "/app" {
    script    = "wsgi/app.py"
    python    = %q
    processes = 2
  }
  wsgi_script_alias "/bare" {
    script = "wsgi/app.py"
    python = "python3"
  }
`, py)))
	defer stopAndCheckWorkers(t, srv, h.Dir)

	appLine := regexp.MustCompile(`level=INFO msg="wsgi python" .*mount=/app python=` + regexp.QuoteMeta(py) + ` version=` + regexp.QuoteMeta(version) + ` executable=` + regexp.QuoteMeta(py) + ` `)
	bareLine := regexp.MustCompile(`level=INFO msg="wsgi python" .*mount=/bare python=` + regexp.QuoteMeta(onPath) + ` version=3\.\d+\.\d+\S* executable=/`)
	if n := len(appLine.FindAllString(srv.Stderr(), -1)); n != 1 {
		t.Errorf("%d start lines for /app, want 1 naming %s %s:\n%s", n, py, version, srv.Stderr())
	}
	if !bareLine.MatchString(srv.Stderr()) {
		t.Errorf("no start line for /bare naming %s:\n%s", onPath, srv.Stderr())
	}
	srv.Signal(syscall.SIGHUP)
	srv.WaitStderr("config reloaded", 20*time.Second)
	if n := len(appLine.FindAllString(srv.Stderr(), -1)); n != 2 {
		t.Errorf("%d start lines for /app after a reload, want 2", n)
	}

	stdout, stderr, code := h.Run("-S", "-f", "httpd.hcl")
	if want := "(python " + py + " " + version + ", 2 processes"; code != 0 || !strings.Contains(stdout, want) {
		t.Errorf("httpd -S (exit %d) lacks %q:\n%s%s", code, want, stdout, stderr)
	}
	if want := "(python " + onPath + " 3."; !strings.Contains(stdout, want) {
		t.Errorf("httpd -S lacks %q:\n%s", want, stdout)
	}
}
