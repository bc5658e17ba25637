package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"httpd/internal/stats"
)

// opsServer is a running httpd with every kind of mount the status page
// and metrics report on: CGI, WSGI, a reverse proxy, static files with
// listings, and a TLS vhost with a certificate of the local CA.
type opsServer struct {
	*Server
	TLSAddr string
	Dir     string // the server root
}

// startOps starts the server of the operations tests. Its only trusted
// proxy is 127.0.0.1, so a request with X-Forwarded-For comes from the
// address it names: that is how the tests reach the pages from outside
// allow.
func startOps(t *testing.T) *opsServer {
	t.Helper()
	python := wsgiPython(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "upstream %s\n", r.URL.Path)
	}))
	t.Cleanup(up.Close)
	h := NewHarness(t)
	h.Write("htdocs/index.html", "<h1>home</h1>\n", 0o644)
	h.Write("htdocs/files/readme.txt", "a file to list\n", 0o644)
	h.Write("htdocs/files/data.csv", "a,b\n1,2\n", 0o644)
	h.Write("slow/slow.sh", "#!/bin/sh\nsleep 30\n", 0o755)
	h.Write("cgi-bin/hello.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nhello from cgi\\n'\n", 0o755)
	h.Write("wsgi/app.wsgi", `def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello from wsgi\n"]
`, 0o644)
	srv := h.Start(fmt.Sprintf(`server {
  listen          = ["127.0.0.1:0"]
  trusted_proxies = ["127.0.0.1/32"]
}
log {
  access = "off"
}
vhost "ops.test" {
  default       = true
  aliases       = ["localhost", "127.0.0.1"]
  document_root = "htdocs"
  static { browse = true }
  script_alias "/cgi-bin/" { path = "cgi-bin/" }
  script_alias "/slow/" {
    path    = "slow/"
    timeout = "200ms"
  }
  wsgi_script_alias "/app" {
    script    = "wsgi/app.wsgi"
    python    = %q
    processes = 1
    threads   = 4
  }
  reverse_proxy "/api/" { to = [%q] }
  status "/server-status" { allow = ["127.0.0.1/32", "::1/128"] }
  metrics "/metrics" { allow = ["127.0.0.1/32"] }
}
vhost "secure.test" {
  listen        = ["127.0.0.2:0"]
  tls           = "internal"
  document_root = "htdocs"
}
`, python, up.URL))
	// The listeners open in any order: URL must name the plain one.
	srv.Addr = srv.Addrs["127.0.0.1:0"]
	if srv.Addr == "" || srv.Addrs["127.0.0.2:0"] == "" {
		t.Fatalf("listeners %v, want 127.0.0.1:0 and 127.0.0.2:0", srv.Addrs)
	}
	return &opsServer{Server: srv, TLSAddr: srv.Addrs["127.0.0.2:0"], Dir: h.Dir}
}

// get fetches path from the server, as the client from when it is not
// "" (through the trusted proxy's X-Forwarded-For).
func (s *opsServer) get(t *testing.T, path, from string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	if from != "" {
		req.Header.Set("X-Forwarded-For", from)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// traffic sends n requests to every mount, checking their answers.
func (s *opsServer) traffic(t *testing.T, n int) {
	t.Helper()
	for range n {
		for path, want := range map[string]string{"/": "home", "/cgi-bin/hello.sh": "hello from cgi", "/app": "hello from wsgi", "/api/x": "upstream /api/x"} {
			if code, _, body := s.get(t, path, ""); code != 200 || !strings.Contains(body, want) {
				t.Fatalf("GET %s = %d %q, want 200 with %q", path, code, body, want)
			}
		}
	}
}

// report reads the status page's JSON.
func (s *opsServer) report(t *testing.T) *stats.Report {
	t.Helper()
	code, h, body := s.get(t, "/server-status?format=json", "")
	if code != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("status JSON: %d %s\n%s", code, h.Get("Content-Type"), body)
	}
	var rep stats.Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, body)
	}
	return &rep
}

// mount finds a mount of vhost ops.test in rep.
func mount(t *testing.T, rep *stats.Report, prefix string) stats.MountReport {
	t.Helper()
	for _, v := range rep.VHosts {
		for _, m := range v.Mounts {
			if v.Name == "ops.test" && m.Prefix == prefix {
				return m
			}
		}
	}
	t.Fatalf("no mount %s in the report", prefix)
	return stats.MountReport{}
}

