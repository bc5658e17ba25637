package asgi

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"httpd/registry"
)

func TestExplain(t *testing.T) {
	m := &Module{Prefix: "/api", App: "main:app", Processes: 2, Python: "python3"}
	tests := []struct {
		name   string
		header map[string]string
		want   string
	}{
		{"http", nil, `ASGI HTTP scope (root_path "/api", path "/x")`},
		{"websocket", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket"}, "ASGI WebSocket scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/x", nil)
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			mt, _ := registry.MatchMount("/api", r.URL.Path)
			e := m.Explain(r, mt)
			if !strings.Contains(e.Says, tc.want) || !strings.Contains(e.Says, "main:app in 2") || !e.Ends {
				t.Fatalf("%+v", e)
			}
		})
	}
}

// TestPool runs the test suite's raw application in a real pool:
// Report counts a request in flight, and Cleanup runs the lifespan
// shutdown and leaves no process.
func TestPool(t *testing.T) {
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("this test needs Debian's python3 at %s: %v", python, err)
	}
	apps, err := filepath.Abs("../../tests/testdata/asgi")
	if err != nil {
		t.Fatal(err)
	}
	mark := filepath.Join(t.TempDir(), "mark")
	m := &Module{Prefix: "/", App: "raw:app", Python: python, PythonPath: []string{apps}, Processes: 1,
		Lifespan: "on", RequestTimeout: 10 * time.Second, Env: map[string]string{"ASGI_MARK": mark}, dir: apps}
	if err := m.Provision(context.Background(), &registry.Env{}); err != nil {
		t.Fatal(err)
	}
	cleaned := false
	t.Cleanup(func() {
		if !cleaned {
			m.Cleanup()
		}
	})
	if _, err := os.Stat(mark + ".startup"); err != nil {
		t.Fatalf("no lifespan startup: %v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt, _ := registry.MatchMount("/", r.URL.Path)
		if err := m.serve(w, r, mt); err != nil {
			http.Error(w, err.Error(), registry.StatusOf(err))
		}
	}))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/gated")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if line, _ := br.ReadString('\n'); line != "first\n" {
		t.Fatalf("first line %q", line)
	}
	rep := m.Report()
	if rep.Kind != "asgi_app" || rep.Target != "raw:app" || rep.Workers == nil || rep.Workers.Busy != 1 || rep.Workers.Idle != 0 || rep.Workers.Max != 1 {
		t.Errorf("report while busy: %+v %+v", rep, rep.Workers)
	}
	if err := os.WriteFile(mark+".release", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rest, _ := readRest(br)
	resp.Body.Close()
	if rest != "second\n" {
		t.Fatalf("rest %q", rest)
	}
	deadline := time.Now().Add(5 * time.Second)
	for m.Report().Workers.Busy != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still busy: %+v", m.Report().Workers)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if w := m.Report().Workers; w.Idle != 1 {
		t.Errorf("report when idle: %+v", w)
	}

	var pids []int
	m.pool.mu.Lock()
	for w := range m.pool.workers {
		pids = append(pids, w.pid)
	}
	m.pool.mu.Unlock()
	m.Cleanup()
	cleaned = true
	if _, err := os.Stat(mark + ".shutdown"); err != nil {
		t.Errorf("no lifespan shutdown: %v", err)
	}
	for _, pid := range pids {
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
			if st, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")); !strings.Contains(string(st), ") Z ") {
				t.Errorf("worker %d still running after Cleanup", pid)
			}
		}
	}
}

func readRest(br *bufio.Reader) (string, error) {
	var b strings.Builder
	_, err := br.WriteTo(&b)
	return b.String(), err
}

// TestMaxRequests recycles a worker after max_requests streams: requests
// and WebSocket sessions count, none fails, a WebSocket open on the
// retiring worker is closed with 1001 after WebSocketGrace, and Report
// counts restarts, not crashes.
func TestMaxRequests(t *testing.T) {
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("this test needs Debian's python3 at %s: %v", python, err)
	}
	apps, err := filepath.Abs("../../tests/testdata/asgi")
	if err != nil {
		t.Fatal(err)
	}
	grace := WebSocketGrace
	WebSocketGrace = 200 * time.Millisecond
	t.Cleanup(func() { WebSocketGrace = grace })
	mark := filepath.Join(t.TempDir(), "mark")
	m := &Module{Prefix: "/", App: "raw:app", Python: python, PythonPath: []string{apps}, Processes: 1,
		Lifespan: "auto", RequestTimeout: 10 * time.Second, MaxRequests: 2, Env: map[string]string{"ASGI_MARK": mark}, dir: apps}
	if err := m.Provision(context.Background(), &registry.Env{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Cleanup() })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt, _ := registry.MatchMount("/", r.URL.Path)
		if err := m.serve(w, r, mt); err != nil {
			http.Error(w, err.Error(), registry.StatusOf(err))
		}
	}))
	defer srv.Close()
	get := func() string {
		t.Helper()
		resp, err := http.Get(srv.URL + "/pid")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := readRest(bufio.NewReader(resp.Body))
		if resp.StatusCode != 200 {
			t.Fatalf("GET /pid: %d %s", resp.StatusCode, b)
		}
		return b
	}

	var pids []string
	for range 5 {
		pids = append(pids, get())
	}
	if pids[0] != pids[1] || pids[2] != pids[3] || pids[1] == pids[2] || pids[3] == pids[4] {
		t.Errorf("workers of 5 requests with max_requests 2: %v", pids)
	}

	// The fresh worker has served one: a WebSocket is its second, and
	// its last.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if fresh := get(); fresh == pids[4] {
		t.Errorf("a request after the WebSocket went to the retiring worker %s", fresh)
	}
	_, _, err = c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("the WebSocket ended with %v; want 1001", err)
	}
	if d := time.Since(start); d < WebSocketGrace {
		t.Errorf("closed after %s, before the grace of %s", d, WebSocketGrace)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		w := m.Report().Workers
		if w.Crashes != 0 {
			t.Fatalf("recycled workers counted as crashes: %+v", w)
		}
		if w.Restarts == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("report after 3 recycles: %+v", w)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if b, err := os.ReadFile(mark + ".ws-disconnect"); err != nil || string(b) != "1001" {
		t.Errorf("the application's websocket.disconnect: %q %v; want code 1001", b, err)
	}
}
