package wsgi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"httpd/internal/gateway/gatewaytest"
	"httpd/internal/pyworker"
	"httpd/internal/testutil"
	"httpd/registry"
)

// python is the interpreter the tests run workers with. The tests fail,
// never skip, when it is missing.
var python = "/usr/bin/python3"

func TestMain(m *testing.M) {
	if p := os.Getenv("HTTPD_TEST_PYTHON"); p != "" {
		python = p
	}
	if _, err := os.Stat(python); err != nil {
		fmt.Fprintf(os.Stderr, "wsgi tests need a Python 3 interpreter at %s (set HTTPD_TEST_PYTHON): %v\n", python, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

type testApp struct {
	t      *testing.T
	m      *Module
	srv    *httptest.Server
	log    *testutil.SyncBuffer
	dir    string
	script string
}

type appOptions struct {
	tls       bool
	configure func(*Module)
}

// copyScript copies a testdata script into a fresh directory, so every
// test has its own script path (used to find its processes).
func copyScript(t *testing.T, name string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(dst, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func newApp(t *testing.T, script string, opt appOptions) *testApp {
	t.Helper()
	m := &Module{
		Prefix: "/app", Script: script, Callable: DefaultCallable, Python: python,
		Processes: 1, Threads: 4, RequestTimeout: 30 * time.Second,
	}
	if opt.configure != nil {
		opt.configure(m)
	}
	logs := &testutil.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := m.Provision(context.Background(), &registry.Env{Logger: logger, DocumentRoot: "/srv/www", VHost: "test", ServerSoftware: "httpd/test"}); err != nil {
		t.Fatalf("provision: %v", err)
	}
	next := registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return registry.Error(http.StatusNotFound, nil)
	})
	h := testutil.Mounted(m.Prefix, m.Wrap(next), next)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<20)
		tw := &gatewaytest.TrackingWriter{ResponseWriter: w}
		if err := h.ServeHTTP(tw, r); err != nil {
			st := registry.StatusOf(err)
			fmt.Fprintf(logs, "handler error: status=%d err=%v\n", st, err)
			if !tw.Wrote {
				http.Error(w, http.StatusText(st), st)
			}
		}
	}))
	if opt.tls {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	a := &testApp{t: t, m: m, srv: srv, log: logs, dir: filepath.Dir(script), script: script}
	t.Cleanup(func() {
		srv.Close()
		if err := m.Cleanup(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if pids := workerPIDs(script); len(pids) > 0 {
			t.Errorf("workers still running after Cleanup: %v", pids)
		}
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	})
	return a
}

// workerPIDs lists live worker processes of script: those whose command
// line holds a worker title and whose working directory is the script's.
func workerPIDs(script string) []string {
	var pids []string
	dir := filepath.Dir(script)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte("\x00httpd wsgi ")) {
			continue
		}
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err != nil || cwd != dir {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && bytes.Contains(st, []byte(") Z ")) {
			continue // a zombie is not running
		}
		pids = append(pids, e.Name())
	}
	return pids
}

func (a *testApp) client() *http.Client {
	return a.srv.Client()
}

