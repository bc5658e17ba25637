package fastcgi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"httpd/internal/gateway/gatewaytest"
	"httpd/internal/testutil"
	wire "httpd/modules/fastcgi/fcgi"
)

// get fetches path from the fixture's server.
// do sends req to the fixture's server, not following redirects.
func (f *fixture) do(req *http.Request) (*http.Response, string) {
	f.t.Helper()
	return gatewaytest.Do(f.t, nil, req)
}

func (f *fixture) get(path string) (*http.Response, string) {
	f.t.Helper()
	return f.do(gatewaytest.NewRequest(f.t, "GET", f.srv.URL+path, nil))
}

// phpSite is a document root with a few scripts and files.
func phpSite(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for rel, content := range map[string]string{
		"index.php":        "<?php front",
		"info.php":         "<?php info",
		"style.css":        "body { color: red }\n",
		"blog/index.php":   "<?php blog",
		"docs/index.html":  "<p>docs</p>\n",
		"empty/.keep":      "",
		"uploads/evil.jpg": "<?php system('id'); ?>",
	} {
		writeFile(t, root, rel, content)
	}
	return root
}

// echoParams answers with the request's parameters as JSON.
func echoParams(req *rawRequest, w io.Writer) bool {
	b, _ := json.Marshal(req.params)
	w.Write(reply("Content-Type: application/json\r\n\r\n" + string(b)))
	return true
}

func params(t *testing.T, f *fixture, req *http.Request) map[string]string {
	t.Helper()
	resp, body := f.do(req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s (%v)\n%s", resp.StatusCode, body, f.lastError(), f.log.String())
	}
	var p map[string]string
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return p
}

func TestFastCGIParams(t *testing.T) {
	root := phpSite(t)
	p := newRawPeer(t, echoParams)
	f := newFixture(t, root, fmt.Sprintf(`to = %q
front_controller = "/index.php"
env = { APP_ENV = "prod" }`, p.to))

	req := gatewaytest.NewRequest(t, "POST", f.srv.URL+"/info.php/extra/a%20b?x=1&y=%2F", strings.NewReader("abc"))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("X-Custom", "yes")
	req.Header.Set("Authorization", "Basic c2VjcmV0")
	req.Header.Set("Proxy", "http://evil.example/")
	got := params(t, f, req)
	want := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_SOFTWARE":   "httpd/test",
		"REQUEST_METHOD":    "POST",
		"SCRIPT_FILENAME":   filepath.Join(root, "info.php"),
		"SCRIPT_NAME":       "/info.php",
		"PATH_INFO":         "/extra/a b",
		"PATH_TRANSLATED":   filepath.Join(root, "extra/a b"),
		"DOCUMENT_ROOT":     root,
		"REQUEST_URI":       "/info.php/extra/a%20b?x=1&y=%2F",
		"QUERY_STRING":      "x=1&y=%2F",
		"REDIRECT_STATUS":   "200",
		"CONTENT_LENGTH":    "3",
		"CONTENT_TYPE":      "text/plain",
		"HTTP_X_CUSTOM":     "yes",
		"REQUEST_SCHEME":    "http",
		"SERVER_PROTOCOL":   "HTTP/1.1",
		"REMOTE_ADDR":       "127.0.0.1",
		"APP_ENV":           "prod",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, k := range []string{"HTTP_AUTHORIZATION", "HTTP_PROXY", "HTTPS"} {
		if v, ok := got[k]; ok {
			t.Errorf("%s = %q is set", k, v)
		}
	}

	t.Run("front controller", func(t *testing.T) {
		got := params(t, f, gatewaytest.NewRequest(t, "GET", f.srv.URL+"/post/42?page=2", nil))
		if got["SCRIPT_NAME"] != "/index.php" || got["REQUEST_URI"] != "/post/42?page=2" ||
			got["SCRIPT_FILENAME"] != filepath.Join(root, "index.php") || got["PATH_INFO"] != "" {
			t.Errorf("front controller params: %v", got)
		}
		if _, ok := got["CONTENT_LENGTH"]; ok {
			t.Errorf("CONTENT_LENGTH set for a GET without body: %q", got["CONTENT_LENGTH"])
		}
	})
	t.Run("index", func(t *testing.T) {
		got := params(t, f, gatewaytest.NewRequest(t, "GET", f.srv.URL+"/blog/", nil))
		if got["SCRIPT_NAME"] != "/blog/index.php" || got["REQUEST_URI"] != "/blog/" {
			t.Errorf("index params: %v", got)
		}
	})
	t.Run("chunked body", func(t *testing.T) {
		body := strings.Repeat("x", 100)
		req := gatewaytest.NewRequest(t, "POST", f.srv.URL+"/info.php", io.MultiReader(strings.NewReader(body)))
		req.ContentLength = -1
		got := params(t, f, req)
		if got["CONTENT_LENGTH"] != "100" {
			t.Errorf("CONTENT_LENGTH of a chunked body = %q, want 100", got["CONTENT_LENGTH"])
		}
	})
}

