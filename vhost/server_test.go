package vhost_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"httpd/conf"
	"httpd/internal/testutil"
	"httpd/registry"
	"httpd/vhost"
)

// probe is a test module mounted at a prefix whose behaviour is picked by
// its mode attribute. Instances with the same id share a probeState, so a
// test can see provisions and cleanups across generations.
//
//	probe "/slow" { id = "t1"  mode = "slow"  tag = "one" }
type probe struct {
	id, mode, tag string
	st            *probeState
}

type probeState struct {
	entered    chan struct{} // a slow request arrived
	release    chan struct{} // closed to let slow requests finish
	provisions atomic.Int32
	cleanups   atomic.Int32
}

var probes sync.Map // id → *probeState

// freshProbe forgets the state of id, so that a test run again (-count)
// starts from zero.
func freshProbe(id string) *probeState {
	probes.Delete(id)
	return probeFor(id)
}

func probeFor(id string) *probeState {
	st, _ := probes.LoadOrStore(id, &probeState{entered: make(chan struct{}, 100), release: make(chan struct{})})
	return st.(*probeState)
}

func init() {
	registry.Register(registry.Info{
		Name:   "probe",
		Labels: []string{"url_prefix"},
		Phase:  registry.PhaseMount,
		Doc:    "test stage",
		New:    func() registry.Module { return new(probe) },
	})
}

func (p *probe) Decode(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	c, diags := b.Body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "id"}, {Name: "mode"}, {Name: "tag"}}})
	var ds hcl.Diagnostics
	p.id, ds = registry.String(c, "id", dc.Eval, "default")
	diags = append(diags, ds...)
	p.mode, ds = registry.String(c, "mode", dc.Eval, "tag")
	diags = append(diags, ds...)
	p.tag, ds = registry.String(c, "tag", dc.Eval, "")
	return append(diags, ds...)
}

func (p *probe) Provision(ctx context.Context, env *registry.Env) error {
	p.st = probeFor(p.id)
	p.st.provisions.Add(1)
	if p.mode == "badprovision" {
		return errors.New("probe refuses to start")
	}
	return nil
}

func (p *probe) Cleanup() error {
	p.st.cleanups.Add(1)
	return nil
}

func (p *probe) Wrap(next registry.Handler) registry.Handler {
	return registry.MountFunc(func(w http.ResponseWriter, r *http.Request, _ registry.Mount) error {
		switch p.mode {
		case "slow":
			p.st.entered <- struct{}{}
			select {
			case <-p.st.release:
			case <-r.Context().Done():
				return r.Context().Err()
			}
		case "echo":
			b, err := io.ReadAll(r.Body)
			if err != nil {
				return fmt.Errorf("probe: read body: %w", err)
			}
			_, err = w.Write(b)
			return err
		case "fail":
			return registry.Errorf(http.StatusForbidden, "probe: secret reason %s", r.URL.Path)
		case "gone":
			return registry.Errorf(499, "probe: the client went away")
		case "unavailable":
			return registry.Errorf(http.StatusServiceUnavailable, "probe: down")
		case "allow":
			w.Header().Set("Allow", "GET")
			return registry.Errorf(http.StatusMethodNotAllowed, "probe: method")
		case "failafter":
			_, _ = io.WriteString(w, "partial")
			return errors.New("probe: broke mid-response")
		case "next":
			return next.ServeHTTP(w, r)
		}
		_, err := io.WriteString(w, p.tag)
		return err
	})
}

var _ registry.Cleaner = (*probe)(nil)

// waitFor polls cond until it holds, failing after a few seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.WaitUntil(t, what, cond)
}

type testServer struct {
	t      testing.TB
	srv    *vhost.Server
	dir    string
	log    *testutil.SyncBuffer
	access *testutil.SyncBuffer
	addr   string // bound address of 127.0.0.1:0
}

// parseConfig decodes src in dir, failing the test on any error.
func parseConfig(t testing.TB, src, dir string) *conf.Config {
	t.Helper()
	cfg, diags := conf.Parse([]byte(src), filepath.Join(dir, "test.hcl"), dir)
	if diags.HasErrors() {
		t.Fatalf("config: %s", diags)
	}
	return cfg
}

