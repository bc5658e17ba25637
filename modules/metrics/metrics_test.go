package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"httpd/internal/stats"
	"httpd/internal/testutil"
	"httpd/registry"
)

func TestMetricsDecode(t *testing.T) {
	tests := []struct {
		name string
		src  string
		diag string // "" for none
	}{
		{"ok", `metrics "/metrics" { allow = ["127.0.0.1/32"] }`, ""},
		{"no allow", `metrics "/metrics" {}`, "needs allow"},
		{"bad network", `metrics "/metrics" { allow = ["10.0.0.0/40"] }`, `"10.0.0.0/40" is not a CIDR`},
		{"bad prefix", `metrics "/a//b" { allow = ["::1"] }`, "empty segment"},
		{"block inside", `metrics "/m" {
  allow = ["::1"]
  extra {}
}`, "Unsupported block type"},
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
			if d := diags[0]; d.Subject == nil || d.Subject.Filename != "test.hcl" {
				t.Errorf("diagnostic points at %v", d.Subject)
			}
		})
	}
}

type upstreams struct{}

func (upstreams) Report() registry.Report {
	return registry.Report{Kind: "reverse_proxy", Upstreams: []registry.UpstreamReport{
		{Address: "http://a:1", Healthy: true, Active: 2, Requests: 10, Failures: 1},
		{Address: "http://b:1", Healthy: false, Requests: 3, Failures: 3},
	}}
}

type workers struct{}

func (workers) Report() registry.Report {
	return registry.Report{Kind: "wsgi_script_alias", Workers: &registry.PoolReport{Busy: 1, Idle: 7, Queued: 4, Max: 8, Restarts: 2, Crashes: 1, Timeouts: 3, QueueWait: 2 * time.Second}}
}

// fixture is a provisioned module over a server with two mounts.
func fixture(t *testing.T) (*Module, *stats.Server) {
	t.Helper()
	var shared registry.Shared
	s := stats.New(time.Unix(1000, 0))
	s.Attach(&shared)
	s.Publish(&stats.Generation{Loaded: time.Unix(2000, 0), VHosts: []stats.VHost{{
		Name: "v.test",
		Mounts: []stats.Mount{
			{Kind: "reverse_proxy", Prefix: "/api/", Reporter: upstreams{}},
			{Kind: "wsgi_script_alias", Prefix: "/app", Reporter: workers{}},
		},
		Cert: func() (*stats.Cert, error) {
			return &stats.Cert{Subject: "v.test", Issuer: "CA", NotAfter: time.Now().Add(48 * time.Hour)}, nil
		},
	}}})
	m := new(Module)
	if diags := m.Decode(testutil.ParseBlock(t, `metrics "/metrics" { allow = ["127.0.0.1"] }`), &registry.DecodeContext{}); diags.HasErrors() {
		t.Fatal(diags)
	}
	if err := m.Provision(context.Background(), &registry.Env{Shared: &shared}); err != nil {
		t.Fatal(err)
	}
	return m, s
}

// scrape reads the metrics as a client at remote would.
func scrape(t *testing.T, m *Module, remote string) (map[string]*dto.MetricFamily, error) {
	t.Helper()
	r := httptest.NewRequest("GET", "/metrics", nil)
	r.RemoteAddr = remote
	w := httptest.NewRecorder()
	mt, _ := registry.MatchMount("/metrics", "/metrics")
	if err := m.Wrap(nil).(registry.MountHandler).ServeMount(w, r, mt); err != nil {
		return nil, err
	}
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("status %d, Content-Type %q", w.Code, w.Header().Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(w.Body)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, w.Body.String())
	}
	return fams, nil
}