func TestFastCGIPassAuth(t *testing.T) {
	p := newRawPeer(t, echoParams)
	f := newFixture(t, phpSite(t), fmt.Sprintf("to = %q\npass_auth = true", p.to))
	req := gatewaytest.NewRequest(t, "GET", f.srv.URL+"/info.php", nil)
	req.Header.Set("Authorization", "Basic c2VjcmV0")
	if got := params(t, f, req); got["HTTP_AUTHORIZATION"] != "Basic c2VjcmV0" {
		t.Errorf("HTTP_AUTHORIZATION = %q", got["HTTP_AUTHORIZATION"])
	}
}

// TestFastCGIStdPeer runs requests against net/http/fcgi, an independent
// implementation of the protocol.
func TestFastCGIStdPeer(t *testing.T) {
	p := newStdPeer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env := fcgi.ProcessEnv(r)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Script", env["SCRIPT_FILENAME"])
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		fmt.Fprintf(w, "%s %s %s body=%q", r.Method, r.URL.RequestURI(), r.Host, body)
	}))
	root := phpSite(t)
	f := newFixture(t, root, fmt.Sprintf("to = %q", p.to))
	resp, body := f.do(gatewaytest.NewRequest(t, "PUT", f.srv.URL+"/info.php/x?q=1", strings.NewReader("payload")))
	if resp.StatusCode != 200 || body != fmt.Sprintf("PUT /info.php/x?q=1 %s body=\"payload\"", strings.TrimPrefix(f.srv.URL, "http://")) {
		t.Fatalf("%d %q (%v)", resp.StatusCode, body, f.lastError())
	}
	if got := resp.Header.Get("X-Script"); got != filepath.Join(root, "info.php") {
		t.Errorf("X-Script = %q", got)
	}
	if got := resp.Header.Values("Set-Cookie"); len(got) != 2 {
		t.Errorf("Set-Cookie = %q, want two", got)
	}
}

// TestFastCGIStdinStreams checks that the body reaches the responder as
// the client sends it: the responder sees the first part while the
// client holds back the rest.
func TestFastCGIStdinStreams(t *testing.T) {
	firstSeen := make(chan struct{})
	p := newStdPeer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, buf); err != nil || string(buf) != "first" {
			http.Error(w, "bad start", 500)
			return
		}
		close(firstSeen)
		h := sha256.New()
		h.Write(buf)
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %x", n+5, h.Sum(nil))
	}))
	f := newFixture(t, phpSite(t), fmt.Sprintf("to = %q", p.to))

	const size = 8 << 20
	pr, pw := io.Pipe()
	req := gatewaytest.NewRequest(t, "POST", f.srv.URL+"/info.php", pr)
	req.ContentLength = size
	type result struct {
		resp *http.Response
		body string
	}
	done := make(chan result, 1)
	go func() {
		resp, body := f.do(req)
		done <- result{resp, body}
	}()
	want := sha256.New()
	pw.Write([]byte("first"))
	want.Write([]byte("first"))
	testutil.Recv(t, firstSeen, 10*time.Second, "the responder reading the first bytes")
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	for sent := 5; sent < size; {
		n := min(len(chunk), size-sent)
		pw.Write(chunk[:n])
		want.Write(chunk[:n])
		sent += n
	}
	pw.Close()
	r := testutil.Recv(t, done, 30*time.Second, "the response")
	if r.resp.StatusCode != 200 || r.body != fmt.Sprintf("%d %x", size, want.Sum(nil)) {
		t.Errorf("%d %q", r.resp.StatusCode, r.body)
	}
}

