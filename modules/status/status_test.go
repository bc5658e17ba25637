package status

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"httpd/certs"
	"httpd/internal/stats"
	"httpd/internal/testutil"
	"httpd/registry"
)

func TestStatusDecode(t *testing.T) {
	tests := []struct {
		name string
		src  string
		diag string // "" for none
	}{
		{"ok", `status "/server-status" { allow = ["127.0.0.1/32", "::1/128"] }`, ""},
		{"no allow", `status "/server-status" {}`, "needs allow"},
		{"bad network", `status "/s" { allow = ["127.0.0.300"] }`, `"127.0.0.300" is not a CIDR`},
		{"bad prefix", `status "server-status" { allow = ["::1"] }`, `must start with "/"`},
		{"unknown attribute", `status "/s" {
  allow = ["::1"]
  alow  = ["::1"]
}`, "Unsupported argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diags := new(Module).Decode(testutil.ParseBlock(t, tt.src), &registry.DecodeContext{})
			if tt.diag == "" {
				if diags.HasErrors() {
					t.Fatal(diags)
				}
				return
			}
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tt.diag) {
				t.Fatalf("diagnostics %q, want one holding %q", diags.Error(), tt.diag)
			}
			for _, d := range diags {
				if d.Subject == nil || d.Subject.Filename != "test.hcl" || d.Subject.Start.Line < 1 {
					t.Errorf("diagnostic %q points at %v, want a place in test.hcl", d.Summary, d.Subject)
				}
			}
		})
	}
}

// pool is a Reporter with fixed numbers.
type pool struct{}

func (pool) Report() registry.Report {
	return registry.Report{Kind: "wsgi_script_alias", Target: "/srv/app.wsgi",
		Workers:   &registry.PoolReport{Busy: 3, Idle: 5, Queued: 2, Max: 8, Restarts: 4, Crashes: 1, Timeouts: 6, QueueWait: 1500 * time.Millisecond},
		Upstreams: []registry.UpstreamReport{{Address: "http://10.0.0.9:80", Healthy: false, LastError: "refused <b>"}}}
}

// newModule returns a provisioned module over a server with one vhost,
// one mount and some traffic.
func newModule(t *testing.T) *Module {
	t.Helper()
	var shared registry.Shared
	s := stats.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	s.Attach(&shared)
	s.Publish(&stats.Generation{Loaded: s.Started, File: "/etc/httpd.hcl", VHosts: []stats.VHost{{
		Name: "example.test", Aliases: []string{"www.example.test"}, TLS: "files",
		Listeners: []stats.Listener{{Addr: "127.0.0.1:443", TLS: true}},
		Mounts:    []stats.Mount{{Kind: "wsgi_script_alias", Prefix: "/app", Reporter: pool{}}, {Kind: "alias", Prefix: "/icons/"}},
		Cert: func() (*stats.Cert, error) {
			return &stats.Cert{Subject: "example.test", Issuer: "Test CA", NotAfter: s.Started.Add(10*24*time.Hour + 2*time.Hour)}, nil
		},
	}}})
	c := s.Counters(stats.Key{VHost: "example.test", Mount: "/app"})
	c.Observe("GET", 200, 2*time.Millisecond, 0, 100)
	c.Observe("POST", 500, 4*time.Millisecond, 10, 0)
	s.Sample(s.Started.Add(time.Second))
	m := new(Module)
	src := `status "/server-status" { allow = ["127.0.0.1", "::1"] }`
	if diags := m.Decode(testutil.ParseBlock(t, src), &registry.DecodeContext{}); diags.HasErrors() {
		t.Fatal(diags)
	}
	if err := m.Provision(context.Background(), &registry.Env{Shared: &shared}); err != nil {
		t.Fatal(err)
	}
	m.now = func() time.Time { return s.Started.Add(90 * time.Minute) }
	return m
}

// serve runs one request through the page.
func serve(m *Module, method, target, remote string) (*httptest.ResponseRecorder, error) {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = remote
	w := httptest.NewRecorder()
	mt, _ := registry.MatchMount("/server-status", r.URL.Path)
	err := m.Wrap(nil).(registry.MountHandler).ServeMount(w, r, mt)
	return w, err
}

