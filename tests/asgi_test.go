package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// asgiPython is the interpreter of the ASGI end-to-end tests: Debian's,
// with python3-fastapi, python3-starlette and python3-multipart. The
// tests fail when it or a package is missing.
func asgiPython(t *testing.T, modules ...string) string {
	t.Helper()
	p := "/usr/bin/python3"
	if env := os.Getenv("HTTPD_TEST_PYTHON"); env != "" {
		p = env
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("ASGI tests need Python 3 at %s (set HTTPD_TEST_PYTHON): %v", p, err)
	}
	for _, m := range modules {
		if out, err := exec.Command(p, "-c", "import "+m).CombinedOutput(); err != nil {
			t.Fatalf("ASGI tests need the Python module %s in %s (Debian: apt-get install python3-%s): %v\n%s", m, p, m, err, out)
		}
	}
	return p
}

func asgiFixture(t *testing.T, h *Harness, name string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/asgi", name))
	if err != nil {
		t.Fatal(err)
	}
	h.Write("apps/"+name, string(b), 0o644)
}

// asgiWorkers lists running ASGI workers whose working directory is dir.
func asgiWorkers(dir string) []string {
	var pids []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte("\x00httpd asgi ")) {
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

// asgiWaitFile waits until path exists and returns its content.
func asgiWaitFile(t *testing.T, path string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %s", path, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func asgiDo(t *testing.T, method, u, ctype string, body io.Reader) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, u, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func wsDial(t *testing.T, u string, subprotocols ...string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: subprotocols})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", u, err, status)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func wsRead(t *testing.T, c *websocket.Conn) (websocket.MessageType, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("websocket read: %v", err)
	}
	return typ, string(b)
}

func wsWrite(t *testing.T, c *websocket.Conn, typ websocket.MessageType, s string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, typ, []byte(s)); err != nil {
		t.Fatalf("websocket write: %v", err)
	}
}