func TestFastCGIKeepConn(t *testing.T) {
	p := newStdPeer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, "ok")
	}))
	f := newFixture(t, phpSite(t), fmt.Sprintf("to = %q", p.to))
	for i := 0; i < 5; i++ {
		var body io.Reader
		if i%2 == 1 {
			body = strings.NewReader("some body")
		}
		resp, got := f.do(gatewaytest.NewRequest(t, "POST", f.srv.URL+"/info.php", body))
		if resp.StatusCode != 200 || got != "ok" {
			t.Fatalf("request %d: %d %q (%v)", i, resp.StatusCode, got, f.lastError())
		}
	}
	// One, or two when a request came while the connection was still on
	// its way back and that took longer than the pool waits (2 ms; a
	// loaded machine running -race can pause that long).
	if n := p.accepted(); n > 2 {
		t.Errorf("5 requests in a row took %d connections, want 1 (2 at most)", n)
	}
	if n := f.m.pool.idleCount(); n < 1 || n > p.accepted() {
		t.Errorf("%d idle connections after %d accepted", n, p.accepted())
	}

	// A kept connection the responder closed is noticed, not used.
	r := f.m.pool.resp
	r.mu.Lock()
	r.idle[0].nc.(*net.UnixConn).CloseRead()
	r.mu.Unlock()
	if resp, got := f.get("/info.php"); resp.StatusCode != 200 || got != "ok" {
		t.Fatalf("after the peer closed: %d %q (%v)", resp.StatusCode, got, f.lastError())
	}
}

// TestFastCGIKeepConnRaw checks reuse against a responder that keeps the
// connection only when asked: every request must ask.
func TestFastCGIKeepConnRaw(t *testing.T) {
	var flags []byte
	p := newRawPeer(t, func(req *rawRequest, w io.Writer) bool {
		flags = append(flags, req.begin.Flags)
		w.Write(reply("Content-Type: text/plain\r\n\r\nok"))
		return true
	})
	f := newFixture(t, phpSite(t), fmt.Sprintf("to = %q", p.to))
	for i := 0; i < 3; i++ {
		if resp, got := f.get("/info.php"); resp.StatusCode != 200 || got != "ok" {
			t.Fatalf("request %d: %d %q (%v)", i, resp.StatusCode, got, f.lastError())
		}
	}
	if p.accepted() != 1 || !bytes.Equal(flags, []byte{1, 1, 1}) {
		t.Errorf("accepted %d connections, flags %v", p.accepted(), flags)
	}
}

// TestFastCGIRetryClosedConn has the responder close a kept connection
// when the next request comes on it, as a worker that exits at that
// moment does: the request must be sent again on a new connection,
// unseen by the client. A request whose body was already read cannot be
// sent again and fails.
func TestFastCGIRetryClosedConn(t *testing.T) {
	p := newRawPeer(t, func(req *rawRequest, w io.Writer) bool {
		if req.n > 0 {
			return false // closes without an answer
		}
		w.Write(reply("Content-Type: text/plain\r\n\r\nok"))
		return true
	})
	f := newFixture(t, phpSite(t), fmt.Sprintf("to = %q", p.to))
	for i := 0; i < 3; i++ {
		if resp, got := f.get("/info.php"); resp.StatusCode != 200 || got != "ok" {
			t.Fatalf("request %d: %d %q (%v)", i, resp.StatusCode, got, f.lastError())
		}
	}
	if p.accepted() != 3 {
		t.Errorf("accepted %d connections, want 3", p.accepted())
	}
	if !strings.Contains(f.log.String(), "retrying on a new one") {
		t.Errorf("no retry logged:\n%s", f.log.String())
	}
	resp, _ := f.do(gatewaytest.NewRequest(t, "POST", f.srv.URL+"/info.php", strings.NewReader("body")))
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("POST on a connection closed under it: %d, want 502", resp.StatusCode)
	}
}

func TestFastCGIResponderDown(t *testing.T) {
	dir := socketDir(t)
	tests := []struct {
		name string
		to   string
	}{
		{"no socket", "unix:" + filepath.Join(dir, "missing.sock")},
		{"refused", "tcp://" + closedPort(t)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, phpSite(t), fmt.Sprintf("to = %q", tt.to))
			resp, _ := f.get("/info.php")
			if resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("status %d, want 502", resp.StatusCode)
			}
			if err := f.lastError(); err == nil || !strings.Contains(err.Error(), tt.to) {
				t.Errorf("error %v does not name %s", err, tt.to)
			}
		})
	}
}