// startServer runs src (listening on 127.0.0.1:0) until the test ends.
func startServer(t testing.TB, src string) *testServer {
	t.Helper()
	ts := &testServer{t: t, dir: t.TempDir(), log: &testutil.SyncBuffer{}, access: &testutil.SyncBuffer{}}
	ts.srv = vhost.New(slog.New(slog.NewTextHandler(ts.log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err := ts.srv.Start(context.Background(), parseConfig(t, src, ts.dir), ts.access); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ts.srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	ts.addr = ts.srv.Addrs()["127.0.0.1:0"]
	if ts.addr == "" {
		t.Fatalf("no listener for 127.0.0.1:0: %v", ts.srv.Addrs())
	}
	return ts
}

func (ts *testServer) reload(src string) error {
	return ts.srv.Reload(context.Background(), parseConfig(ts.t, src, ts.dir), ts.access)
}

// get requests path with Host host and returns status and body.
func (ts *testServer) get(client *http.Client, host, path string) (int, string, error) {
	req, err := http.NewRequest("GET", "http://"+ts.addr+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// raw sends req over a new connection and returns everything the server
// answers until it closes the connection or a second passes.
func (ts *testServer) raw(req string) string {
	ts.t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		ts.t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

const listen = `server { listen = ["127.0.0.1:0"] }` + "\n"

func TestVHostExampleModule(t *testing.T) {
	t.Parallel()
	ts := startServer(t, listen+`
vhost "hello.test" {
  hello "/hi" { greeting = "Howdy" }
}`)
	client := &http.Client{}
	status, body, err := ts.get(client, "hello.test", "/hi/there")
	if err != nil || status != 200 || body != "Howdy, /hi/there\n" {
		t.Errorf("GET /hi/there = %d %q %v", status, body, err)
	}
	// No mount matches and the vhost has no document_root.
	status, body, err = ts.get(client, "hello.test", "/elsewhere")
	if err != nil || status != 404 || !strings.Contains(body, "404 Not Found") {
		t.Errorf("GET /elsewhere = %d %q %v", status, body, err)
	}
}

func TestVHostMountRouting(t *testing.T) {
	t.Parallel()
	ts := startServer(t, listen+`
vhost "r.test" {
  probe "/"            { tag = "root" }
  probe "/app"         { tag = "app" }
  probe "/app/admin/"  { tag = "admin" }
  probe "/cgi-bin/"    { tag = "cgi" }
  probe "/static/deep" { tag = "deep" }
}`)
	tests := []struct{ path, want string }{
		{"/", "root"},
		{"/index.html", "root"},
		{"/app", "app"},
		{"/app/", "app"},
		{"/app/x", "app"},
		{"/apple", "root"},
		{"/app/admin", "app"},
		{"/app/admin/", "admin"},
		{"/app/admin/users", "admin"},
		{"/cgi-bin", "root"},
		{"/cgi-bin/x.cgi/extra", "cgi"},
		{"/static/deep/a", "deep"},
		{"/static/deeper", "root"},
	}
	client := &http.Client{}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, body, err := ts.get(client, "r.test", tt.path)
			if err != nil || status != 200 || body != tt.want {
				t.Errorf("GET %s = %d %q %v, want %q", tt.path, status, body, err, tt.want)
			}
		})
	}
}

func TestVHostRoutingByHost(t *testing.T) {
	t.Parallel()
	ts := startServer(t, listen+`
vhost "first.test" {
  probe "/" { tag = "first" }
}
vhost "a.test" {
  aliases = ["www.a.test", "*.a.example"]
  probe "/" { tag = "a" }
}
vhost "deep.a.example" {
  aliases = ["*.deep.a.example"]
  probe "/" { tag = "deep" }
}
vhost "b.test" {
  default = true
  probe "/" { tag = "b" }
}`)
	tests := []struct{ host, want string }{
		{"a.test", "a"},
		{"WWW.A.TEST:8080", "a"},
		{"a.test.", "a"},
		{"x.a.example", "a"},
		{"deep.a.example", "deep"},
		{"x.deep.a.example", "deep"},
		{"first.test", "first"},
		{"unknown.test", "b"},
		{"127.0.0.1", "b"},
	}
	client := &http.Client{}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			status, body, err := ts.get(client, tt.host, "/")
			if err != nil || status != 200 || body != tt.want {
				t.Errorf("Host %s: %d %q %v, want %q", tt.host, status, body, err, tt.want)
			}
		})
	}
	// HTTP/1.0 without a Host goes to the default vhost.
	if got := ts.raw("GET / HTTP/1.0\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.0 200") || !strings.HasSuffix(got, "b") {
		t.Errorf("HTTP/1.0 without Host: %q", got)
	}
	// HTTP/1.1 without a Host is a bad request.
	if got := ts.raw("GET / HTTP/1.1\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 400") {
		t.Errorf("HTTP/1.1 without Host: %q", got)
	}
}