func TestASGIRaw(t *testing.T) {
	py := asgiPython(t)
	h := NewHarness(t)
	asgiFixture(t, h, "raw.py")
	mark := filepath.Join(h.Dir, "mark")
	srv := h.Start(wsgiConfig(fmt.Sprintf(`
  h2c = true
  asgi_app "/raw" {
    app             = "raw:app"
    python_path     = ["apps"]
    python          = %[1]q
    processes       = 2
    request_timeout = "2s"
    env             = { ASGI_MARK = %[2]q }
  }
  asgi_app "/two/" {
    app         = "raw:app2"
    python_path = ["apps"]
    python      = %[1]q
    lifespan    = "off"
  }
`, py, mark)))
	base := srv.URL("/raw")
	gate := mark + ".release"
	release := func(t *testing.T) {
		t.Helper()
		if err := os.WriteFile(gate, []byte("go"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Lifespan startup ran before the server took requests.
	if _, err := os.Stat(mark + ".startup"); err != nil {
		t.Fatalf("lifespan startup did not run before the server started: %v", err)
	}

	t.Run("scope", func(t *testing.T) {
		code, _, body := asgiDo(t, "POST", base+"/scope?a=1&b=%20x", "text/plain", strings.NewReader("hello"))
		if code != 200 {
			t.Fatalf("status %d: %s", code, body)
		}
		var sc struct {
			Type        string            `json:"type"`
			ASGI        map[string]string `json:"asgi"`
			HTTPVersion string            `json:"http_version"`
			Method      string            `json:"method"`
			Scheme      string            `json:"scheme"`
			Path        string            `json:"path"`
			RawPath     string            `json:"raw_path"`
			Query       string            `json:"query_string"`
			RootPath    string            `json:"root_path"`
			Headers     [][2]string       `json:"headers"`
			Client      []any             `json:"client"`
			Server      []any             `json:"server"`
			State       map[string]string `json:"state"`
			Body        string            `json:"body"`
		}
		if err := json.Unmarshal([]byte(body), &sc); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		_, port, _ := net.SplitHostPort(srv.Addr)
		checks := []struct{ name, got, want string }{
			{"type", sc.Type, "http"},
			{"asgi.version", sc.ASGI["version"], "3.0"},
			{"http_version", sc.HTTPVersion, "1.1"},
			{"method", sc.Method, "POST"},
			{"scheme", sc.Scheme, "http"},
			{"path", sc.Path, "/scope"},
			{"raw_path", sc.RawPath, "/scope"},
			{"query_string", sc.Query, "a=1&b=%20x"},
			{"root_path", sc.RootPath, "/raw"},
			{"client host", fmt.Sprint(sc.Client[0]), "127.0.0.1"},
			{"server", fmt.Sprint(sc.Server), "[127.0.0.1 " + port + "]"},
			{"state from lifespan", sc.State["started"], "yes"},
			{"body", sc.Body, "hello"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
			}
		}
		hdr := map[string]string{}
		for _, kv := range sc.Headers {
			if kv[0] != strings.ToLower(kv[0]) {
				t.Errorf("header name %q is not lower case", kv[0])
			}
			hdr[kv[0]] = kv[1]
		}
		if hdr["host"] != srv.Addr || hdr["content-type"] != "text/plain" || hdr["content-length"] != "5" {
			t.Errorf("headers = %v", sc.Headers)
		}
	})

	t.Run("HTTP/2", func(t *testing.T) {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(base + "/scope")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sc struct {
			HTTPVersion string `json:"http_version"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&sc); err != nil || resp.ProtoMajor != 2 || sc.HTTPVersion != "2" {
			t.Fatalf("proto %s, http_version %q, %v", resp.Proto, sc.HTTPVersion, err)
		}
	})

	t.Run("upload streams in bounded chunks", func(t *testing.T) {
		data := make([]byte, 20<<20)
		rand.New(rand.NewSource(1)).Read(data)
		sum := sha256.Sum256(data)
		for _, chunked := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(data)
			if chunked {
				r = io.MultiReader(r) // unknown length: chunked
			}
			code, _, body := asgiDo(t, "PUT", base+"/upload", "application/octet-stream", r)
			var got struct {
				SHA     string `json:"sha256"`
				Bytes   int    `json:"bytes"`
				Largest int    `json:"largest"`
			}
			if code != 200 || json.Unmarshal([]byte(body), &got) != nil {
				t.Fatalf("chunked=%v: status %d: %s", chunked, code, body)
			}
			if got.SHA != hex.EncodeToString(sum[:]) || got.Bytes != len(data) {
				t.Errorf("chunked=%v: app got %d bytes, sha %s", chunked, got.Bytes, got.SHA)
			}
			if got.Largest > 64<<10 {
				t.Errorf("chunked=%v: a body message of %d bytes; want at most 64 KiB", chunked, got.Largest)
			}
		}
	})

	t.Run("each body message reaches the client at once", func(t *testing.T) {
		resp, err := http.Get(base + "/gated")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		line, err := br.ReadString('\n')
		if err != nil || line != "first\n" {
			t.Fatalf("first chunk = %q, %v", line, err)
		}
		// Only now let the application send the rest.
		release(t)
		rest, _ := io.ReadAll(br)
		if string(rest) != "second\n" {
			t.Fatalf("rest = %q", rest)
		}
	})

	t.Run("server-sent events", func(t *testing.T) {
		code, hdr, body := asgiDo(t, "GET", base+"/stream", "", nil)
		if code != 200 || hdr.Get("Content-Type") != "text/event-stream" || strings.Count(body, "data: ") != 5 {
			t.Fatalf("%d %v %q", code, hdr, body)
		}
	})

	t.Run("large response", func(t *testing.T) {
		code, _, body := asgiDo(t, "GET", base+"/big", "", nil)
		if code != 200 || len(body) != 8<<20 || strings.Trim(body, "x") != "" {
			t.Fatalf("status %d, %d bytes", code, len(body))
		}
	})

	t.Run("disconnect", func(t *testing.T) {
		c, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		// A client that goes away resets the connection.
		c.(*net.TCPConn).SetLinger(0)
		fmt.Fprintf(c, "GET /raw/forever HTTP/1.1\r\nHost: localhost\r\n\r\n")
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(line, "tick") {
				break
			}
		}
		c.Close()
		if got := asgiWaitFile(t, mark+".disconnect", 10*time.Second); got != "gone" {
			t.Fatalf("marker = %q", got)
		}
	})

	t.Run("application error is a 500", func(t *testing.T) {
		if code, _, _ := asgiDo(t, "GET", base+"/boom", "", nil); code != 500 {
			t.Fatalf("status %d, want 500", code)
		}
		srv.WaitStderr("ValueError: boom on purpose", 10*time.Second)
	})

	t.Run("request_timeout is a 504 with the task's stack", func(t *testing.T) {
		start := time.Now()
		code, _, _ := asgiDo(t, "GET", base+"/sleep", "", nil)
		if code != 504 {
			t.Fatalf("status %d, want 504", code)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("504 after %s", d)
		}
		srv.WaitStderr("await asyncio.sleep(60)", 10*time.Second)
		// The worker survived: the task was cancelled, not the process.
		if code, _, _ := asgiDo(t, "GET", base+"/pid", "", nil); code != 200 {
			t.Fatalf("after the timeout: status %d", code)
		}
	})

	t.Run("request_timeout spares a stream that keeps sending", func(t *testing.T) {
		code, _, body := asgiDo(t, "GET", base+"/heartbeat", "", nil)
		if code != 200 || !strings.HasSuffix(body, "data: done\n\n") {
			t.Fatalf("%d %q", code, body)
		}
	})

	t.Run("request_timeout cuts a stream that stalls", func(t *testing.T) {
		resp, err := http.Get(base + "/stall")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err == nil || string(body) != "begun\n" {
			t.Fatalf("body %q, err %v; want the first part and a cut", body, err)
		}
		srv.WaitStderr("in stall", 10*time.Second)
	})

	t.Run("crash fails only its own requests", func(t *testing.T) {
		// A streaming request holds one worker; the crash goes to the
		// other, the less busy one.
		os.Remove(gate)
		resp, err := http.Get(base + "/gated")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		if line, _ := br.ReadString('\n'); line != "first\n" {
			t.Fatalf("first chunk = %q", line)
		}
		if code, _, _ := asgiDo(t, "GET", base+"/crash", "", nil); code != 502 {
			t.Fatalf("crash: status %d, want 502", code)
		}
		release(t)
		if rest, _ := io.ReadAll(br); string(rest) != "second\n" {
			t.Fatalf("the other worker's request was hurt: rest = %q", rest)
		}
		srv.WaitStderr("asgi worker exited unexpectedly", 10*time.Second)
		// The crashed worker is replaced: both serve again.
		deadline := time.Now().Add(15 * time.Second)
		pids := map[string]bool{}
		for len(pids) < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("only workers %v serve after the crash", pids)
			}
			if code, _, body := asgiDo(t, "GET", base+"/pid", "", nil); code == 200 {
				pids[body] = true
			}
			// Hold one worker busy so that the other answers.
			os.Remove(gate)
			resp, err := http.Get(base + "/gated")
			if err == nil {
				bufio.NewReader(resp.Body).ReadString('\n')
				if code, _, body := asgiDo(t, "GET", base+"/pid", "", nil); code == 200 {
					pids[body] = true
				}
				release(t)
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	})

	t.Run("a blocked event loop costs its worker", func(t *testing.T) {
		if code, _, _ := asgiDo(t, "GET", base+"/block", "", nil); code != 504 {
			t.Fatalf("status %d, want 504", code)
		}
		srv.WaitStderr("asgi worker did not end a cancelled task", 15*time.Second)
		srv.WaitStderr("in block", time.Second)
		srv.WaitStderr(`error="signal: killed"`, 10*time.Second)
	})

	t.Run("ASGI 2 application", func(t *testing.T) {
		code, _, body := asgiDo(t, "GET", srv.URL("/two/x"), "", nil)
		if code != 200 || body != "asgi2 http" {
			t.Fatalf("%d %q", code, body)
		}
	})

	t.Run("websocket", func(t *testing.T) {
		wsBase := "ws://" + srv.Addr + "/raw"
		c := wsDial(t, wsBase+"/ws", "chat.v1")
		if c.Subprotocol() != "chat.v1" {
			t.Errorf("subprotocol %q, want chat.v1", c.Subprotocol())
		}
		wsWrite(t, c, websocket.MessageText, "hi")
		if typ, s := wsRead(t, c); typ != websocket.MessageText || s != "echo: hi" {
			t.Fatalf("got %v %q", typ, s)
		}
		wsWrite(t, c, websocket.MessageBinary, "\x00\x01\xff")
		if typ, s := wsRead(t, c); typ != websocket.MessageBinary || s != "\x00\x01\xff" {
			t.Fatalf("got %v %q", typ, s)
		}
		// A message larger than the worker's read buffer (256 KiB), twice:
		// the buffer grows for it and shrinks back after.
		big := make([]byte, 3<<20)
		rand.New(rand.NewSource(2)).Read(big)
		c.SetReadLimit(4 << 20)
		for range 2 {
			wsWrite(t, c, websocket.MessageBinary, string(big))
			if typ, s := wsRead(t, c); typ != websocket.MessageBinary || s != string(big) {
				t.Fatalf("3 MiB message: got %v, %d bytes, equal %v", typ, len(s), s == string(big))
			}
		}
		// Many messages in flight at once.
		for i := 0; i < 100; i++ {
			wsWrite(t, c, websocket.MessageText, fmt.Sprint(i))
		}
		for i := 0; i < 100; i++ {
			if _, s := wsRead(t, c); s != fmt.Sprintf("echo: %d", i) {
				t.Fatalf("message %d = %q", i, s)
			}
		}
		// A client that closes: the application hears its code.
		c2 := wsDial(t, wsBase+"/ws")
		wsWrite(t, c2, websocket.MessageText, "x")
		wsRead(t, c2)
		if err := c2.Close(4001, "bye"); err != nil {
			t.Fatal(err)
		}
		if got := asgiWaitFile(t, mark+".ws-disconnect", 10*time.Second); got != "4001" {
			t.Fatalf("websocket.disconnect code %s, want 4001", got)
		}
		os.Remove(mark + ".ws-disconnect")
		// One that just goes away: 1006.
		c3 := wsDial(t, wsBase+"/ws")
		wsWrite(t, c3, websocket.MessageText, "x")
		wsRead(t, c3)
		c3.CloseNow()
		if got := asgiWaitFile(t, mark+".ws-disconnect", 10*time.Second); got != "1006" {
			t.Fatalf("websocket.disconnect code %s, want 1006", got)
		}
		// The application closes with a code of its own.
		wsWrite(t, c, websocket.MessageText, "close")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _, err := c.Read(ctx)
		if websocket.CloseStatus(err) != 4000 {
			t.Fatalf("close: %v, want status 4000", err)
		}
		// Closed before accept: the handshake is denied with 403.
		ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel2()
		_, resp, err := websocket.Dial(ctx2, wsBase+"/deny", nil)
		if err == nil || resp == nil || resp.StatusCode != 403 {
			t.Fatalf("deny: %v, %v", err, resp)
		}
		// An application that does not answer the handshake within
		// request_timeout: 504.
		_, resp, err = websocket.Dial(ctx2, wsBase+"/slow-accept", nil)
		if err == nil || resp == nil || resp.StatusCode != 504 {
			t.Fatalf("slow-accept: %v, %v", err, resp)
		}
		// Or with a response of the application's own
		// (websocket.http.response).
		req, _ := http.NewRequest("GET", base+"/deny-http", nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("Www-Authenticate") != "Bearer" || string(body) != "no entry\n" {
			t.Fatalf("deny-http: %d %v %q", resp.StatusCode, resp.Header, body)
		}
	})

	srv.Stop()
	if got := asgiWaitFile(t, mark+".shutdown", time.Second); got == "" {
		t.Fatal("lifespan shutdown did not run")
	}
	if pids := asgiWorkers(h.Dir); len(pids) > 0 {
		t.Errorf("ASGI workers outlived the server: %v", pids)
	}
}

// TestASGIStartupFailure checks that an application whose lifespan
// startup fails, or that cannot be imported, stops the server from
// starting, with the application's message.
func TestASGIStartupFailure(t *testing.T) {
	py := asgiPython(t)
	for _, tc := range []struct{ name, app, want string }{
		{"lifespan startup failed", "failing:app", "database unreachable on purpose"},
		{"import error", "missing_module:app", "No module named 'missing_module'"},
		{"no such attribute", "failing:nope", "has no attribute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHarness(t)
			asgiFixture(t, h, "failing.py")
			h.Write("httpd.hcl", wsgiConfig(fmt.Sprintf(`
  asgi_app "/" {
    app         = %q
    python_path = ["apps"]
    python      = %q
    lifespan    = "on"
  }
`, tc.app, py)), 0o644)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, "-f", "httpd.hcl")
			cmd.Dir = h.Dir
			out, err := cmd.CombinedOutput()
			if ctx.Err() != nil {
				t.Fatalf("httpd kept running:\n%s", out)
			}
			if err == nil {
				t.Fatalf("httpd exited 0:\n%s", out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("output lacks %q:\n%s", tc.want, out)
			}
			if pids := asgiWorkers(h.Dir); len(pids) > 0 {
				t.Errorf("ASGI workers outlived the server: %v", pids)
			}
		})
	}
}

func TestASGIFastAPI(t *testing.T) {
	py := asgiPython(t, "fastapi", "multipart")
	h := NewHarness(t)
	asgiFixture(t, h, "fastapi_app.py")
	mark := filepath.Join(h.Dir, "fastapi")
	srv := h.Start(wsgiConfig(fmt.Sprintf(`
  asgi_app "/api" {
    app         = "fastapi_app:app"
    python_path = ["apps"]
    python      = %q
    processes   = 1
    lifespan    = "on"
    env         = { ASGI_MARK = %q }
  }
`, py, mark)))
	asgiWaitFile(t, mark+".startup", time.Second)
	base := srv.URL("/api")

	tests := []struct {
		name, method, path, ctype, body string
		status                          int
		want                            string
	}{
		{"path and query", "GET", "/items/42?q=x", "", "", 200, `{"item_id":42,"q":"x"}`},
		{"validation", "GET", "/items/nope", "", "", 422, `"type":"type_error.integer"`},
		{"json body", "POST", "/items", "application/json", `{"name":"pen","price":1.5,"tags":["a"]}`, 200, `{"name":"pen","total":3.0,"tags":["a"]}`},
		{"form", "POST", "/form", "application/x-www-form-urlencoded", "name=Ada&age=36", 200, `{"name":"Ada","age":36}`},
		{"lifespan state and root_path", "GET", "/state", "", "", 200, `{"greeting":"hello from lifespan","root_path":"/api","url":"http://` + srv.Addr + `/api/state"}`},
		{"streaming", "GET", "/stream", "", "", 200, "line 0\nline 1\nline 2\n"},
		{"not found", "GET", "/nope", "", "", 404, `{"detail":"Not Found"}`},
		{"docs", "GET", "/openapi.json", "", "", 200, `"/items/{item_id}"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			code, _, got := asgiDo(t, tc.method, base+tc.path, tc.ctype, body)
			if code != tc.status || !strings.Contains(got, tc.want) {
				t.Fatalf("status %d body %s; want %d with %s", code, got, tc.status, tc.want)
			}
		})
	}

	t.Run("websocket chat between two clients", func(t *testing.T) {
		wsBase := "ws://" + srv.Addr + "/api/chat/"
		ada := wsDial(t, wsBase+"ada")
		if _, s := wsRead(t, ada); s != "ada joined" {
			t.Fatalf("ada got %q", s)
		}
		bob := wsDial(t, wsBase+"bob")
		for _, c := range []*websocket.Conn{ada, bob} {
			if _, s := wsRead(t, c); s != "bob joined" {
				t.Fatalf("got %q", s)
			}
		}
		wsWrite(t, ada, websocket.MessageText, "hi bob")
		for _, c := range []*websocket.Conn{ada, bob} {
			if _, s := wsRead(t, c); s != "ada: hi bob" {
				t.Fatalf("got %q", s)
			}
		}
		ada.Close(websocket.StatusNormalClosure, "")
		if _, s := wsRead(t, bob); s != "ada left" {
			t.Fatalf("bob got %q", s)
		}
		bob.Close(websocket.StatusGoingAway, "")
	})

	srv.Stop()
	asgiWaitFile(t, mark+".shutdown", time.Second)
	if pids := asgiWorkers(h.Dir); len(pids) > 0 {
		t.Errorf("ASGI workers outlived the server: %v", pids)
	}
}

func TestASGIStarlette(t *testing.T) {
	py := asgiPython(t, "starlette")
	h := NewHarness(t)
	asgiFixture(t, h, "starlette_app.py")
	mark := filepath.Join(h.Dir, "starlette")
	srv := h.Start(wsgiConfig(fmt.Sprintf(`
  asgi_app "/" {
    app         = "starlette_app:app"
    python_path = ["apps"]
    python      = %q
    processes   = 2
    env         = { ASGI_MARK = %q }
  }
`, py, mark)))
	startPid := asgiWaitFile(t, mark+".startup", time.Second)

	code, _, body := asgiDo(t, "GET", srv.URL("/"), "", nil)
	if code != 200 || body != `{"hello":"starlette","ready":true,"path":"/"}` {
		t.Fatalf("GET /: %d %s", code, body)
	}
	code, _, body = asgiDo(t, "POST", srv.URL("/echo"), "text/plain", strings.NewReader("abc"))
	if code != 200 || body != "cba" {
		t.Fatalf("POST /echo: %d %s", code, body)
	}
	c := wsDial(t, "ws://"+srv.Addr+"/ws")
	wsWrite(t, c, websocket.MessageText, "hello")
	if _, s := wsRead(t, c); s != "echo: hello" {
		t.Fatalf("got %q", s)
	}
	c.Close(websocket.StatusNormalClosure, "")

	// A reload replaces the workers; the old ones run their lifespan
	// shutdown.
	srv.Signal(syscall.SIGHUP)
	srv.WaitStderr("msg=\"asgi worker stopped\"", 20*time.Second)
	if got := asgiWaitFile(t, mark+".shutdown", 10*time.Second); got == "" {
		t.Fatal("no lifespan shutdown on reload")
	}
	if got, _ := os.ReadFile(mark + ".startup"); string(got) == startPid {
		t.Errorf("no new worker started on reload (startup pid still %s)", startPid)
	}
	code, _, _ = asgiDo(t, "GET", srv.URL("/"), "", nil)
	if code != 200 {
		t.Fatalf("after reload: %d", code)
	}
	srv.Stop()
	if pids := asgiWorkers(h.Dir); len(pids) > 0 {
		t.Errorf("ASGI workers outlived the server: %v", pids)
	}
}

// TestASGIReloadFailure checks that a reload to an application whose
// lifespan startup fails keeps the running one serving, and leaves none
// of the new workers behind.
func TestASGIReloadFailure(t *testing.T) {
	py := asgiPython(t)
	h := NewHarness(t)
	asgiFixture(t, h, "raw.py")
	asgiFixture(t, h, "failing.py")
	config := func(app string) string {
		return wsgiConfig(fmt.Sprintf(`
  asgi_app "/" {
    app         = %q
    python_path = ["apps"]
    python      = %q
    lifespan    = "on"
  }
`, app, py))
	}
	srv := h.Start(config("raw:app"))
	code, _, pid := asgiDo(t, "GET", srv.URL("/pid"), "", nil)
	if code != 200 {
		t.Fatalf("GET /pid: %d", code)
	}
	h.Write("httpd.hcl", config("failing:app"), 0o644)
	srv.Signal(syscall.SIGHUP)
	srv.WaitStderr("config not reloaded", 30*time.Second)
	if !strings.Contains(srv.Stderr(), "database unreachable on purpose") {
		t.Errorf("the reload failure does not say why:\n%s", srv.Stderr())
	}
	code, _, again := asgiDo(t, "GET", srv.URL("/pid"), "", nil)
	if code != 200 || again != pid {
		t.Fatalf("after the failed reload: %d from worker %s; want 200 from %s", code, again, pid)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(asgiWorkers(h.Dir)) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("workers after the failed reload: %v; want only %s", asgiWorkers(h.Dir), pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.Stop()
	if pids := asgiWorkers(h.Dir); len(pids) > 0 {
		t.Errorf("ASGI workers outlived the server: %v", pids)
	}
}