func (a *testApp) do(req *http.Request) (*http.Response, []byte) {
	a.t.Helper()
	resp, err := a.client().Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

func (a *testApp) get(path string) (*http.Response, []byte) {
	a.t.Helper()
	req, err := http.NewRequest("GET", a.srv.URL+path, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	return a.do(req)
}

func TestEnviron(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tls    bool
		prefix string
		path   string
		want   map[string]any
	}{
		{name: "h1", prefix: "/app", path: "/app/environ/x%20y?a=1&b=%20", want: map[string]any{
			"SCRIPT_NAME": "/app", "PATH_INFO": "/environ/x y", "QUERY_STRING": "a=1&b=%20",
			"REQUEST_URI": "/app/environ/x%20y?a=1&b=%20", "SERVER_PROTOCOL": "HTTP/1.1",
			"wsgi.url_scheme": "http", "wsgi.multithread": true, "wsgi.multiprocess": false,
			"wsgi.run_once": false, "wsgi.input_terminated": true, "SERVER_NAME": "127.0.0.1",
			"REQUEST_SCHEME": "http",
		}},
		{name: "h2-tls", tls: true, prefix: "/app/", path: "/app/environ", want: map[string]any{
			"SCRIPT_NAME": "/app", "PATH_INFO": "/environ", "SERVER_PROTOCOL": "HTTP/2.0",
			"wsgi.url_scheme": "https", "HTTPS": "on", "REQUEST_SCHEME": "https",
		}},
		{name: "root", prefix: "/", path: "/environ", want: map[string]any{
			"SCRIPT_NAME": "", "PATH_INFO": "/environ",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, copyScript(t, "app.py"), appOptions{tls: tc.tls, configure: func(m *Module) { m.Prefix = tc.prefix }})
			req, _ := http.NewRequest("POST", a.srv.URL+tc.path, strings.NewReader("abc"))
			req.Header.Set("Content-Type", "text/plain")
			req.Header.Set("X-Custom", "one")
			req.Header.Add("X-Custom", "two")
			req.Header.Set("Proxy", "http://evil")
			req.Header.Set("Authorization", "Basic Zm9vOmJhcg==")
			req.Header["X_Spoof"] = []string{"1"}
			req.Header["X.Dot"] = []string{"1"}
			req.Header.Set("Proxy-Authorization", "Basic Zm9vOmJhcg==")
			req.AddCookie(&http.Cookie{Name: "a", Value: "1"})
			req.AddCookie(&http.Cookie{Name: "b", Value: "2"})
			resp, body := a.do(req)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var env map[string]any
			if err := json.Unmarshal(body, &env); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			want := map[string]any{
				"REQUEST_METHOD": "POST", "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "3",
				"HTTP_X_CUSTOM": "one, two", "HTTP_COOKIE": "a=1; b=2", "REMOTE_ADDR": "127.0.0.1",
				"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "httpd/test",
				"SCRIPT_FILENAME": a.script, "DOCUMENT_ROOT": "/srv/www", "SERVER_ADDR": "127.0.0.1",
				"SERVER_PORT":  a.srv.URL[strings.LastIndexByte(a.srv.URL, ':')+1:],
				"HTTP_HOST":    strings.TrimPrefix(strings.TrimPrefix(a.srv.URL, "http://"), "https://"),
				"wsgi.version": []any{1.0, 0.0},
			}
			for k, v := range tc.want {
				want[k] = v
			}
			for k, v := range want {
				if got, ok := env[k]; !ok || fmt.Sprint(got) != fmt.Sprint(v) {
					t.Errorf("environ[%q] = %#v, want %#v", k, got, v)
				}
			}
			for _, k := range []string{"HTTP_PROXY", "HTTP_AUTHORIZATION", "HTTP_PROXY_AUTHORIZATION", "HTTP_X_SPOOF", "HTTP_X.DOT", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"} {
				if v, ok := env[k]; ok {
					t.Errorf("environ has %s = %v", k, v)
				}
			}
			for _, k := range []string{"REMOTE_PORT", "wsgi.input", "wsgi.errors", "wsgi.file_wrapper"} {
				if env[k] == nil || env[k] == "" {
					t.Errorf("environ lacks %s", k)
				}
			}
		})
	}
}

func TestPassAuth(t *testing.T) {
	a := newApp(t, copyScript(t, "app.py"), appOptions{configure: func(m *Module) { m.PassAuth = true }})
	req, _ := http.NewRequest("GET", a.srv.URL+"/app/environ", nil)
	req.Header.Set("Authorization", "Bearer t0ken")
	_, body := a.do(req)
	if !strings.Contains(string(body), `"HTTP_AUTHORIZATION": "Bearer t0ken"`) {
		t.Errorf("HTTP_AUTHORIZATION missing with pass_auth: %s", body)
	}
}

