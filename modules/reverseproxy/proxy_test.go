package reverseproxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"httpd/internal/gateway/gatewaytest"
	"httpd/internal/testutil"
	"httpd/registry"
)

func TestReverseProxyRequest(t *testing.T) {
	up := echo(t, "a")
	f := newFixture(t, "/api/", toList(up.URL+"/base"))

	req := gatewaytest.NewRequest(t, "POST", f.srv.URL+"/api/x/a%2Fb?q=1&r=%20", strings.NewReader("hello"))
	req.Host = "front.example"
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "dropped")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("X-Keep", "kept")
	s := f.seenBy(req)
	want := seen{Name: "a", Method: "POST", URI: "/base/api/x/a%2Fb?q=1&r=%20", Host: "front.example", BodyLen: 5}
	if s.Name != want.Name || s.Method != want.Method || s.URI != want.URI || s.Host != want.Host || s.BodyLen != want.BodyLen {
		t.Errorf("upstream saw %+v, want %+v", s, want)
	}
	for _, h := range []string{"X-Hop", "Keep-Alive", "Connection"} {
		if v := s.Header.Get(h); v != "" {
			t.Errorf("hop-by-hop %s = %q reached the upstream", h, v)
		}
	}
	if s.Header.Get("X-Keep") != "kept" {
		t.Errorf("X-Keep = %q", s.Header.Get("X-Keep"))
	}

	t.Run("status and headers back", func(t *testing.T) {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "X-Secret")
			w.Header().Set("X-Secret", "hop")
			w.Header().Set("Set-Cookie", "a=1")
			w.Header().Set("Server", "gunicorn")
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, "short and stout")
		}))
		defer up.Close()
		f := newFixture(t, "/", toList(up.URL))
		resp, body := f.get("/")
		if resp.StatusCode != http.StatusTeapot || body != "short and stout" || resp.Header.Get("Set-Cookie") != "a=1" || resp.Header.Get("X-Secret") != "" ||
			resp.Header.Get("Server") != "" {
			t.Errorf("got %d %q %v", resp.StatusCode, body, resp.Header)
		}
	})
	t.Run("upstream host", func(t *testing.T) {
		f := newFixture(t, "/", toList(up.URL)+"\npreserve_host = false")
		s := f.seenBy(gatewaytest.NewRequest(t, "GET", f.srv.URL+"/", nil))
		if s.Host != strings.TrimPrefix(up.URL, "http://") {
			t.Errorf("Host = %q, want the upstream's", s.Host)
		}
	})
	t.Run("header_up", func(t *testing.T) {
		f := newFixture(t, "/", toList(up.URL)+`
header_up = { "X-Real-IP" = "{remote_addr}", "X-Via" = "{scheme}://{host}{uri}", "X-Drop" = "" }`)
		req := gatewaytest.NewRequest(t, "GET", f.srv.URL+"/p?q", nil)
		req.Host = "h.example"
		req.Header.Set("X-Drop", "x")
		s := f.seenBy(req)
		if s.Header.Get("X-Real-IP") != "127.0.0.1" || s.Header.Get("X-Via") != "http://h.example/p?q" || s.Header.Get("X-Drop") != "" {
			t.Errorf("headers %v", s.Header)
		}
	})
}

func TestReverseProxyStripPrefix(t *testing.T) {
	up := echo(t, "a")
	tests := []struct {
		prefix, path, want string
	}{
		{"/api/", "/api/x", "/x"},
		{"/api/", "/api/", "/"},
		{"/api/", "/api/a%2Fb?q=1", "/a%2Fb?q=1"},
		{"/api", "/api", "/"},
		{"/api", "/api/x/y", "/x/y"},
		{"/", "/x", "/x"},
	}
	for _, tt := range tests {
		t.Run(tt.prefix+" "+tt.path, func(t *testing.T) {
			f := newFixture(t, tt.prefix, toList(up.URL)+"\nstrip_prefix = true")
			if s := f.seenBy(gatewaytest.NewRequest(t, "GET", f.srv.URL+tt.path, nil)); s.URI != tt.want {
				t.Errorf("upstream got %q, want %q", s.URI, tt.want)
			}
		})
	}
}