// closedPort is a TCP address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestFastCGITimeout(t *testing.T) {
	release := make(chan struct{})
	p := newStdPeer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow.php" {
			<-release
		}
		fmt.Fprint(w, "ok")
	}))
	defer close(release)
	root := phpSite(t)
	writeFile(t, root, "slow.php", "")
	f := newFixture(t, root, fmt.Sprintf("to = %q\ntimeout = \"200ms\"", p.to))
	start := time.Now()
	resp, _ := f.get("/slow.php")
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504 (%v)", resp.StatusCode, f.lastError())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("504 after %v", d)
	}
	if err := f.lastError(); !strings.Contains(err.Error(), "no response header") {
		t.Errorf("error: %v", err)
	}
	// The timed-out connection is not reused; others work.
	if resp, got := f.get("/info.php"); resp.StatusCode != 200 || got != "ok" {
		t.Fatalf("after the timeout: %d %q (%v)", resp.StatusCode, got, f.lastError())
	}
	if p.accepted() != 2 {
		t.Errorf("accepted %d connections, want 2", p.accepted())
	}
}

// TestFastCGIFlush checks that what the responder flushes reaches the
// client while the script still runs.
func TestFastCGIFlush(t *testing.T) {
	release := make(chan struct{})
	p := newStdPeer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		fmt.Fprint(w, "second\n")
	}))
	f := newFixture(t, phpSite(t), fmt.Sprintf("to = %q", p.to))
	resp, err := http.Get(f.srv.URL + "/info.php")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	lines := make(chan string, 2)
	go func() {
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				close(lines)
				return
			}
			lines <- l
		}
	}()
	if l := testutil.Recv(t, lines, 10*time.Second, "the flushed first line"); l != "first\n" {
		t.Fatalf("first line %q", l)
	}
	close(release)
	if l := testutil.Recv(t, lines, 10*time.Second, "the second line"); l != "second\n" {
		t.Fatalf("second line %q", l)
	}
}

// TestFastCGIClientGone checks that a client that goes away mid-response
// stops the request: the responder's writes fail soon after, and the
// connection is not kept.
func TestFastCGIClientGone(t *testing.T) {
	stopped := make(chan error, 1)
	p := newStdPeer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ticker.php" {
			fmt.Fprint(w, "ok")
			return
		}
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := fmt.Fprintf(w, "tick %s\n", strings.Repeat(".", 1000)); err != nil {
				stopped <- err
				return
			}
			w.(http.Flusher).Flush()
			time.Sleep(5 * time.Millisecond)
		}
		stopped <- nil
	}))
	root := phpSite(t)
	writeFile(t, root, "ticker.php", "")
	f := newFixture(t, root, fmt.Sprintf("to = %q", p.to))
	ctx, cancel := context.WithCancel(context.Background())
	req := gatewaytest.NewRequest(t, "GET", f.srv.URL+"/ticker.php", nil).WithContext(ctx)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	if err := testutil.Recv(t, stopped, 15*time.Second, "the responder noticing"); err == nil {
		t.Fatal("the responder wrote for 20s: the request was not stopped")
	}
	if resp, got := f.get("/info.php"); resp.StatusCode != 200 || got != "ok" {
		t.Fatalf("after: %d %q", resp.StatusCode, got)
	}
	if p.accepted() != 2 {
		t.Errorf("accepted %d connections, want 2 (the aborted one is not kept)", p.accepted())
	}
}

func TestFastCGIStderr(t *testing.T) {
	p := newRawPeer(t, func(req *rawRequest, w io.Writer) bool {
		b := wire.AppendRecord(nil, wire.TypeStderr, reqID, []byte("PHP message: first line\nsecond "))
		b = wire.AppendRecord(b, wire.TypeStderr, reqID, []byte("line\r\nunterminated"))
		b = append(b, reply("Content-Type: text/plain\r\n\r\nok")...)
		w.Write(b)
		return true
	})
	root := phpSite(t)
	f := newFixture(t, root, fmt.Sprintf("to = %q", p.to))
	if resp, got := f.get("/info.php?a=1"); resp.StatusCode != 200 || got != "ok" {
		t.Fatalf("%d %q (%v)", resp.StatusCode, got, f.lastError())
	}
	log := f.log.String()
	script := "script=" + filepath.Join(root, "info.php")
	for _, want := range []string{`"script stderr: PHP message: first line"`, `"script stderr: second line"`, `"script stderr: unterminated"`} {
		found := false
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, want) && strings.Contains(line, script) && strings.Contains(line, `request="GET /info.php?a=1"`) {
				found = true
			}
		}
		if !found {
			t.Errorf("log has no line with %s and %s:\n%s", want, script, log)
		}
	}
}