func TestInput(t *testing.T) {
	a := newApp(t, copyScript(t, "app.py"), appOptions{})
	big := strings.Repeat("0123456789abcde\n", 6000) // 96000 bytes: streamed even with a length
	bigLines := make([]any, 0, 6001)
	for i := 0; i < 6000; i++ {
		bigLines = append(bigLines, "0123456789abcde\n")
	}
	cases := []struct {
		name  string
		query string
		body  string
		want  []any
	}{
		{"read-size", "mode=read&size=4", "hello world", []any{"hell", "o wo", "rld", ""}},
		{"read-all", "mode=read", "hello world", []any{"hello world"}},
		{"read-empty", "mode=read&size=5", "", []any{""}},
		{"readline", "mode=readline", "a\nbb\nccc", []any{"a\n", "bb\n", "ccc", ""}},
		{"readline-limit", "mode=readline&size=2", "abc\nd", []any{"ab", "c\n", "d", ""}},
		{"readlines", "mode=readlines", "a\nbb\n", []any{"a\n", "bb\n", "|"}},
		{"readlines-hint", "mode=readlines&hint=3", "a\nbb\nccc\n", []any{"a\n", "bb\n", "|ccc\n"}},
		{"iter", "mode=iter", "x\ny\nz", []any{"x\n", "y\n", "z"}},
		{"mixed", "mode=mixed", "abc12\nxyz", []any{"abc", "12\n", "xy", "z", ""}},
		{"iter-big", "mode=iter", big, bigLines},
	}
	for _, tc := range cases {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/chunked=%v", tc.name, chunked), func(t *testing.T) {
				req, _ := http.NewRequest("POST", a.srv.URL+"/app/input?"+tc.query, strings.NewReader(tc.body))
				if chunked {
					req.Body = io.NopCloser(strings.NewReader(tc.body))
					req.ContentLength = -1
				}
				resp, body := a.do(req)
				if resp.StatusCode != 200 {
					t.Fatalf("status %d: %s", resp.StatusCode, body)
				}
				var got []any
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatalf("%v: %s", err, body)
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("got %q, want %q", trim(got), trim(tc.want))
				}
			})
		}
	}
}

func trim(v []any) string {
	s := fmt.Sprintf("%q", v)
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

func TestStreamingResponse(t *testing.T) {
	a := newApp(t, copyScript(t, "app.py"), appOptions{})
	start := time.Now()
	resp, err := a.client().Get(a.srv.URL + "/app/stream?sleep=1.5")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first\n" {
		t.Fatalf("first chunk %q, %v", buf, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("first chunk took %v; it must not wait for the app's sleep", d)
	}
	rest, _ := io.ReadAll(resp.Body)
	if string(rest) != "second\n" {
		t.Errorf("rest %q", rest)
	}
	if d := time.Since(start); d < 1400*time.Millisecond {
		t.Errorf("whole response took %v, less than the app's sleep", d)
	}
}

func TestUpload(t *testing.T) {
	a := newApp(t, copyScript(t, "app.py"), appOptions{})
	const size = 20 << 20
	data := make([]byte, size)
	rand.New(rand.NewSource(1)).Read(data)
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			req, _ := http.NewRequest("POST", a.srv.URL+"/app/upload", bytes.NewReader(data))
			if chunked {
				req.Body = io.NopCloser(bytes.NewReader(data))
				req.ContentLength = -1
			}
			resp, body := a.do(req)
			var got struct {
				SHA256 string
				Length int
			}
			if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 {
				t.Fatalf("status %d, %v: %s", resp.StatusCode, err, body)
			}
			if got.SHA256 != want || got.Length != size {
				t.Errorf("app saw %d bytes with sha256 %s, want %d %s", got.Length, got.SHA256, size, want)
			}
		})
	}
}

func TestValidator(t *testing.T) {
	a := newApp(t, copyScript(t, "validated.py"), appOptions{})
	for _, body := range []string{"", "payload", strings.Repeat("z", 100000)} {
		req, _ := http.NewRequest("POST", a.srv.URL+"/app/v", strings.NewReader(body))
		resp, got := a.do(req)
		if resp.StatusCode != 200 || string(got) != "valid:"+body {
			t.Errorf("status %d, body %.40q", resp.StatusCode, got)
		}
	}
	resp, got := a.get("/app/")
	if resp.StatusCode != 200 || string(got) != "valid:" {
		t.Errorf("GET: status %d, body %q", resp.StatusCode, got)
	}
	a.log.WaitFor(t, "log", "validated request", 5*time.Second)
	for _, bad := range []string{"AssertionError", "WSGIWarning", "handler error"} {
		if strings.Contains(a.log.String(), bad) {
			t.Errorf("log holds %q", bad)
		}
	}
}