// waitReport polls the JSON until ok holds, for at most timeout: counts
// land once a request's answer is out, and the ring fills once a second.
func (s *opsServer) waitReport(t *testing.T, timeout time.Duration, what string, ok func(*stats.Report) bool) *stats.Report {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rep := s.report(t)
		if ok(rep) {
			return rep
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(rep, "", "  ")
			t.Fatalf("status JSON: %s not within %v:\n%s", what, timeout, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestStatusPage(t *testing.T) {
	s := startOps(t)

	// Outside allow: 403, also as JSON, and for the metrics.
	for _, path := range []string{"/server-status", "/server-status?format=json", "/metrics"} {
		if code, _, _ := s.get(t, path, "192.0.2.7"); code != http.StatusForbidden {
			t.Errorf("GET %s from 192.0.2.7 = %d, want 403", path, code)
		}
	}
	// From an allowed address named by the trusted proxy: served.
	if code, _, _ := s.get(t, "/server-status", "::1"); code != 200 {
		t.Errorf("GET /server-status from ::1 = %d, want 200", code)
	}

	before := s.report(t)
	if before.Generation != 1 || before.Loaded.IsZero() || before.UptimeSeconds <= 0 {
		t.Errorf("generation %d loaded %v uptime %v", before.Generation, before.Loaded, before.UptimeSeconds)
	}
	if len(before.VHosts) != 2 {
		t.Fatalf("vhosts %+v, want ops.test and secure.test", before.VHosts)
	}
	sec := before.VHosts[1]
	if sec.Name != "secure.test" || sec.TLS != "internal" || sec.Cert == nil || sec.Cert.Error != "" ||
		!strings.Contains(sec.Cert.Issuer, "httpd local CA") || sec.Cert.DaysLeft < 1 || len(sec.Listeners) != 1 || !sec.Listeners[0].TLS {
		t.Errorf("secure.test = %+v, certificate %+v", sec, sec.Cert)
	}
	for prefix, kind := range map[string]string{"/cgi-bin/": "script_alias", "/app": "wsgi_script_alias", "/api/": "reverse_proxy", "/server-status": "status"} {
		if m := mount(t, before, prefix); m.Kind != kind {
			t.Errorf("mount %s is %q, want %q", prefix, m.Kind, kind)
		}
	}
	if w := mount(t, before, "/app").State; w == nil || w.Workers == nil || w.Workers.Max != 4 {
		t.Errorf("WSGI state %+v, want a pool of 4", w)
	}
	if c := mount(t, before, "/cgi-bin/").State; c == nil || c.Workers == nil || c.Workers.Max < 1 {
		t.Errorf("CGI state %+v, want process slots", c)
	}

	s.traffic(t, 5)
	if code, _, _ := s.get(t, "/cgi-bin/missing.sh", ""); code != 404 {
		t.Errorf("a missing script: %d, want 404", code)
	}

	after := s.waitReport(t, 10*time.Second, "counts after 21 requests and a second sampled", func(r *stats.Report) bool {
		return mount(t, r, "/app").Requests >= 5 && mount(t, r, "/api/").Requests >= 5 &&
			mount(t, r, "/cgi-bin/").Requests >= 6 && r.RequestsPerSecond > 0
	})
	if after.Requests <= before.Requests {
		t.Errorf("requests %d, then %d", before.Requests, after.Requests)
	}
	app := mount(t, after, "/app")
	if app.BytesOut < 5*uint64(len("hello from wsgi\n")) || app.MeanLatencyMs <= 0 || app.Errors5xx != 0 {
		t.Errorf("/app = %+v", app)
	}
	api := mount(t, after, "/api/")
	if api.State == nil || len(api.State.Upstreams) != 1 || !api.State.Upstreams[0].Healthy || api.State.Upstreams[0].Requests < 5 {
		t.Errorf("/api/ state %+v", api.State)
	}
	if after.Conns.Active < 1 {
		t.Errorf("connections %+v: the request asking is active", after.Conns)
	}

	// A script stopped by its timeout, and a WSGI worker killed: the
	// pools count them.
	if code, _, _ := s.get(t, "/slow/slow.sh", ""); code != http.StatusGatewayTimeout {
		t.Errorf("a script past its timeout: %d, want 504", code)
	}
	workers := wsgiWorkers(s.Dir)
	if len(workers) != 1 {
		t.Fatalf("WSGI workers %v, want one", workers)
	}
	pid, _ := strconv.Atoi(workers[0])
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.waitReport(t, 10*time.Second, "a CGI timeout and a WSGI crash counted, and the worker back", func(r *stats.Report) bool {
		slow, app := mount(t, r, "/slow/").State, mount(t, r, "/app").State
		return slow.Workers.Timeouts == 1 && app.Workers.Crashes == 1 && app.Workers.Idle == 4 && mount(t, r, "/slow/").Errors5xx == 1
	})
	s.traffic(t, 1)

	// The HTML page: a person's view of the same.
	code, h, page := s.get(t, "/server-status", "")
	if code != 200 || h.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("status page: %d %s", code, h.Get("Content-Type"))
	}
	for _, want := range []string{`name="viewport"`, "<svg", "ops.test", "secure.test", "localhost", "/cgi-bin/", "/app", "/api/",
		"CGI", "WSGI", "Proxy", "httpd local CA", "days left", "config generation <b id=\"generation\">1</b>", "1 of 1 upstreams healthy",
		`<dt>Crashes</dt><dd class="bad">1</dd>`, `<dt>Timeouts</dt><dd class="warn">1</dd>`} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if strings.Contains(page, "http://") && strings.Contains(page, "<link") || strings.Contains(page, "<script") {
		t.Error("status page loads external assets or scripts")
	}

	// A reload makes generation 2, and the counts stay.
	s.Signal(syscall.SIGHUP)
	re := s.waitReport(t, 10*time.Second, "generation 2 after SIGHUP", func(r *stats.Report) bool { return r.Generation == 2 })
	if mount(t, re, "/app").Requests < app.Requests {
		t.Errorf("/app requests fell from %d to %d over a reload", app.Requests, mount(t, re, "/app").Requests)
	}
}