// TestFastCGIResponses checks how answers map to responses.
func TestFastCGIResponses(t *testing.T) {
	answers := map[string]string{
		"/status.php":   "Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope",
		"/url.php":      "Location: https://example.com/x\r\n\r\n",
		"/url303.php":   "Status: 303 See Other\r\nLocation: /elsewhere\r\n\r\n",
		"/local.php":    "Location: /style.css\r\n\r\nignored",
		"/loop.php":     "Location: /loop.php\r\n\r\n",
		"/hop.php":      "Content-Type: text/plain\r\nConnection: close\r\nTransfer-Encoding: chunked\r\nX-Powered-By: PHP\r\n\r\nhop",
		"/bare.php":     "\r\nno fields",
		"/lf.php":       "Content-Type: text/plain\n\nlf",
		"/cookies.php":  "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
		"/bad-line.php": "Content-Type text/plain\r\n\r\n",
		"/no-end.php":   "Content-Type: text/plain\r\n",
		"/empty.php":    "",
		"/status1.php":  "Status: 100\r\n\r\n",
	}
	p := newRawPeer(t, func(req *rawRequest, w io.Writer) bool {
		w.Write(reply(answers[req.params["SCRIPT_NAME"]]))
		return true
	})
	root := phpSite(t)
	for name := range answers {
		writeFile(t, root, name, "")
	}
	f := newFixture(t, root, fmt.Sprintf("to = %q", p.to))
	tests := []struct {
		path     string
		status   int
		body     string
		location string
		header   string // "Name: value" that must be there, or "-Name" that must not
	}{
		{"/status.php", 404, "nope", "", "Content-Type: text/plain"},
		{"/url.php", 302, "", "https://example.com/x", ""},
		{"/url303.php", 303, "", "/elsewhere", ""},
		{"/local.php", 200, "body { color: red }\n", "", "Content-Type: text/css; charset=utf-8"},
		{"/loop.php", 500, "", "", ""},
		{"/hop.php", 200, "hop", "", "-Connection"},
		{"/hop.php", 200, "hop", "", "X-Powered-By: PHP"},
		{"/bare.php", 200, "no fields", "", ""},
		{"/lf.php", 200, "lf", "", "Content-Type: text/plain"},
		{"/bad-line.php", 502, "", "", ""},
		{"/no-end.php", 502, "", "", ""},
		{"/empty.php", 502, "", "", ""},
		{"/status1.php", 502, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := f.get(tt.path)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tt.status, f.lastError())
			}
			if tt.status < 500 && body != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
			if got := resp.Header.Get("Location"); got != tt.location {
				t.Errorf("Location %q, want %q", got, tt.location)
			}
			if name, ok := strings.CutPrefix(tt.header, "-"); ok {
				if v := resp.Header.Get(name); v != "" {
					t.Errorf("%s = %q is passed", name, v)
				}
			} else if name, value, ok := strings.Cut(tt.header, ": "); ok && resp.Header.Get(name) != value {
				t.Errorf("%s = %q, want %q", name, resp.Header.Get(name), value)
			}
		})
	}
	if resp, _ := f.get("/cookies.php"); len(resp.Header.Values("Set-Cookie")) != 2 {
		t.Errorf("Set-Cookie = %q", resp.Header.Values("Set-Cookie"))
	}
}