func TestResponses(t *testing.T) {
	a := newApp(t, copyScript(t, "app.py"), appOptions{})
	for _, tc := range []struct {
		path    string
		status  int
		body    string
		header  map[string]string
		log     []string
		readErr bool
	}{
		{path: "/write", status: 200, body: "one two three"},
		{path: "/excinfo", status: 503, body: "recovered"},
		{path: "/excinfo-late", status: 200, body: "partial", log: []string{"ValueError: late"}},
		{path: "/twice", status: 500, log: []string{"start_response called a second time"}},
		{path: "/raise", status: 500, log: []string{"Traceback", "RuntimeError: boom from the app", "status=500"}},
		{path: "/hop", status: 500, log: []string{"hop-by-hop header"}},
		{path: "/errors", status: 200, body: "ok", log: []string{"text=\"line one\"", "text=\"line two\"", "text=tail"}},
		{path: "/cl-long", status: 200, body: "123", log: []string{"more than its Content-Length 3"}},
		{path: "/cl-short", status: 200, readErr: true, log: []string{"sent 5 bytes of its Content-Length 10"}},
		{path: "/status?s=201+Created", status: 201, header: map[string]string{"X-Test": "yes", "Set-Cookie": "a=1"}},
		{path: "/empty", status: 204},
		{path: "/filelike", status: 200, body: "from a BytesIO"},
		{path: "/nowhere", status: 404, body: "no route /nowhere"},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			resp, err := a.client().Get(a.srv.URL + "/app" + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.readErr != (err != nil) {
				t.Errorf("reading body: %v", err)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d (body %q)", resp.StatusCode, tc.status, body)
			}
			if tc.body != "" && string(body) != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			for k, v := range tc.header {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			for _, s := range tc.log {
				a.log.WaitFor(t, "log", s, 5*time.Second)
			}
		})
	}
	resp, _ := a.get("/app/status?s=200+OK")
	if got := resp.Header.Values("Set-Cookie"); len(got) != 2 {
		t.Errorf("Set-Cookie values %q, want two", got)
	}
	resp, body := a.get("/app/big?n=3000000")
	if resp.StatusCode != 200 || len(body) != 3000000 {
		t.Errorf("big: status %d, %d bytes", resp.StatusCode, len(body))
	}
}

func TestCloseCalled(t *testing.T) {
	a := newApp(t, copyScript(t, "app.py"), appOptions{})
	for _, tag := range []string{"T1", "T2"} {
		if _, body := a.get("/app/close?tag=" + tag); string(body) != "ab" {
			t.Errorf("body %q", body)
		}
		a.log.WaitFor(t, "log", "closed "+tag, 5*time.Second)
	}
}

func TestFileWrapper(t *testing.T) {
	a := newApp(t, copyScript(t, "app.py"), appOptions{})
	data := make([]byte, 100000)
	rand.New(rand.NewSource(2)).Read(data)
	path := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query string
		want  []byte
	}{
		{"", data},
		{"&offset=1000", data[1000:]},
		{"&cl=500", data[:500]},
		{"&offset=99990&cl=5", data[99990:99995]},
	} {
		t.Run(tc.query, func(t *testing.T) {
			resp, body := a.get("/app/file?path=" + path + tc.query)
			if resp.StatusCode != 200 || !bytes.Equal(body, tc.want) {
				t.Errorf("status %d, %d bytes, want %d", resp.StatusCode, len(body), len(tc.want))
			}
			if resp.ContentLength != int64(len(tc.want)) {
				t.Errorf("Content-Length %d, want %d", resp.ContentLength, len(tc.want))
			}
		})
	}
}

func TestWorkerCrash(t *testing.T) {
	a := newApp(t, copyScript(t, "app.py"), appOptions{})
	_, before := a.get("/app/pid")
	resp, _ := a.get("/app/crash")
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("crash: status %d, want 502", resp.StatusCode)
	}
	resp, after := a.get("/app/pid")
	if resp.StatusCode != 200 || string(after) == string(before) {
		t.Errorf("after crash: status %d, pid %s (before %s)", resp.StatusCode, after, before)
	}
}

