package tests

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	_ "httpd/modules/reverseproxy"
)

func init() {
	// TestReadmeExamples decodes modules/reverseproxy/README.md with
	// this module.
	readmeOwner["reverseproxy"] = "reverse_proxy"
}

// proxyConfig is a config with one vhost on 127.0.0.1:0 holding body.
func proxyConfig(server, body string) string {
	return fmt.Sprintf(`server {
  listen = ["127.0.0.1:0"]
  %s
}
log { error = "stderr" }
vhost "localhost" {
  document_root = "htdocs"
%s
}
`, server, body)
}

// getBody fetches url with client and returns the status and body.
func getBody(t *testing.T, client *http.Client, url string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestProxyGoUpstream(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "gunicorn")
		fmt.Fprintf(w, "uri=%s host=%s xff=%s fwd=%s", r.RequestURI, r.Host, r.Header.Get("X-Forwarded-For"), r.Header.Get("Forwarded"))
	}))
	defer up.Close()
	h := NewHarness(t)
	h.Write("htdocs/index.html", "static\n", 0o644)
	cfg := proxyConfig("", fmt.Sprintf(`  reverse_proxy "/api/" {
    to           = [%q]
    strip_prefix = true
  }`, up.URL))
	h.Write("httpd.hcl", cfg, 0o644)
	if out, _, code := h.Run("-S", "-f", "httpd.hcl"); code != 0 || !strings.Contains(out, "proxy to "+up.URL) {
		t.Errorf("httpd -S (%d):\n%s", code, out)
	}
	s := h.Start(cfg)
	req, _ := http.NewRequest("GET", s.URL("/api/x?q=1"), nil)
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf("uri=/x?q=1 host=%s xff=127.0.0.1 fwd=for=127.0.0.1;host=\"%s\";proto=http", s.Addr, s.Addr)
	if resp.StatusCode != 200 || string(b) != want {
		t.Errorf("got %d %q, want %q", resp.StatusCode, b, want)
	}
	if sv := resp.Header.Values("Server"); len(sv) != 1 || sv[0] != "httpd" {
		t.Errorf("Server = %q, want this server's alone", sv)
	}
	if status, body := getBody(t, http.DefaultClient, s.URL("/")); status != 200 || body != "static\n" {
		t.Errorf("outside the mount: %d %q", status, body)
	}
}