// value finds the value of the metric of name whose labels hold want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetricsScrape(t *testing.T) {
	m, s := fixture(t)
	if _, err := scrape(t, m, "10.0.0.1:1"); registry.StatusOf(err) != http.StatusForbidden {
		t.Fatalf("a client outside allow: %v, want 403", err)
	}
	before, err := scrape(t, m, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	c := s.Counters(stats.Key{VHost: "v.test", Mount: "/app"})
	c.Observe("GET", 200, time.Millisecond, 0, 10)
	c.Observe("GET", 200, time.Millisecond, 0, 10)
	c.Observe("PROPFIND", 502, time.Second, 5, 0)
	s.Counters(stats.Key{VHost: "v.test"}).Observe("GET", 404, 0, 0, 0)
	after, err := scrape(t, m, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := value(before, "httpd_requests_total", map[string]string{"mount": "/app"}); ok {
		t.Error("requests counted before any request")
	}
	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"httpd_requests_total", map[string]string{"vhost": "v.test", "mount": "/app", "method": "GET", "code_class": "2xx"}, 2},
		{"httpd_requests_total", map[string]string{"mount": "/app", "method": "OTHER", "code_class": "5xx"}, 1},
		{"httpd_requests_total", map[string]string{"mount": NoMount, "method": "GET", "code_class": "4xx"}, 1},
		{"httpd_request_duration_seconds", map[string]string{"mount": "/app"}, 3},
		{"httpd_request_body_bytes_total", map[string]string{"mount": "/app"}, 5},
		{"httpd_response_body_bytes_total", map[string]string{"mount": "/app"}, 20},
		{"httpd_pool_busy", map[string]string{"mount": "/app", "kind": "wsgi_script_alias"}, 1},
		{"httpd_pool_queued", map[string]string{"mount": "/app"}, 4},
		{"httpd_pool_max", map[string]string{"mount": "/app"}, 8},
		{"httpd_pool_restarts_total", map[string]string{"mount": "/app"}, 2},
		{"httpd_pool_crashes_total", map[string]string{"mount": "/app"}, 1},
		{"httpd_pool_timeouts_total", map[string]string{"mount": "/app"}, 3},
		{"httpd_pool_queue_wait_seconds_total", map[string]string{"mount": "/app"}, 2},
		{"httpd_upstream_healthy", map[string]string{"mount": "/api/", "upstream": "http://a:1"}, 1},
		{"httpd_upstream_healthy", map[string]string{"upstream": "http://b:1"}, 0},
		{"httpd_upstream_requests_total", map[string]string{"upstream": "http://a:1"}, 10},
		{"httpd_upstream_failures_total", map[string]string{"upstream": "http://b:1"}, 3},
		{"httpd_config_generation", nil, 1},
		{"httpd_config_load_timestamp_seconds", nil, 2000},
		{"httpd_start_time_seconds", nil, 1000},
		{"httpd_connections", map[string]string{"state": "active"}, 0},
	}
	for _, tt := range tests {
		got, ok := value(after, tt.name, tt.labels)
		if !ok || got != tt.want {
			t.Errorf("%s%v = %v (found %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	left, ok := value(after, "httpd_certificate_expiry_seconds", map[string]string{"vhost": "v.test", "name": "v.test", "issuer": "CA"})
	if !ok || left < 47*3600 || left > 48*3600+60 {
		t.Errorf("certificate expiry %v s (found %v), want about two days", left, ok)
	}
	if after["go_goroutines"] == nil || after["process_cpu_seconds_total"] == nil {
		t.Error("no Go runtime or process metrics")
	}
	// Labels stay bounded: one series per method name known, and no
	// path ever.
	for _, f := range after {
		for _, mm := range f.Metric {
			for _, l := range mm.Label {
				if l.GetName() == "method" && l.GetValue() == "PROPFIND" {
					t.Errorf("%s has method %q", f.GetName(), l.GetValue())
				}
			}
		}
	}
}

// TestMetricsDuplicates: two vhost blocks of one name, with the same
// mount and an upstream named twice, still gather without a clash.
func TestMetricsDuplicates(t *testing.T) {
	s := stats.New(time.Now())
	cert := func() (*stats.Cert, error) {
		return &stats.Cert{Subject: "d.test", Issuer: "CA", NotAfter: time.Now()}, nil
	}
	twice := registry.Report{Upstreams: []registry.UpstreamReport{{Address: "http://a"}, {Address: "http://a"}}}
	vh := stats.VHost{Name: "d.test", Cert: cert, Mounts: []stats.Mount{{Kind: "reverse_proxy", Prefix: "/", Reporter: fixed(twice)}}}
	s.Publish(&stats.Generation{VHosts: []stats.VHost{vh, vh}})
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(s))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() == "httpd_upstream_healthy" && len(f.Metric) != 1 {
			t.Errorf("%d series of httpd_upstream_healthy, want 1", len(f.Metric))
		}
	}
}

type fixed registry.Report

func (f fixed) Report() registry.Report { return registry.Report(f) }