// TestAcquireWaits: a request that finds every worker thread busy waits
// for one. It gives up with 499 when its client goes away (noticed once
// it has waited watchAfter), so that it is logged at info level and not
// counted as a server error, and with 503 when it has waited the request
// timeout or its context ran out for another reason.
func TestAcquireWaits(t *testing.T) {
	a := newApp(t, copyScript(t, "app.py"), appOptions{configure: func(m *Module) { m.Threads = 1 }})
	p := a.m.pool
	busy, err := p.acquire(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel := context.WithDeadline(context.Background(), time.Now())
	defer cancel()
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		timeout  time.Duration
		release  time.Duration // hand the busy connection back after this; 0: never
		want     string        // in the error; "" for a connection
		status   int           // of the error
		min, max time.Duration
	}{
		{"a worker frees up", context.Background(), 0, 50 * time.Millisecond, "", 0, 50 * time.Millisecond, 10 * time.Second},
		{"timeout", context.Background(), 50 * time.Millisecond, 0, "no worker free within", 503, 50 * time.Millisecond, 10 * time.Second},
		{"timeout shorter than watchAfter", gone, watchAfter / 2, 0, "no worker free within", 503, watchAfter / 2, 10 * time.Second},
		{"client gone", gone, 0, 0, "waiting for a worker", registry.StatusClientClosed, watchAfter, 10 * time.Second},
		{"client gone, with a timeout", gone, time.Minute, 0, "waiting for a worker", registry.StatusClientClosed, watchAfter, 10 * time.Second},
		{"context deadline", expired, 0, 0, "waiting for a worker", 503, watchAfter, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.release > 0 {
				time.AfterFunc(tc.release, func() { p.release(busy, true) })
			}
			start := time.Now()
			c, err := p.acquire(tc.ctx, tc.timeout)
			d := time.Since(start)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				busy = c
			} else if err == nil || !strings.Contains(err.Error(), tc.want) || registry.StatusOf(err) != tc.status {
				t.Fatalf("err = %v (status %d), want %d with %q", err, registry.StatusOf(err), tc.status, tc.want)
			}
			if d < tc.min || d > tc.max {
				t.Fatalf("waited %v, want %v to %v", d, tc.min, tc.max)
			}
			p.mu.Lock()
			n := len(p.waiters)
			p.mu.Unlock()
			if n != 0 {
				t.Fatalf("%d waiters left", n)
			}
		})
	}
	p.release(busy, true)
}

func TestRequestTimeout(t *testing.T) {
	a := newApp(t, copyScript(t, "app.py"), appOptions{configure: func(m *Module) { m.RequestTimeout = time.Second }})
	start := time.Now()
	resp, _ := a.get("/app/sleep?s=10")
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504", resp.StatusCode)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout took %v", d)
	}
	if resp, body := a.get("/app/sleep?s=0"); resp.StatusCode != 200 || string(body) != "slept" {
		t.Errorf("after timeout: status %d, body %q", resp.StatusCode, body)
	}
	// The stopped worker is a timeout and a replacement on purpose, not
	// a crash.
	if w := a.m.Report().Workers; w == nil || w.Timeouts != 1 || w.Crashes != 0 || w.Restarts != 1 {
		t.Errorf("report %+v, want 1 timeout, 1 restart, no crash", w)
	}
}

func TestMaxRequests(t *testing.T) {
	a := newApp(t, copyScript(t, "app.py"), appOptions{configure: func(m *Module) { m.MaxRequests = 3 }})
	count := map[string]int{}
	for i := 0; i < 10; i++ {
		resp, body := a.get("/app/pid")
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
		count[string(body)]++
	}
	if len(count) < 4 {
		t.Errorf("pids %v: want a new worker every 3 requests", count)
	}
	for pid, n := range count {
		if n > 3 {
			t.Errorf("worker %s served %d requests, max_requests is 3", pid, n)
		}
	}
}

const versionApp = `def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'%s']
`