func TestVHostErrors(t *testing.T) {
	t.Parallel()
	ts := startServer(t, listen+`
vhost "e.test" {
  probe "/fail"      { mode = "fail" }
  probe "/failafter" { mode = "failafter" }
}`)
	client := &http.Client{}
	status, body, err := ts.get(client, "e.test", "/fail/x")
	if err != nil || status != 403 {
		t.Fatalf("GET /fail/x = %d %v", status, err)
	}
	if strings.Contains(body, "secret") || !strings.Contains(body, "403 Forbidden") {
		t.Errorf("the client sees the module's error text or no status page: %q", body)
	}
	waitFor(t, "the error-log line", func() bool {
		return strings.Contains(ts.log.String(), `err="probe: secret reason /fail/x"`)
	})
	// An error after the response began cuts the connection.
	_, _, err = ts.get(client, "e.test", "/failafter")
	if err == nil {
		t.Error("GET /failafter: a partial response looked complete")
	}
	waitFor(t, "the error-log line", func() bool {
		return strings.Contains(ts.log.String(), "request failed after the response began")
	})
}

// TestVHostErrorPagesAlike sends requests that end in error pages to
// both engines and wants the same answers back: status line, header
// fields (Date aside) and body. The native engine takes the page's head
// ready-made, net/http builds it from the header map. (The order of the
// fields may differ: net/http writes a handler's Connection field among
// the others, the engine writes its own after Date.)
func TestVHostErrorPagesAlike(t *testing.T) {
	config := `
server {
  listen = ["127.0.0.1:0"]
}
vhost "e.test" {
  probe "/fail"  { mode = "fail" }
  probe "/down"  { mode = "unavailable" }
  probe "/allow" { mode = "allow" }
  probe "/next"  { mode = "next" }
}`
	reqs := []string{
		"GET /fail/x HTTP/1.1\r\nHost: e.test\r\n\r\n",
		"HEAD /fail/x HTTP/1.1\r\nHost: e.test\r\n\r\n",
		"GET /fail/x HTTP/1.0\r\nHost: e.test\r\nConnection: keep-alive\r\n\r\n",
		"GET /next/x HTTP/1.1\r\nHost: e.test\r\n\r\n",
		"GET /allow HTTP/1.1\r\nHost: e.test\r\n\r\n",
		"GET /down HTTP/1.1\r\nHost: e.test\r\n\r\n", // 503 closes
	}
	answers := map[string][]string{}
	for _, engine := range []string{conf.EngineNative, conf.EngineNetHTTP} {
		ts := startServer(t, withEngine(engine, config))
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, strings.Join(reqs, "")); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		for _, raw := range reqs {
			req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(br, req)
			if err != nil {
				t.Fatalf("%s: %s: %v", engine, raw, err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("%s: %s: body: %v", engine, raw, err)
			}
			resp.Header.Del("Date")
			answers[engine] = append(answers[engine], fmt.Sprintf("%s %s\n%v\nclose=%v\n%s", resp.Proto, resp.Status, resp.Header, resp.Close, body))
		}
		if b, _ := io.ReadAll(br); len(b) > 0 {
			t.Errorf("%s: bytes after the last answer: %q", engine, b)
		}
	}
	for i, raw := range reqs {
		native, nethttp := answers[conf.EngineNative][i], answers[conf.EngineNetHTTP][i]
		if native != nethttp {
			t.Errorf("%q: answers differ\n--- native:\n%s\n--- net/http:\n%s", raw, native, nethttp)
		}
	}
	all := strings.Join(answers[conf.EngineNative], "\n")
	for _, want := range []string{"HTTP/1.1 403 Forbidden", "HTTP/1.0 403 Forbidden", "HTTP/1.1 404 Not Found",
		"Allow:[GET]", "HTTP/1.1 503 Service Unavailable", "close=true"} {
		if !strings.Contains(all, want) {
			t.Errorf("the answers lack %q:\n%s", want, all)
		}
	}
}

func TestVHostMaxBody(t *testing.T) { forEngines(t, testVHostMaxBody) }