func TestReverseProxyForwardedHeaders(t *testing.T) {
	up := echo(t, "a")
	spoof := map[string]string{
		"X-Forwarded-For":   "6.6.6.6",
		"X-Forwarded-Proto": "https",
		"X-Forwarded-Host":  "evil.example",
		"Forwarded":         "for=6.6.6.6",
	}
	tests := []struct {
		name    string
		trusted []string
		want    map[string]string
	}{
		{"untrusted client", nil, map[string]string{
			"X-Forwarded-For":   "127.0.0.1",
			"X-Forwarded-Proto": "http",
			"X-Forwarded-Host":  "front.example",
			"Forwarded":         "for=127.0.0.1;host=front.example;proto=http",
		}},
		{"trusted proxy", []string{"127.0.0.0/8"}, map[string]string{
			"X-Forwarded-For":   "6.6.6.6, 127.0.0.1",
			"X-Forwarded-Proto": "https",
			"X-Forwarded-Host":  "evil.example",
			"Forwarded":         "for=6.6.6.6, for=127.0.0.1;host=front.example;proto=http",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, "/", toList(up.URL)+`
header_up = { "X-Real-IP" = "{remote_addr}" }`, tt.trusted...)
			req := gatewaytest.NewRequest(t, "GET", f.srv.URL+"/", nil)
			req.Host = "front.example"
			for k, v := range spoof {
				req.Header.Set(k, v)
			}
			s := f.seenBy(req)
			for k, v := range tt.want {
				if got := s.Header.Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			wantIP := "127.0.0.1"
			if tt.trusted != nil {
				wantIP = "6.6.6.6"
			}
			if got := s.Header.Get("X-Real-IP"); got != wantIP {
				t.Errorf("client address %q, want %q", got, wantIP)
			}
		})
	}
}

// named is an upstream that answers with its name.
func named(t *testing.T, name string, h func(w http.ResponseWriter, r *http.Request)) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h != nil {
			h(w, r)
		}
		io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s
}

func (f *fixture) names(n int, path string, hdr ...string) string {
	f.t.Helper()
	var out []string
	for range n {
		req := gatewaytest.NewRequest(f.t, "GET", f.srv.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, body := f.do(req)
		if resp.StatusCode != 200 {
			body = fmt.Sprint(resp.StatusCode)
		}
		out = append(out, body)
	}
	return strings.Join(out, " ")
}

func TestReverseProxyPolicies(t *testing.T) {
	a, b, c := named(t, "a", nil), named(t, "b", nil), named(t, "c", nil)
	to := toList(a.URL, b.URL, c.URL)

	t.Run("round_robin", func(t *testing.T) {
		f := newFixture(t, "/", to)
		if got := f.names(6, "/"); got != "a b c a b c" {
			t.Errorf("order %q", got)
		}
	})
	t.Run("first", func(t *testing.T) {
		f := newFixture(t, "/", to+"\nlb_policy = \"first\"")
		if got := f.names(3, "/"); got != "a a a" {
			t.Errorf("order %q", got)
		}
	})
	t.Run("ip_hash", func(t *testing.T) {
		f := newFixture(t, "/", to+"\nlb_policy = \"ip_hash\"", "127.0.0.1")
		seenNames := map[string]bool{}
		for i := range 20 {
			ip := fmt.Sprintf("198.51.100.%d", i)
			got := f.names(3, "/", "X-Forwarded-For", ip)
			n := strings.Fields(got)
			if n[0] != n[1] || n[1] != n[2] {
				t.Errorf("client %s went to %q", ip, got)
			}
			seenNames[n[0]] = true
		}
		if len(seenNames) < 2 {
			t.Errorf("20 clients all went to %v", seenNames)
		}
	})
	t.Run("least_conn", func(t *testing.T) {
		release := make(chan struct{})
		heldBy := make(chan string, 1)
		hold := func(name string) func(w http.ResponseWriter, r *http.Request) {
			return func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/hold" {
					heldBy <- name
					<-release
				}
			}
		}
		x, y := named(t, "x", hold("x")), named(t, "y", hold("y"))
		f := newFixture(t, "/", toList(x.URL, y.URL)+"\nlb_policy = \"least_conn\"")
		done := make(chan error, 1)
		go func() {
			resp, err := http.Get(f.srv.URL + "/hold")
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		busy := testutil.Recv(t, heldBy, 5*time.Second, "a request held")
		other := map[string]string{"x": "y", "y": "x"}[busy]
		want := strings.TrimSpace(strings.Repeat(other+" ", 4))
		if got := f.names(4, "/"); got != want {
			t.Errorf("with %s busy: %q, want %q", busy, got, want)
		}
		close(release)
		if err := testutil.Recv(t, done, 5*time.Second, "the held request"); err != nil {
			t.Error(err)
		}
		if got := f.names(2, "/"); got != "x y" && got != "y x" {
			t.Errorf("idle again, ties should alternate: %q", got)
		}
	})
}