func TestReload(t *testing.T) {
	script := filepath.Join(t.TempDir(), "v.wsgi")
	if err := os.WriteFile(script, fmt.Appendf(nil, versionApp, "v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := newApp(t, script, appOptions{configure: func(m *Module) { m.Reload = true; m.Processes = 2 }})
	if _, body := a.get("/app/"); string(body) != "v1" {
		t.Fatalf("body %q", body)
	}
	if err := os.WriteFile(script, fmt.Appendf(nil, versionApp, "v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(2 * time.Second)
	os.Chtimes(script, future, future)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, body := a.get("/app/")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d during reload", resp.StatusCode)
		}
		if string(body) == "v2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %q after the script changed", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestImportError(t *testing.T) {
	script := copyScript(t, "broken.py")
	a := newApp(t, script, appOptions{})
	resp, _ := a.get("/app/")
	if resp.StatusCode != 500 {
		t.Errorf("status %d, want 500", resp.StatusCode)
	}
	a.log.WaitFor(t, "log", "Traceback", 5*time.Second)
	a.log.WaitFor(t, "log", "missing_dependency_xyz", time.Second)
	// Fixing the script is picked up by the retry.
	if err := os.WriteFile(script, fmt.Appendf(nil, versionApp, "fixed"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, body := a.get("/app/")
		if resp.StatusCode == 200 && string(body) == "fixed" {
			break
		}
		if resp.StatusCode != 500 || time.Now().After(deadline) {
			t.Fatalf("status %d, body %q", resp.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestConcurrent(t *testing.T) {
	a := newApp(t, copyScript(t, "app.py"), appOptions{configure: func(m *Module) { m.Processes = 2; m.Threads = 10 }})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := fmt.Sprintf("request %d\n", i)
			resp, err := a.client().Post(a.srv.URL+"/app/input?mode=read", "text/plain", strings.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want, _ := json.Marshal([]string{body}); resp.StatusCode != 200 || !bytes.Equal(got, want) {
				errs <- fmt.Errorf("request %d: status %d, body %s", i, resp.StatusCode, got)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestHTTP2Streaming checks that chunks are flushed over HTTP/2 too.
func TestHTTP2Streaming(t *testing.T) {
	a := newApp(t, copyScript(t, "app.py"), appOptions{tls: true})
	tr := a.client().Transport.(*http.Transport)
	tr.TLSClientConfig.MinVersion = tls.VersionTLS12
	start := time.Now()
	resp, err := a.client().Get(a.srv.URL + "/app/stream?sleep=1.5")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s", resp.Proto)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("first chunk took %v", d)
	}
	io.Copy(io.Discard, resp.Body)
}

// TestStopWithoutWarnings runs workers in Python's development mode, which
// shows every ResourceWarning, and stops them every way the pool does: a
// worker retired after max_requests, workers replaced when the script
// changes, and the pool's own stop. A worker that leaves a socket open
// would log "ResourceWarning: unclosed <socket...>" on its stderr.
func TestStopWithoutWarnings(t *testing.T) {
	for _, tc := range []struct {
		name      string
		configure func(*Module)
		act       func(t *testing.T, a *testApp)
	}{
		{"cleanup", nil, func(t *testing.T, a *testApp) {
			a.get("/app/pid")
		}},
		{"max_requests", func(m *Module) { m.MaxRequests = 2 }, func(t *testing.T, a *testApp) {
			for i := 0; i < 5; i++ {
				if resp, _ := a.get("/app/pid"); resp.StatusCode != 200 {
					t.Fatalf("request %d: status %d", i, resp.StatusCode)
				}
			}
			a.log.WaitFor(t, "log", "wsgi worker stopped", 10*time.Second)
		}},
		{"reload", func(m *Module) { m.Reload = true }, func(t *testing.T, a *testApp) {
			if err := os.WriteFile(a.script, fmt.Appendf(nil, versionApp, "v2"), 0o644); err != nil {
				t.Fatal(err)
			}
			future := time.Now().Add(2 * time.Second)
			os.Chtimes(a.script, future, future)
			a.log.WaitFor(t, "log", "wsgi worker stopped", 10*time.Second)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, copyScript(t, "app.py"), appOptions{configure: func(m *Module) {
				m.Env = map[string]string{"PYTHONDEVMODE": "1"}
				if tc.configure != nil {
					tc.configure(m)
				}
			}})
			tc.act(t, a)
			if err := a.m.Cleanup(); err != nil {
				t.Fatal(err)
			}
			if log := a.log.String(); strings.Contains(log, "Warning:") {
				t.Errorf("a worker warned while stopping:\n%s", log)
			}
		})
	}
}

func TestTitle(t *testing.T) {
	long := strings.Repeat("é", 40) // 80 bytes
	for _, tc := range []struct {
		name, mount, vhost string
		n                  int64
		want               string
	}{
		{"plain", "/app", "example.com", 2, "httpd wsgi /app (example.com) worker 2"},
		{"no vhost", "/", "", 1, "httpd wsgi / (-) worker 1"},
		{"control characters", "/a\nb", "x\x00y\x7f", 3, "httpd wsgi /a?b (x?y?) worker 3"},
		{"long", "/" + long, "h", 1, "httpd wsgi /" + strings.Repeat("é", 31) + "… (h) worker 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pyworker.Title("wsgi", tc.mount, tc.vhost, tc.n); got != tc.want {
				t.Errorf("title(%q, %q, %d) = %q, want %q", tc.mount, tc.vhost, tc.n, got, tc.want)
			}
		})
	}
}

// TestWorkerCommandLine: a worker's command line is short and names the
// mount and the vhost, so ps tells the workers apart.
func TestWorkerCommandLine(t *testing.T) {
	script := copyScript(t, "app.py")
	a := newApp(t, script, appOptions{configure: func(m *Module) { m.Processes = 2 }})
	_, served := a.get("/app/pid")
	pids := workerPIDs(script)
	if len(pids) != 2 || pids[0] != string(served) && pids[1] != string(served) {
		t.Fatalf("workerPIDs = %v, want two workers, one of them %s", pids, served)
	}
	titles := map[string]bool{}
	for _, pid := range pids {
		b, err := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
		if err != nil {
			t.Fatal(err)
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) != 3 || args[0] != python || args[1] != "-" || !strings.HasPrefix(args[2], "httpd wsgi /app (test) worker ") || len(b) >= 200 {
			t.Errorf("worker %s: command line %q (%d bytes), want %s - \"httpd wsgi /app (test) worker N\", under 200 bytes", pid, args, len(b), python)
		}
		titles[args[len(args)-1]] = true
	}
	if !titles["httpd wsgi /app (test) worker 1"] || !titles["httpd wsgi /app (test) worker 2"] {
		t.Errorf("titles %v, want workers 1 and 2", titles)
	}
}

// TestDescribe: httpd -S names the interpreter as found on PATH and its
// version, asked from the interpreter before the pool starts and taken
// from the workers' report after.
func TestDescribe(t *testing.T) {
	out, err := exec.Command(python, "-c", "import sys; print(sys.version.split()[0])").Output()
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(out))
	bin := t.TempDir()
	if err := os.Symlink(python, filepath.Join(bin, "mypython")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, tc := range []struct {
		name, python, want string
	}{
		{"name on PATH", "mypython", "(python " + filepath.Join(bin, "mypython") + " " + version + ", 1 processes × 4 threads)"},
		{"path", python, "(python " + python + " " + version + ", 1 processes × 4 threads)"},
		{"missing", "no-such-python", "(python no-such-python, 1 processes × 4 threads)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Module{Prefix: "/app", Script: "/srv/app.wsgi", Callable: "application", Python: tc.python, Processes: 1, Threads: 4}
			if got, want := m.Describe(), "WSGI /srv/app.wsgi:application "+tc.want; got != want {
				t.Errorf("Describe() = %q, want %q", got, want)
			}
		})
	}
	t.Run("provisioned", func(t *testing.T) {
		a := newApp(t, copyScript(t, "app.py"), appOptions{configure: func(m *Module) { m.Python = "mypython" }})
		a.log.WaitFor(t, "log", `msg="wsgi python"`, 10*time.Second)
		if want := "(python " + filepath.Join(bin, "mypython") + " " + version + ","; !strings.Contains(a.m.Describe(), want) {
			t.Errorf("Describe() = %q, want it to hold %q", a.m.Describe(), want)
		}
		if a.m.probeVersion != "" {
			t.Errorf("a provisioned module asked the interpreter again: %q", a.m.probeVersion)
		}
		for _, want := range []string{"python=" + filepath.Join(bin, "mypython"), "version=" + version, "executable="} {
			if !strings.Contains(a.log.String(), want) {
				t.Errorf("start log lacks %q:\n%s", want, a.log.String())
			}
		}
	})
}
