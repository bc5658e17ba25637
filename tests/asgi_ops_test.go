package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"httpd/internal/stats"
	"httpd/registry"
)

// asgiPool reads the pool report of the mount prefix from the status
// page at /server-status.
func asgiPool(t *testing.T, srv *Server, prefix string) *registry.PoolReport {
	t.Helper()
	code, _, body := asgiDo(t, "GET", srv.URL("/server-status?format=json"), "", nil)
	if code != 200 {
		t.Fatalf("status: %d %s", code, body)
	}
	var rep stats.Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, body)
	}
	for _, v := range rep.VHosts {
		for _, m := range v.Mounts {
			if m.Prefix == prefix && m.State != nil && m.State.Workers != nil {
				return m.State.Workers
			}
		}
	}
	t.Fatalf("no pool for %s in the status:\n%s", prefix, body)
	return nil
}

// TestASGIMaxRequests recycles workers after max_requests requests and
// WebSocket sessions: no request fails, a WebSocket open on a retiring
// worker lives on through the grace and is then closed with 1001, and
// the status page counts restarts, not crashes.
func TestASGIMaxRequests(t *testing.T) {
	py := asgiPython(t)
	h := NewHarness(t)
	asgiFixture(t, h, "raw.py")
	mark := filepath.Join(h.Dir, "mark")
	srv := h.Start(wsgiConfig(fmt.Sprintf(`
  asgi_app "/load" {
    app          = "raw:app"
    python_path  = ["apps"]
    python       = %[1]q
    processes    = 2
    max_requests = 3
  }
  asgi_app "/ws" {
    app          = "raw:app"
    python_path  = ["apps"]
    python       = %[1]q
    processes    = 1
    max_requests = 2
    env          = { ASGI_MARK = %[2]q }
  }
  status "/server-status" { allow = ["127.0.0.1/32"] }
`, py, mark)))

	t.Run("sequential", func(t *testing.T) {
		pids := map[string]int{}
		for i := 0; i < 8; i++ {
			code, _, pid := asgiDo(t, "GET", srv.URL("/ws/pid"), "", nil)
			if code != 200 {
				t.Fatalf("request %d: %d %s", i, code, pid)
			}
			pids[pid]++
		}
		// 1 process, 2 requests each: 4 workers served 8 requests.
		if len(pids) != 4 {
			t.Errorf("requests per worker: %v; want 4 workers, 2 requests each", pids)
		}
		for pid, n := range pids {
			if n != 2 {
				t.Errorf("worker %s served %d requests; want max_requests 2", pid, n)
			}
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failed []string
		pids := map[string]bool{}
		for g := 0; g < 6; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 6; i++ {
					resp, err := http.Get(srv.URL("/load/pid"))
					if err != nil {
						mu.Lock()
						failed = append(failed, err.Error())
						mu.Unlock()
						return
					}
					b, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					mu.Lock()
					if resp.StatusCode != 200 || err != nil {
						failed = append(failed, fmt.Sprintf("%d %s %v", resp.StatusCode, b, err))
					} else {
						pids[string(b)] = true
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(failed) > 0 {
			t.Fatalf("%d of 36 requests failed during recycling: %v", len(failed), failed)
		}
		if len(pids) < 12 {
			t.Errorf("36 requests with max_requests 3 ran on %d workers; want at least 12", len(pids))
		}
	})

	t.Run("websocket", func(t *testing.T) {
		c := wsDial(t, "ws://"+srv.Addr+"/ws/chat") // the worker's first session
		wsWrite(t, c, websocket.MessageText, "hi")
		if _, got := wsRead(t, c); got != "echo: hi" {
			t.Fatalf("echo %q", got)
		}
		code, _, old := asgiDo(t, "GET", srv.URL("/ws/pid"), "", nil) // its second: it retires
		if code != 200 {
			t.Fatalf("GET /ws/pid: %d", code)
		}
		code, _, fresh := asgiDo(t, "GET", srv.URL("/ws/pid"), "", nil)
		if code != 200 || fresh == old {
			t.Fatalf("after max_requests: %d from worker %s; want 200 from a new worker (not %s)", code, fresh, old)
		}
		// The retiring worker still carries the WebSocket.
		wsWrite(t, c, websocket.MessageText, "still there")
		if _, got := wsRead(t, c); got != "echo: still there" {
			t.Fatalf("echo on the retiring worker %q", got)
		}
		// Then it is closed with 1001, after the grace (5 s).
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, _, err := c.Read(ctx)
		if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
			t.Fatalf("WebSocket on the retiring worker ended with %v (close status %d); want 1001 going away", err, code)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("closed after %s", d)
		}
		if got := asgiWaitFile(t, mark+".ws-disconnect", 10*time.Second); got != "1001" {
			t.Errorf("the application saw websocket.disconnect code %s, want 1001", got)
		}
	})

	// The retired workers exit, counted as restarts, none as a crash.
	deadline := time.Now().Add(20 * time.Second)
	for {
		ws, load := asgiPool(t, srv, "/ws"), asgiPool(t, srv, "/load")
		done := ws.Restarts >= 4 && load.Restarts >= 10 && len(asgiWorkers(h.Dir)) == 3
		if ws.Crashes != 0 || load.Crashes != 0 {
			t.Fatalf("recycled workers counted as crashes: /ws %+v, /load %+v", ws, load)
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after recycling: /ws %+v, /load %+v, workers %v; want >= 4 and >= 10 restarts and 3 workers",
				ws, load, asgiWorkers(h.Dir))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(srv.Stderr(), "exited unexpectedly") {
		t.Errorf("a recycled worker was logged as a crash:\n%s", srv.Stderr())
	}
	srv.Stop()
	if pids := asgiWorkers(h.Dir); len(pids) > 0 {
		t.Errorf("ASGI workers outlived the server: %v", pids)
	}
}

// TestASGIImportCheck runs httpd -t over ASGI apps that fail to import
// (a missing module two calls deep, a syntax error, an app that is not
// callable, a missing attribute) and ones that load: each failure is a
// diagnostic at the Python file and line, or at the app attribute, with
// the traceback's end; the lifespan does not run; -no-import skips the
// check.
func TestASGIImportCheck(t *testing.T) {
	py := asgiPython(t)
	h := NewHarness(t)
	asgiFixture(t, h, "failing.py")
	h.Write("apps/helper.py", "def load():\n    import no_such_module_here\n", 0o644)
	h.Write("apps/bad.py", "import helper\n\nhelper.load()\n\nasync def app(scope, receive, send):\n    pass\n", 0o644)
	h.Write("apps/syntax.py", "async def app(scope, receive, send:\n    pass\n", 0o644)
	h.Write("apps/good.py", "async def app(scope, receive, send):\n    pass\n", 0o644)
	h.Write("apps/notcallable.py", "app = None\n", 0o644)
	config := func(apps ...string) string {
		c := "server {\n  listen = [\"127.0.0.1:0\"]\n}\nvhost \"a.test\" {\n"
		for i, a := range apps {
			c += fmt.Sprintf("  asgi_app \"/%c\" {\n    app = %q\n    python = %q\n    python_path = [\"apps\"]\n  }\n", 'a'+i, a, py)
		}
		return c + "}\n"
	}

	h.Write("bad.hcl", config("good:app", "bad:app", "syntax:app", "notcallable:app", "good:application"), 0o644)
	out, errOut, code := h.Run("-t", "-f", "bad.hcl")
	if code != 1 || strings.Contains(out, "Syntax OK") {
		t.Fatalf("httpd -t: exit %d, stdout %q; want exit 1 without Syntax OK\n%s", code, out, errOut)
	}
	for _, want := range []string{
		h.Dir + "/apps/helper.py:2:1: ASGI application failed to import: ModuleNotFoundError: No module named 'no_such_module_here'",
		"    import no_such_module_here\n",
		h.Dir + "/apps/syntax.py:1:",
		"ASGI application failed to import: SyntaxError:",
		"bad.hcl:21:11: ASGI application failed to import: TypeError: app is not callable but NoneType None",
		"bad.hcl:26:11: ASGI application failed to import: AttributeError: module 'good' has no attribute 'application'",
		"Fix the application, or run httpd -t -no-import to skip this check.",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("httpd -t stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, `"<stdin>"`) {
		t.Errorf("httpd -t shows the worker's own frames:\n%s", errOut)
	}

	out, errOut, code = h.Run("-t", "-no-import", "-f", "bad.hcl")
	if code != 0 || out != "Syntax OK\n" {
		t.Errorf("httpd -t -no-import: exit %d, stdout %q, stderr %q; want Syntax OK", code, out, errOut)
	}
	// A lifespan startup that fails is not the import check's business.
	h.Write("good.hcl", config("good:app", "failing:app"), 0o644)
	if out, errOut, code := h.Run("-t", "-f", "good.hcl"); code != 0 || out != "Syntax OK\n" {
		t.Errorf("httpd -t on good apps: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