func TestReverseProxyRefusedUpstreamSkipped(t *testing.T) {
	good := named(t, "good", nil)
	dead := "http://" + refusingAddr(t)
	f := newFixture(t, "/", toList(dead, good.URL)+"\nmax_fails = 0")
	if got := f.names(4, "/"); got != "good good good good" {
		t.Errorf("GETs went to %q", got)
	}
	// A POST too: nothing was sent to the dead one.
	resp, body := f.do(gatewaytest.NewRequest(t, "POST", f.srv.URL+"/", strings.NewReader("body")))
	if resp.StatusCode != 200 || body != "good" {
		t.Errorf("POST: %d %q (%v)\n%s", resp.StatusCode, body, f.lastError(), f.log.String())
	}
	if !strings.Contains(f.log.String(), "cannot be reached") || !strings.Contains(f.log.String(), dead) {
		t.Errorf("log does not name the refusing upstream:\n%s", f.log.String())
	}
}

func TestReverseProxyNoUpstream(t *testing.T) {
	dead1, dead2 := "http://"+refusingAddr(t), "http://"+refusingAddr(t)
	f := newFixture(t, "/", toList(dead1, dead2))
	resp, _ := f.get("/")
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	if err := f.lastError(); err == nil || !strings.Contains(err.Error(), "connect") || !strings.Contains(err.Error(), "http://127.0.0.1:") {
		t.Errorf("error %v does not name the upstream and the reason", err)
	}
}

func TestReverseProxyResponseHeaderTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slow := named(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	f := newFixture(t, "/", toList(slow.URL)+`
timeout { response_header = "200ms" }`)
	start := time.Now()
	resp, _ := f.get("/")
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504", resp.StatusCode)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	if err := f.lastError(); err == nil || !strings.Contains(err.Error(), slow.URL) || !strings.Contains(err.Error(), "no response header within 200ms") {
		t.Errorf("error %v", err)
	}
}

// switchable is an upstream whose answers can be made to fail: while
// broken it closes each connection without answering.
type switchable struct {
	*httptest.Server
	broken  atomic.Bool
	healthy atomic.Bool
	hits    atomic.Int32
}

func newSwitchable(t *testing.T, name string) *switchable {
	s := &switchable{}
	s.healthy.Store(true)
	s.Server = named(t, name, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			if !s.healthy.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		s.hits.Add(1)
		if s.broken.Load() {
			c, _, _ := http.NewResponseController(w).Hijack()
			c.Close()
			panic(http.ErrAbortHandler)
		}
	})
	s.Config.ErrorLog = nil
	return s
}

func TestReverseProxyPassiveHealth(t *testing.T) {
	a, b := newSwitchable(t, "a"), newSwitchable(t, "b")
	f := newFixture(t, "/", toList(a.URL, b.URL)+`
lb_policy = "first"
max_fails = 2
fail_timeout = "300ms"`)
	a.broken.Store(true)
	if got := f.names(3, "/"); got != "502 502 b" {
		t.Errorf("a failing twice, then out: %q", got)
	}
	if !strings.Contains(f.log.String(), "out of rotation") {
		t.Errorf("no log line for a going out:\n%s", f.log.String())
	}
	hits := a.hits.Load()
	if got := f.names(3, "/"); got != "b b b" || a.hits.Load() != hits {
		t.Errorf("a should be out: %q, %d more hits", got, a.hits.Load()-hits)
	}
	a.broken.Store(false)
	eventually(t, "a back after fail_timeout", func() bool { return f.names(1, "/") == "a" })
}