func testVHostMaxBody(t *testing.T, engine string) {
	t.Parallel()
	ts := startServer(t, withEngine(engine, `server {
  listen = ["127.0.0.1:0"]
  limits { max_body_bytes = 10 }
}
vhost "m.test" {
  probe "/echo" { mode = "echo" }
}`))
	post := func(body io.Reader, length int64) (int, string) {
		req, _ := http.NewRequest("POST", "http://"+ts.addr+"/echo", body)
		req.Host = "m.test"
		req.ContentLength = length
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := post(strings.NewReader("12345"), 5); status != 200 || body != "12345" {
		t.Errorf("small body: %d %q", status, body)
	}
	if status, body := post(strings.NewReader("1234567890"), 10); status != 200 || body != "1234567890" {
		t.Errorf("body at the limit: %d %q", status, body)
	}
	if status, _ := post(strings.NewReader(strings.Repeat("x", 100)), 100); status != 413 {
		t.Errorf("Content-Length over the limit: %d, want 413", status)
	}
	// Chunked: no length to check first; the read fails at the limit.
	if status, _ := post(io.MultiReader(strings.NewReader(strings.Repeat("x", 100))), -1); status != 413 {
		t.Errorf("chunked body over the limit: %d, want 413", status)
	}
	// The declared length is checked before the pipeline runs.
	got := ts.raw("POST /echo HTTP/1.1\r\nHost: m.test\r\nContent-Length: 1000000\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 413 ") {
		t.Errorf("raw Content-Length over the limit: %q", got)
	}
	waitFor(t, "the error-log line", func() bool {
		return strings.Contains(ts.log.String(), "over server.limits.max_body_bytes") && strings.Contains(ts.log.String(), "remote=127.0.0.1:")
	})
}

// TestVHostReload swaps generations while requests run: no request may
// fail, a slow request admitted by the old generation finishes with it,
// and the old generation is cleaned up only after that.
func TestVHostReload(t *testing.T) {
	t.Parallel()
	cfg := func(tag string) string {
		return listen + fmt.Sprintf(`
vhost "r.test" {
  probe "/" {
    id  = "reload"
    tag = %q
  }
  probe "/slow" {
    id   = "reload-slow"
    mode = "slow"
    tag  = %q
  }
}`, tag, tag)
	}
	st, slow := freshProbe("reload"), freshProbe("reload-slow")
	ts := startServer(t, cfg("one"))

	// A slow request pinned to generation one.
	slowDone := make(chan string, 1)
	go func() {
		_, body, err := ts.get(&http.Client{}, "r.test", "/slow")
		if err != nil {
			body = "error: " + err.Error()
		}
		slowDone <- body
	}()
	<-slow.entered

	// Clients hammer the server on keep-alive connections during reloads.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failures, served atomic.Int32
	var firstErr atomic.Value
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				status, body, err := ts.get(client, "r.test", "/")
				served.Add(1)
				if err != nil || status != 200 || !strings.HasPrefix(body, "gen") && body != "one" {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %q %v", status, body, err))
				}
			}
		}()
	}
	for i := range 5 {
		if err := ts.reload(cfg(fmt.Sprintf("gen%d", i))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // let requests run on this generation
	}
	close(stop)
	wg.Wait()
	if failures.Load() > 0 {
		t.Errorf("%d of %d requests failed during reloads; first: %v", failures.Load(), served.Load(), firstErr.Load())
	}
	status, body, err := ts.get(&http.Client{}, "r.test", "/")
	if err != nil || status != 200 || body != "gen4" {
		t.Errorf("after reloads: %d %q %v, want gen4", status, body, err)
	}
	// Generations 0..3 retire; generation one waits for its slow request.
	waitFor(t, "retired generations to clean up", func() bool { return st.cleanups.Load() >= 4 })
	if got := slow.cleanups.Load(); got > 4 {
		t.Errorf("%d slow probes cleaned up while generation one still has a request", got)
	}
	if got := st.cleanups.Load(); got > 4 {
		t.Errorf("%d probes cleaned up, want at most 4 before the slow request ends", got)
	}
	close(slow.release)
	if body := <-slowDone; body != "one" {
		t.Errorf("slow request admitted before the reloads: %q, want the old generation's answer", body)
	}
	waitFor(t, "generation one to clean up", func() bool { return st.cleanups.Load() == 5 })
	if p := st.provisions.Load(); p != 6 {
		t.Errorf("%d provisions, want 6 (one per generation)", p)
	}
}