func TestProxyPythonUpstream(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("the proxy tests need %s: %v", py, err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("from python\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd := exec.Command(py, "-m", "http.server", "--bind", "127.0.0.1", strconv.Itoa(port))
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("python http.server did not listen on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	h := NewHarness(t)
	h.Write("htdocs/.keep", "", 0o644)
	s := h.Start(proxyConfig("", fmt.Sprintf(`  reverse_proxy "/py/" {
    to           = ["http://%s"]
    strip_prefix = true
    health_check {
      path     = "/"
      interval = "1s"
    }
  }`, addr)))
	for range 3 {
		if status, body := getBody(t, http.DefaultClient, s.URL("/py/hello.txt")); status != 200 || body != "from python\n" {
			t.Errorf("got %d %q", status, body)
		}
	}
	if status, _ := getBody(t, http.DefaultClient, s.URL("/py/missing")); status != 404 {
		t.Errorf("a 404 upstream came back as %d", status)
	}
}

// TestProxyHttpdBehindHttpd runs a front httpd proxying to a back httpd
// that trusts it: the back's CGI script and access log see the client
// the front saw, which connects from 127.0.0.2, and a client cannot
// fake that address through the front.
func TestProxyHttpdBehindHttpd(t *testing.T) {
	back := NewHarness(t)
	back.Write("htdocs/.keep", "", 0o644)
	back.Write("cgi-bin/who.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n%s|%s|%s' \"$REMOTE_ADDR\" \"$HTTP_X_FORWARDED_FOR\" \"$SERVER_NAME\"\n", 0o755)
	bs := back.Start(fmt.Sprintf(`server {
  listen          = ["127.0.0.1:0"]
  trusted_proxies = ["127.0.0.1"]
}
log {
  access = "stdout"
  format = "common"
}
vhost "app.test" {
  document_root = "htdocs"
  script_alias "/cgi-bin/" { path = "cgi-bin/" }
}
vhost "other.test" {
  default = true
}
`))
	front := NewHarness(t)
	front.Write("htdocs/.keep", "", 0o644)
	fs := front.Start(fmt.Sprintf(`server { listen = ["127.0.0.1:0"] }
vhost "app.test" {
  reverse_proxy "/" { to = ["http://%s"] }
}
`, bs.Addr))

	client := &http.Client{Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext,
	}}
	get := func(hdr ...string) string {
		req, _ := http.NewRequest("GET", fs.URL("/cgi-bin/who.sh"), nil)
		req.Host = "app.test"
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s\nfront:\n%s\nback:\n%s", resp.StatusCode, b, fs.Stderr(), bs.Stderr())
		}
		return string(b)
	}
	// X-Forwarded-For holds the hops the front saw: the client.
	if got, want := get(), "127.0.0.2|127.0.0.2|app.test"; got != want {
		t.Errorf("back's CGI saw %q, want %q", got, want)
	}
	if got, want := get("X-Forwarded-For", "6.6.6.6"), "127.0.0.2|127.0.0.2|app.test"; got != want {
		t.Errorf("with a spoofed X-Forwarded-For the back's CGI saw %q, want %q", got, want)
	}
	bs.WaitStdout("127.0.0.2 - - [", 5*time.Second)
	if strings.Contains(bs.Stdout(), "127.0.0.1 - - [") {
		t.Errorf("the back's access log shows the front, not the client:\n%s", bs.Stdout())
	}
}

func TestProxyServerSentEvents(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "data: two\n\n")
	}))
	defer up.Close()
	defer close(release)
	h := NewHarness(t)
	h.Write("htdocs/.keep", "", 0o644)
	s := h.Start(proxyConfig("", fmt.Sprintf(`  reverse_proxy "/events" { to = [%q] }`, up.URL)))
	resp, err := http.Get(s.URL("/events"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(resp.Body).ReadString('\n')
		lines <- l
	}()
	select {
	case l := <-lines:
		if l != "data: one\n" {
			t.Errorf("first line %q", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first event did not arrive before the upstream finished")
	}
}

func TestProxyWebSocket(t *testing.T) {
	up := httptest.NewServer(websocket.Handler(func(ws *websocket.Conn) {
		var msg string
		for websocket.Message.Receive(ws, &msg) == nil {
			if websocket.Message.Send(ws, "echo: "+msg) != nil {
				return
			}
		}
	}))
	defer up.Close()
	h := NewHarness(t)
	h.Write("htdocs/.keep", "", 0o644)
	s := h.Start(proxyConfig("", fmt.Sprintf(`  reverse_proxy "/ws/" {
    to           = [%q]
    strip_prefix = true
  }`, up.URL)))
	ws, err := websocket.Dial("ws://"+s.Addr+"/ws/chat", "", "http://"+s.Addr)
	if err != nil {
		t.Fatalf("%v\n%s", err, s.Stderr())
	}
	defer ws.Close()
	for _, msg := range []string{"hello", strings.Repeat("x", 100000)} {
		if err := websocket.Message.Send(ws, msg); err != nil {
			t.Fatal(err)
		}
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		var back string
		if err := websocket.Message.Receive(ws, &back); err != nil {
			t.Fatal(err)
		}
		if back != "echo: "+msg {
			t.Errorf("echo of %d bytes came back as %d bytes", len(msg), len(back))
		}
	}
	// The access log records the switch of protocols once the pipe ends.
	ws.Close()
	s.WaitStdout(`"GET /ws/chat HTTP/1.1" 101 `, 5*time.Second)
}

func TestProxyUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	h := NewHarness(t)
	h.Write("htdocs/.keep", "", 0o644)
	s := h.Start(proxyConfig("", fmt.Sprintf(`  reverse_proxy "/" { to = ["http://%s"] }`, dead)))
	if status, body := getBody(t, http.DefaultClient, s.URL("/x")); status != http.StatusBadGateway || strings.Contains(body, dead) {
		t.Errorf("got %d %q, want a plain 502", status, body)
	}
	s.WaitStderr("http://"+dead, 5*time.Second)
	s.WaitStderr("connection refused", 5*time.Second)
}

func TestProxySlowUpstream(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-ctx.Done():
		case <-r.Context().Done():
		}
	}))
	defer up.Close()
	defer cancel()
	h := NewHarness(t)
	h.Write("htdocs/.keep", "", 0o644)
	s := h.Start(proxyConfig("", fmt.Sprintf(`  reverse_proxy "/" {
    to = [%q]
    timeout { response_header = "300ms" }
  }`, up.URL)))
	start := time.Now()
	if status, _ := getBody(t, http.DefaultClient, s.URL("/slow")); status != http.StatusGatewayTimeout {
		t.Errorf("got %d, want 504", status)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	s.WaitStderr("no response header within 300ms", 5*time.Second)
}