func TestReverseProxyActiveHealth(t *testing.T) {
	a, b := newSwitchable(t, "a"), newSwitchable(t, "b")
	f := newFixture(t, "/", toList(a.URL, b.URL)+`
lb_policy = "first"
health_check {
  path = "/healthz"
  interval = "100ms"
}`)
	if got := f.names(1, "/"); got != "a" {
		t.Fatalf("healthy a: %q", got)
	}
	a.healthy.Store(false)
	eventually(t, "a out", func() bool { return f.names(1, "/") == "b" })
	if !strings.Contains(f.log.String(), "failed its health check") || !strings.Contains(f.log.String(), "answered 503") {
		t.Errorf("log:\n%s", f.log.String())
	}
	b.healthy.Store(false)
	eventually(t, "both out: 502", func() bool { return f.names(1, "/") == "502" })
	if err := f.lastError(); err == nil || !strings.Contains(err.Error(), "no healthy upstream") {
		t.Errorf("error %v", err)
	}
	a.healthy.Store(true)
	eventually(t, "a back", func() bool { return f.names(1, "/") == "a" })
	if !strings.Contains(f.log.String(), "back in rotation") {
		t.Errorf("log:\n%s", f.log.String())
	}
}

func TestReverseProxyHealthStops(t *testing.T) {
	for _, how := range []string{"cleanup", "kill"} {
		t.Run(how, func(t *testing.T) {
			var checks atomic.Int32
			up := named(t, "a", func(w http.ResponseWriter, r *http.Request) { checks.Add(1) })
			m, diags := decode(t, "/", toList(up.URL)+`
health_check {
  path = "/h"
  interval = "100ms"
}`)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			kill := make(chan struct{})
			if err := m.Provision(t.Context(), &registry.Env{Kill: kill}); err != nil {
				t.Fatal(err)
			}
			eventually(t, "a check", func() bool { return checks.Load() > 0 })
			start := time.Now()
			if how == "kill" {
				close(kill)
				time.Sleep(50 * time.Millisecond)
			}
			m.Cleanup()
			if d := time.Since(start); d > time.Second {
				t.Errorf("stopping took %v", d)
			}
			n := checks.Load()
			time.Sleep(300 * time.Millisecond)
			if checks.Load() != n {
				t.Errorf("%d checks after stopping", checks.Load()-n)
			}
		})
	}
}

func TestReverseProxyStreaming(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "data: second\n\n")
	}))
	t.Cleanup(up.Close)
	f := newFixture(t, "/", toList(up.URL))
	resp, err := http.Get(f.srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line := make(chan string, 1)
	go func() {
		l, _ := br.ReadString('\n')
		line <- l
	}()
	if got := testutil.Recv(t, line, 5*time.Second, "the first event before the upstream finished"); got != "data: first\n" {
		t.Errorf("first line %q", got)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	if string(rest) != "\ndata: second\n\n" {
		t.Errorf("rest %q", rest)
	}
}

func TestReverseProxyUploadStreams(t *testing.T) {
	const chunk = 1 << 20
	got := make(chan int64, 1)
	firstMiB := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.CopyN(io.Discard, r.Body, chunk)
		close(firstMiB)
		m, _ := io.Copy(io.Discard, r.Body)
		got <- n + m
	}))
	t.Cleanup(up.Close)
	f := newFixture(t, "/", toList(up.URL))
	pr, pw := io.Pipe()
	go func() {
		buf := bytes.Repeat([]byte("x"), chunk)
		pw.Write(buf)
		// The rest waits until the upstream has the first MiB: a
		// proxy that buffered the whole body would never get there.
		select {
		case <-firstMiB:
		case <-time.After(10 * time.Second):
			pw.CloseWithError(fmt.Errorf("the upstream never saw the first MiB"))
			return
		}
		for range 16 {
			pw.Write(buf)
		}
		pw.Close()
	}()
	req := gatewaytest.NewRequest(t, "PUT", f.srv.URL+"/upload", pr)
	resp, _ := f.do(req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d (%v)", resp.StatusCode, f.lastError())
	}
	if n := testutil.Recv(t, got, 5*time.Second, "the upstream's count"); n != 17*chunk {
		t.Errorf("upstream read %d bytes, want %d", n, 17*chunk)
	}
}