func TestStatusServe(t *testing.T) {
	m := newModule(t)
	tests := []struct {
		name   string
		method string
		target string
		remote string
		status int      // of the error, or 200
		ctype  string   // when 200
		holds  []string // when 200
	}{
		{"html", "GET", "/server-status", "127.0.0.1:5000", 200, "text/html; charset=utf-8",
			[]string{`<meta name="viewport"`, "example.test", "www.example.test", "https://127.0.0.1:443", "/app", "WSGI",
				"Test CA", "10 days left", "up <b id=\"uptime\">1h 30m</b>", "refused &lt;b&gt;", "<svg", "/srv/app.wsgi",
				"<dd>3</dd>", "1500 ms", "/icons/"}},
		{"html slash", "GET", "/server-status/", "[::1]:5000", 200, "text/html; charset=utf-8", []string{"example.test"}},
		{"refresh", "GET", "/server-status?refresh=7", "127.0.0.1:1", 200, "text/html; charset=utf-8", []string{`content="7"`}},
		{"head", "HEAD", "/server-status", "127.0.0.1:1", 200, "text/html; charset=utf-8", nil},
		{"json", "GET", "/server-status?format=json", "127.0.0.1:5000", 200, "application/json", []string{`"name": "example.test"`}},
		{"other client", "GET", "/server-status", "10.1.2.3:5000", 403, "", nil},
		{"other client json", "GET", "/server-status?format=json", "10.1.2.3:5000", 403, "", nil},
		{"below", "GET", "/server-status/x", "127.0.0.1:1", 404, "", nil},
		{"post", "POST", "/server-status", "127.0.0.1:1", 405, "", nil},
		{"bad format", "GET", "/server-status?format=xml", "127.0.0.1:1", 400, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := serve(m, tt.method, tt.target, tt.remote)
			if tt.status != 200 {
				if got := registry.StatusOf(err); err == nil || got != tt.status {
					t.Fatalf("error %v (status %d), want status %d", err, got, tt.status)
				}
				return
			}
			if err != nil || w.Code != 200 {
				t.Fatalf("status %d, error %v", w.Code, err)
			}
			if got := w.Header().Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type %q, want %q", got, tt.ctype)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", w.Header().Get("Cache-Control"))
			}
			if tt.method == "HEAD" && w.Body.Len() != 0 {
				t.Errorf("HEAD has a body of %d bytes", w.Body.Len())
			}
			for _, s := range tt.holds {
				if !strings.Contains(w.Body.String(), s) {
					t.Errorf("page lacks %q:\n%s", s, w.Body.String())
				}
			}
		})
	}
}

func TestStatusJSON(t *testing.T) {
	w, err := serve(newModule(t), "GET", "/server-status?format=json", "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	var rep stats.Report
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Generation != 1 || rep.Requests != 2 || rep.Errors5xx != 1 || len(rep.Seconds) != 1 || rep.RequestsPerSecond != 2 {
		t.Errorf("generation %d, requests %d, 5xx %d, seconds %d, rps %v", rep.Generation, rep.Requests, rep.Errors5xx, len(rep.Seconds), rep.RequestsPerSecond)
	}
	if len(rep.VHosts) != 1 || len(rep.VHosts[0].Mounts) != 2 {
		t.Fatalf("vhosts %+v", rep.VHosts)
	}
	v := rep.VHosts[0]
	if v.Cert == nil || v.Cert.DaysLeft != 10 || v.Cert.Issuer != "Test CA" {
		t.Errorf("certificate %+v", v.Cert)
	}
	app := v.Mounts[0]
	if app.Prefix != "/app" || app.Requests != 2 || app.Errors5xx != 1 || app.BytesIn != 10 || app.BytesOut != 100 || app.MeanLatencyMs != 3 {
		t.Errorf("mount %+v", app)
	}
	if app.State == nil || app.State.Workers == nil || app.State.Workers.Busy != 3 || app.State.Workers.Max != 8 {
		t.Errorf("mount state %+v", app.State)
	}
	if v.Mounts[1].State != nil {
		t.Errorf("alias has state %+v", v.Mounts[1].State)
	}
}

func TestStatusSpark(t *testing.T) {
	tests := []struct {
		name   string
		secs   []stats.Second
		peak   uint64
		errors bool
	}{
		{"empty", nil, 0, false},
		{"one", []stats.Second{{Requests: 5}}, 5, false},
		{"errors", []stats.Second{{Requests: 5, Errors: 1}, {Requests: 9}}, 9, true},
		{"idle", make([]stats.Second, stats.RingSeconds), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := newSpark(tt.secs)
			if sp.Peak != tt.peak || (sp.Errors != "") != tt.errors || (sp.Line != "") != (len(tt.secs) > 0) {
				t.Errorf("spark %+v", sp)
			}
			if n := len(strings.Fields(sp.Line)); n != len(tt.secs) {
				t.Errorf("%d points for %d seconds", n, len(tt.secs))
			}
			if strings.Contains(sp.Line, "NaN") || strings.Contains(sp.Line, "-") {
				t.Errorf("points out of the box: %s", sp.Line)
			}
		})
	}
}

func TestStatusHumanBytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 40: "3.0 TiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestStatusStorage: the storage section of the page and of the JSON,
// for each state the storage and the ticket keys can be in.
func TestStatusStorage(t *testing.T) {
	at := time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		fleet    certs.FleetStatus
		html     []string // the HTML page holds these
		notHTML  []string // and not these
		json     []string // the JSON holds these
		notJSON  []string
		healthy  bool // the JSON's storage.healthy
		hasStore bool // the JSON has a storage object
	}{
		{name: "none", notHTML: []string{`id="storage"`}, notJSON: []string{`"storage"`, `"session_tickets"`}},
		{
			name: "redis healthy",
			fleet: certs.FleetStatus{
				Storage: &certs.StorageStatus{Kind: "redis", Address: "10.0.0.5:6379", Prefix: "prod", Healthy: true, Since: at, LastWrite: at.Add(time.Minute),
					LastError: "dial tcp: refused", LastErrorAt: at.Add(-time.Hour)},
				Tickets: &certs.TicketStatus{Source: certs.TicketSourceShared, LastRotation: at.Add(-2 * time.Hour)},
			},
			html: []string{`id="storage"`, "10.0.0.5:6379", ">prod<", "reachable", "2026-01-02 04:01:00 UTC",
				"last error 2026-01-02 03:00:00 UTC", "shared storage", "last rotation 2026-01-02 02:00:00 UTC"},
			notHTML:  []string{"unreachable"},
			json:     []string{`"kind": "redis"`, `"address": "10.0.0.5:6379"`, `"prefix": "prod"`, `"last_write": "2026-01-02T04:01:00Z"`, `"source": "shared storage"`},
			healthy:  true,
			hasStore: true,
		},
		{
			name: "redis down",
			fleet: certs.FleetStatus{
				Storage: &certs.StorageStatus{Kind: "redis", Address: "/run/redis.sock", Prefix: "httpd", Since: at,
					LastError: "connection refused <x>", LastErrorAt: at},
				Tickets: &certs.TicketStatus{Source: certs.TicketSourceShared, LastError: "no answer"},
			},
			html:     []string{"unreachable", `class="dot bad"`, "connection refused &lt;x&gt;", "no answer"},
			json:     []string{`"healthy": false`, `"last_error": "connection refused \u003cx\u003e"`},
			notJSON:  []string{`"last_write"`},
			hasStore: true,
		},
		{
			name: "files",
			fleet: certs.FleetStatus{
				Storage: &certs.StorageStatus{Kind: "files", Address: "/var/lib/httpd", Healthy: true},
				Tickets: &certs.TicketStatus{Source: certs.TicketSourceLocal, LastRotation: at},
			},
			html:     []string{">files<", "/var/lib/httpd", "keys from <b>local</b>"},
			notHTML:  []string{"prefix", "last error"},
			json:     []string{`"kind": "files"`, `"address": "/var/lib/httpd"`, `"source": "local"`},
			healthy:  true,
			hasStore: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newModule(t)
			m.fleet = func() certs.FleetStatus { return tt.fleet }
			w, err := serve(m, "GET", "/server-status", "127.0.0.1:1")
			if err != nil {
				t.Fatal(err)
			}
			page := w.Body.String()
			for _, s := range tt.html {
				if !strings.Contains(page, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			for _, s := range tt.notHTML {
				if strings.Contains(page, s) {
					t.Errorf("page holds %q", s)
				}
			}
			if t.Failed() {
				t.Logf("page:\n%s", page)
			}
			w, err = serve(m, "GET", "/server-status?format=json", "127.0.0.1:1")
			if err != nil {
				t.Fatal(err)
			}
			body := w.Body.String()
			for _, s := range tt.json {
				if !strings.Contains(body, s) {
					t.Errorf("JSON lacks %q:\n%s", s, body)
				}
			}
			for _, s := range tt.notJSON {
				if strings.Contains(body, s) {
					t.Errorf("JSON holds %q:\n%s", s, body)
				}
			}
			var got struct {
				Generation int                  `json:"generation"`
				Storage    *certs.StorageStatus `json:"storage"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Generation != 1 {
				t.Errorf("the server's report is gone from the JSON: generation %d", got.Generation)
			}
			if (got.Storage != nil) != tt.hasStore || got.Storage != nil && got.Storage.Healthy != tt.healthy {
				t.Errorf("JSON storage %+v, want present %v, healthy %v", got.Storage, tt.hasStore, tt.healthy)
			}
		})
	}
}