func TestVHostReloadFailure(t *testing.T) {
	t.Parallel()
	st := freshProbe("reloadfail")
	ts := startServer(t, listen+`vhost "f.test" {
  probe "/" {
    id  = "reloadfail"
    tag = "good"
  }
}`)
	err := ts.reload(listen + `vhost "f.test" {
  probe "/" {
    id  = "reloadfail"
    tag = "new"
  }
  probe "/bad" {
    id   = "reloadfail"
    mode = "badprovision"
  }
}`)
	if err == nil || !strings.Contains(err.Error(), "probe refuses to start") || !strings.Contains(err.Error(), "test.hcl:") {
		t.Fatalf("Reload error = %v, want the module's error with its place in the file", err)
	}
	// The half-built generation was cleaned up, the old one serves on.
	if c := st.cleanups.Load(); c != 2 {
		t.Errorf("%d cleanups after the failed build, want 2 (both provisioned probes)", c)
	}
	status, body, err := ts.get(&http.Client{}, "f.test", "/")
	if err != nil || status != 200 || body != "good" {
		t.Errorf("after a failed reload: %d %q %v", status, body, err)
	}
	// A port that cannot be bound fails the reload too.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	err = ts.reload(fmt.Sprintf(`server { listen = ["127.0.0.1:0", %q] }
vhost "f.test" {}`, busy.Addr().String()))
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("Reload onto a busy port: %v", err)
	}
	if status, body, _ := ts.get(&http.Client{}, "f.test", "/"); status != 200 || body != "good" {
		t.Errorf("after a failed reload: %d %q", status, body)
	}
}

// TestVHostBadRequestLog checks that requests the engine rejects before
// any handler runs still leave an error-log line with the client
// address. The net/http engine keeps net/http's own handling of these
// (README, "The HTTP/1.1 engine"), so only the native engine is held to it.
func TestVHostBadRequestLog(t *testing.T) { testVHostBadRequestLog(t, conf.EngineNative) }

func testVHostBadRequestLog(t *testing.T, engine string) {
	t.Parallel()
	ts := startServer(t, withEngine(engine, `server {
  listen = ["127.0.0.1:0"]
  limits {
    read_header_timeout = "300ms"
    max_header_bytes    = "1KiB"
  }
}
vhost "w.test" {
  probe "/" { tag = "ok" }
}`))
	checkBadRequests(t, func() (net.Conn, error) { return net.Dial("tcp", ts.addr) }, ts.log)
}

// badRequests are requests the engine refuses before any handler runs,
// with the status and the reason its log line gives.
var badRequests = []struct {
	name   string
	req    string
	status string
	reason string
}{
	{"bad request line", "NOT HTTP\r\n\r\n", "400", "Bad Request"},
	{"no host", "GET / HTTP/1.1\r\n\r\n", "400", "missing required Host header"},
	{"header too large", "GET / HTTP/1.1\r\nHost: w.test\r\nX-Big: " + strings.Repeat("x", 8<<10) + "\r\n\r\n", "431", "Request Header Fields Too Large"},
	{"conflicting length", "POST / HTTP/1.1\r\nHost: w.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400", ""},
	{"slow header", "GET / HTTP/1.1\r\nHost: w.te", "408", "read_header_timeout"},
}

// checkBadRequests sends each of badRequests on a connection of its own
// and checks the answer and the log line naming the client.
func checkBadRequests(t *testing.T, dial func() (net.Conn, error), log interface{ String() string }) {
	for _, tt := range badRequests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := dial()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			local := c.LocalAddr().String()
			if _, err := io.WriteString(c, tt.req); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if !strings.HasPrefix(line, "HTTP/1.1 "+tt.status) {
				t.Fatalf("answer %q (%v), want %s", line, err, tt.status)
			}
			waitFor(t, "a bad-request log line for "+local, func() bool {
				for _, l := range strings.Split(log.String(), "\n") {
					if strings.Contains(l, "remote="+local) && strings.Contains(l, "status="+tt.status) && strings.Contains(l, tt.reason) {
						return true
					}
				}
				return false
			})
		})
	}
}

func TestVHostIdleConnectionNotLogged(t *testing.T) { forEngines(t, testVHostIdleConnectionNotLogged) }

func testVHostIdleConnectionNotLogged(t *testing.T, engine string) {
	t.Parallel()
	ts := startServer(t, withEngine(engine, `server {
  listen = ["127.0.0.1:0"]
  limits {
    read_header_timeout = "100ms"
    idle_timeout        = "200ms"
  }
}
vhost "i.test" {
  probe "/" { tag = "ok" }
}`))
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: i.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request: %v %v", resp, err)
	}
	resp.Body.Close()
	// The server closes the idle keep-alive connection without a 408.
	b, _ := io.ReadAll(c)
	if len(b) != 0 {
		t.Errorf("idle connection got %q", b)
	}
	if strings.Contains(ts.log.String(), "status=408") {
		t.Errorf("an idle connection was logged as a slow request:\n%s", ts.log.String())
	}
}

func TestVHostDescribe(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "htdocs"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, `
server { listen = ["127.0.0.1:8080"] }
vhost "a.test" {
  aliases = ["www.a.test"]
  hello "/hi" {}
}
vhost "b.test" {
  default = true
  listen  = ["127.0.0.1:8080", "127.0.0.1:9090"]
  probe "/p" {}
}`, dir)
	got := vhost.Describe(cfg)
	for _, want := range []string{
		"ServerRoot: " + dir + "\n",
		"127.0.0.1:8080 (http):\n    a.test  " + filepath.Join(dir, "test.hcl") + ":3\n        aliases: www.a.test\n    b.test (default)",
		"127.0.0.1:9090 (http):\n    b.test (default)",
		"vhost a.test:\n    hello /hi",
		"vhost b.test:\n    probe /p",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Describe lacks %q:\n%s", want, got)
		}
	}
}

// TestVHostIdleAfterBodyNotLogged: a keep-alive connection that goes idle
// after a request whose body came in its own packets is closed quietly,
// not answered with a 408 as if a header were late.
func TestVHostIdleAfterBodyNotLogged(t *testing.T) { forEngines(t, testVHostIdleAfterBodyNotLogged) }

func testVHostIdleAfterBodyNotLogged(t *testing.T, engine string) {
	t.Parallel()
	ts := startServer(t, withEngine(engine, `server {
  listen = ["127.0.0.1:0"]
  limits {
    read_header_timeout = "100ms"
    idle_timeout        = "300ms"
  }
}
vhost "i.test" {
  probe "/echo" { mode = "echo" }
}`))
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "POST /echo HTTP/1.1\r\nHost: i.test\r\nContent-Length: 4\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the body in a packet of its own
	if _, err := io.WriteString(c, "body"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST: %v %v", resp, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "body" {
		t.Fatalf("echo = %q", b)
	}
	rest, _ := io.ReadAll(br)
	if len(rest) != 0 {
		t.Errorf("idle connection got %q", rest)
	}
	if strings.Contains(ts.log.String(), "status=408") {
		t.Errorf("an idle connection was logged as a slow request:\n%s", ts.log.String())
	}
}

// TestVHostClientGoneNotAnswered: a handler error with status 499 (the
// client went away) is never written on the wire: the connection closes
// with nothing sent, the error log has it at info level and the access
// log records 499.
func TestVHostClientGoneNotAnswered(t *testing.T) { forEngines(t, testVHostClientGoneNotAnswered) }

func testVHostClientGoneNotAnswered(t *testing.T, engine string) {
	ts := startServer(t, withEngine(engine, `
server {
  listen = ["127.0.0.1:0"]
}
log {
  format = "common"
}
vhost "a" {
  probe "/gone" {
    mode = "gone"
  }
}
`))
	for _, req := range []string{
		"GET /gone HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /gone HTTP/1.0\r\n\r\n",
	} {
		if got := ts.raw(req); got != "" {
			t.Errorf("%q: the server answered %q, want the connection closed with nothing sent", req, got)
		}
	}
	waitFor(t, "two access-log lines", func() bool { return strings.Count(ts.access.String(), "\n") >= 2 })
	for _, line := range strings.Split(strings.TrimSpace(ts.access.String()), "\n") {
		if !strings.Contains(line, `"GET /gone HTTP/1.`) || !strings.Contains(line, "\" 499 ") {
			t.Errorf("access log line %q, want status 499", line)
		}
	}
	log := ts.log.String()
	if strings.Count(log, "level=INFO msg=\"request failed\"") != 2 || strings.Count(log, "status=499") != 2 || strings.Contains(log, "level=ERROR") {
		t.Errorf("error log, want two info lines with status 499:\n%s", log)
	}
}

// forEngines runs test once on each HTTP/1.1 engine of plain listeners.
func forEngines(t *testing.T, test func(t *testing.T, engine string)) {
	for _, e := range []string{conf.EngineNative, conf.EngineNetHTTP} {
		t.Run(e, func(t *testing.T) { test(t, e) })
	}
}

// withEngine sets server.http1_engine in a config that has a server block.
func withEngine(engine, config string) string {
	return strings.Replace(config, "server {", "server {\n  http1_engine = \""+engine+"\"", 1)
}