func TestReverseProxyTruncatedBodyCutsConnection(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "only ten b")
		w.(http.Flusher).Flush()
		c, _, _ := http.NewResponseController(w).Hijack()
		c.Close()
	}))
	t.Cleanup(up.Close)
	f := newFixture(t, "/", toList(up.URL))
	resp, err := http.Get(f.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Error("a truncated body read as whole")
	}
	eventually(t, "the failure logged", func() bool { return f.lastError() != nil })
	if !strings.Contains(f.lastError().Error(), "response body") {
		t.Errorf("error %v", f.lastError())
	}
}

func TestReverseProxyWebSocket(t *testing.T) {
	up := httptest.NewServer(websocket.Handler(func(ws *websocket.Conn) {
		var msg string
		for websocket.Message.Receive(ws, &msg) == nil {
			if websocket.Message.Send(ws, msg) != nil {
				return
			}
		}
	}))
	t.Cleanup(up.Close)
	f := newFixture(t, "/ws/", toList(up.URL)+"\nstrip_prefix = true")
	url := "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/ws/echo"
	ws, err := websocket.Dial(url, "", f.srv.URL)
	if err != nil {
		t.Fatalf("dial through the proxy: %v\n%s", err, f.log.String())
	}
	defer ws.Close()
	for _, msg := range []string{"hello", strings.Repeat("big ", 20000), "bye"} {
		if err := websocket.Message.Send(ws, msg); err != nil {
			t.Fatal(err)
		}
		var back string
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if err := websocket.Message.Receive(ws, &back); err != nil {
			t.Fatal(err)
		}
		if back != msg {
			t.Errorf("echo of %d bytes came back as %d bytes", len(msg), len(back))
		}
	}
}

func TestReverseProxyUnixSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "rp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "app.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: echoHandler("unix")}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	f := newFixture(t, "/app/", `to = ["unix:`+sock+`"]
health_check {
  path = "/healthz"
  interval = "1s"
}`)
	for range 3 { // kept connections are reused
		s := f.seenBy(gatewaytest.NewRequest(t, "GET", f.srv.URL+"/app/x", nil))
		if s.Name != "unix" || s.URI != "/app/x" {
			t.Errorf("upstream saw %+v", s)
		}
	}
	if strings.Contains(f.log.String(), "failed its health check") {
		t.Errorf("health check over the socket failed:\n%s", f.log.String())
	}
}

func TestReverseProxyBodyOverLimit(t *testing.T) {
	up := echo(t, "a")
	f := newFixture(t, "/", toList(up.URL))
	f.maxBody = 1000
	for _, chunked := range []bool{false, true} {
		var body io.Reader = strings.NewReader(strings.Repeat("x", 5000))
		if chunked {
			body = io.MultiReader(body) // no length: sent chunked
		}
		resp, _ := f.do(gatewaytest.NewRequest(t, "POST", f.srv.URL+"/", body))
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked %v: status %d, want 413 (%v)", chunked, resp.StatusCode, f.lastError())
		}
	}
}

func TestReverseProxyOverHTTP2(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto+" first\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "second\n")
	}))
	t.Cleanup(up.Close)
	f := newFixture(t, "/", toList(up.URL))
	h2 := httptest.NewUnstartedServer(http.HandlerFunc(f.dispatch))
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(h2.Close)
	resp, err := h2.Client().Get(h2.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("client spoke %s", resp.Proto)
	}
	br := bufio.NewReader(resp.Body)
	line := make(chan string, 1)
	go func() {
		l, _ := br.ReadString('\n')
		line <- l
	}()
	// The upstream is spoken to over HTTP/1.1 whatever the client speaks.
	if got := testutil.Recv(t, line, 5*time.Second, "the first chunk over HTTP/2"); got != "HTTP/1.1 first\n" {
		t.Errorf("first line %q", got)
	}
	close(release)
	if rest, _ := io.ReadAll(br); string(rest) != "second\n" {
		t.Errorf("rest %q", rest)
	}
}