// TestFastCGIMalformed checks that a responder breaking the protocol
// gets 502 (503 when it says it is overloaded), never a hang or a
// response made of its garbage, and that its connection is not kept.
func TestFastCGIMalformed(t *testing.T) {
	ok := reply("Content-Type: text/plain\r\n\r\nok")
	tests := []struct {
		name   string
		answer []byte
		status int // 0: the response begins and is cut
	}{
		{"well formed", ok, 200},
		{"version 2", append([]byte{2}, ok[1:]...), 502},
		{"other request id", wire.AppendStream(nil, wire.TypeStdout, 7, []byte("Content-Type: a/b\r\n\r\n")), 502},
		{"management record first", append(wire.AppendRecord(nil, wire.TypeUnknownType, 0, make([]byte, 8)), ok...), 200},
		{"unexpected type", append(wire.AppendRecord(nil, wire.TypeData, reqID, []byte("x")), ok...), 502},
		{"truncated", ok[:5], 502},
		{"cut in content", ok[:12], 502},
		{"short END_REQUEST", wire.AppendRecord(wire.AppendStream(nil, wire.TypeStdout, reqID, []byte("Content-Type: a/b\r\n\r\n")), wire.TypeEndRequest, reqID, []byte{0}), 0},
		{"garbage after the header", append(wire.AppendRecord(nil, wire.TypeStdout, reqID, []byte("Content-Type: a/b\r\n\r\nsome")), 9, 9, 9, 9, 9, 9, 9, 9), 0},
		{"END_REQUEST only", wire.AppendEndRequest(nil, reqID, 0, wire.StatusRequestComplete), 502},
		{"overloaded", wire.AppendEndRequest(nil, reqID, 0, wire.StatusOverloaded), 503},
		{"closed", nil, 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The peer closes the connection after its answer, as a
			// responder that gives up would.
			p := newRawPeer(t, func(req *rawRequest, w io.Writer) bool {
				w.Write(tt.answer)
				return false
			})
			f := newFixture(t, phpSite(t), fmt.Sprintf("to = %q\ntimeout = \"10s\"", p.to))
			req := gatewaytest.NewRequest(t, "GET", f.srv.URL+"/info.php", nil)
			c := &http.Client{Timeout: 20 * time.Second}
			resp, err := c.Do(req)
			if err == nil {
				var body []byte
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if tt.status != 0 && resp.StatusCode != tt.status {
					t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tt.status, f.lastError())
				}
				if tt.status == 200 && (err != nil || string(body) != "ok") {
					t.Errorf("body %q, %v", body, err)
				}
			}
			if tt.status == 0 && err == nil {
				t.Errorf("the response was not cut: %v", f.lastError())
			}
			if tt.status != 0 && err != nil {
				t.Fatal(err)
			}
			if tt.status != 200 && f.m.pool.idleCount() != 0 {
				t.Error("the connection of a failed exchange was kept")
			}
		})
	}
}

func TestFastCGICleanup(t *testing.T) {
	p := newStdPeer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	f := newFixture(t, phpSite(t), fmt.Sprintf("to = %q", p.to))
	if resp, _ := f.get("/info.php"); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	r := f.m.pool.resp
	r.mu.Lock()
	nc := r.idle[0].nc
	r.mu.Unlock()
	f.m.pool.close()
	if _, err := nc.Write([]byte{0}); err == nil {
		t.Error("the idle connection is still open after cleanup")
	}
	if resp, _ := f.get("/info.php"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("after cleanup: %d, want 503", resp.StatusCode)
	}
	if got := f.m.Describe(); !strings.Contains(got, "FastCGI "+p.to) || !strings.Contains(got, "split_path .php") {
		t.Errorf("Describe = %q", got)
	}
}

// TestFastCGIBodyErrors checks the body limits: a body over the vhost's
// limit is 413, and the responder's connection is not kept.
func TestFastCGIBodyErrors(t *testing.T) {
	p := newStdPeer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, "ok")
	}))
	f := newFixture(t, phpSite(t), fmt.Sprintf("to = %q", p.to))
	h := f.srv.Config.Handler
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1000)
		h.ServeHTTP(w, r)
	})
	for _, chunked := range []bool{false, true} {
		req := gatewaytest.NewRequest(t, "POST", f.srv.URL+"/info.php", strings.NewReader(strings.Repeat("x", 5000)))
		if chunked {
			req.ContentLength = -1
		}
		resp, _ := f.do(req)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked %v: status %d, want 413 (%v)", chunked, resp.StatusCode, f.lastError())
		}
	}
	resp, got := f.do(gatewaytest.NewRequest(t, "POST", f.srv.URL+"/info.php", strings.NewReader("small")))
	if resp.StatusCode != 200 || got != "ok" {
		t.Errorf("small body: %d %q (%v)", resp.StatusCode, got, f.lastError())
	}
}

func TestFastCGIHead(t *testing.T) {
	p := newStdPeer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Method", r.Method)
		fmt.Fprint(w, "a body the client must not get")
	}))
	f := newFixture(t, phpSite(t), fmt.Sprintf("to = %q", p.to))
	resp, body := f.do(gatewaytest.NewRequest(t, "HEAD", f.srv.URL+"/info.php", nil))
	if resp.StatusCode != 200 || body != "" || resp.Header.Get("X-Method") != "HEAD" {
		t.Errorf("%d %q %q", resp.StatusCode, body, resp.Header.Get("X-Method"))
	}
	if resp, got := f.get("/info.php"); resp.StatusCode != 200 || got != "a body the client must not get" {
		t.Errorf("GET after HEAD: %d %q", resp.StatusCode, got)
	}
}

// TestFastCGIConcurrent runs requests in parallel over a small pool.
func TestFastCGIConcurrent(t *testing.T) {
	p := newStdPeer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(b)
		fmt.Fprint(w, hex.EncodeToString(sum[:]))
	}))
	f := newFixture(t, phpSite(t), fmt.Sprintf("to = %q\nmax_idle_conns = 2", p.to))
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		go func() {
			body := strings.Repeat(fmt.Sprint(i), 1000*i)
			resp, err := http.Post(f.srv.URL+"/info.php", "text/plain", strings.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			sum := sha256.Sum256([]byte(body))
			if resp.StatusCode != 200 || string(got) != hex.EncodeToString(sum[:]) {
				errs <- fmt.Errorf("request %d: %d %q", i, resp.StatusCode, got)
				return
			}
			errs <- nil
		}()
	}
	for i := 0; i < 40; i++ {
		if err := testutil.Recv(t, errs, 30*time.Second, "a response"); err != nil {
			t.Error(err)
		}
	}
	if n := f.m.pool.idleCount(); n > 2 {
		t.Errorf("%d idle connections, over max_idle_conns 2", n)
	}
}

// TestFastCGITrailingRecords has the responder send a record after
// END_REQUEST: the connection must not carry the next request, whose
// answer that record would pose as.
func TestFastCGITrailingRecords(t *testing.T) {
	p := newRawPeer(t, func(req *rawRequest, w io.Writer) bool {
		b := reply("Content-Type: text/plain\r\n\r\nok")
		w.Write(wire.AppendStream(b, wire.TypeStdout, reqID, []byte("Status: 500\r\n\r\nstale")))
		return true
	})
	f := newFixture(t, phpSite(t), fmt.Sprintf("to = %q", p.to))
	for i := 0; i < 2; i++ {
		if resp, got := f.get("/info.php"); resp.StatusCode != 200 || got != "ok" {
			t.Fatalf("request %d: %d %q (%v)", i, resp.StatusCode, got, f.lastError())
		}
	}
	if p.accepted() != 2 {
		t.Errorf("accepted %d connections, want 2", p.accepted())
	}
}

// TestFastCGIWorkersHeldByIdleConns has two mounts share a responder
// with one worker, which each kept connection holds: the second mount's
// new connection must not wait behind the first mount's idle one.
func TestFastCGIWorkersHeldByIdleConns(t *testing.T) {
	p := newWorkerPeer(t, 1, func(req *rawRequest, w io.Writer) bool {
		w.Write(reply("Content-Type: text/plain\r\n\r\n" + req.params["SERVER_NAME"]))
		return true
	})
	body := fmt.Sprintf("to = %q\ntimeout = \"10s\"", p.to)
	a := newFixture(t, phpSite(t), body)
	b := newFixture(t, phpSite(t), body)
	for i, f := range []*fixture{a, b, a, b} {
		start := time.Now()
		if resp, _ := f.get("/info.php"); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d (%v)", i, resp.StatusCode, f.lastError())
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("request %d took %v", i, d)
		}
	}
	if a.m.pool.resp != b.m.pool.resp {
		t.Fatal("two mounts to one address do not share their connections")
	}
	if n := a.m.pool.idleCount(); n > 1 {
		t.Errorf("%d idle connections to a responder with one worker", n)
	}
}
