package tests

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads and parses the server's metrics.
func (s *opsServer) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	code, h, body := s.get(t, "/metrics", "")
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s\n%s", code, h.Get("Content-Type"), body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse the metrics: %v\n%s", err, body)
	}
	return fams
}

// metric sums the values of the series of name whose labels hold want
// (the sample count of a histogram); ok is false when there is none.
func metric(fams map[string]*dto.MetricFamily, name string, want map[string]string) (sum float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for _, l := range m.Label {
			if v, in := want[l.GetName()]; in && v != l.GetValue() {
				continue next
			}
		}
		ok = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum, ok
}

func TestMetricsScrape(t *testing.T) {
	s := startOps(t)
	if code, _, _ := s.get(t, "/metrics", "198.51.100.1"); code != http.StatusForbidden {
		t.Errorf("GET /metrics from outside allow = %d, want 403", code)
	}
	before := s.scrape(t)
	s.traffic(t, 3)
	post, err := http.Post(s.URL("/cgi-bin/hello.sh"), "text/plain", strings.NewReader(strings.Repeat("x", 1000)))
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if code, _, _ := s.get(t, "/no/such/file", ""); code != 404 {
		t.Errorf("a missing file: %d", code)
	}

	moved := []struct {
		name    string
		labels  map[string]string
		atLeast float64
	}{
		{"httpd_requests_total", map[string]string{"vhost": "ops.test", "mount": "/app", "method": "GET", "code_class": "2xx"}, 3},
		{"httpd_requests_total", map[string]string{"mount": "/cgi-bin/", "method": "POST", "code_class": "2xx"}, 1},
		{"httpd_requests_total", map[string]string{"mount": "none", "method": "GET", "code_class": "2xx"}, 3},
		{"httpd_requests_total", map[string]string{"mount": "none", "code_class": "4xx"}, 1},
		{"httpd_request_duration_seconds", map[string]string{"mount": "/app"}, 3},
		{"httpd_request_body_bytes_total", map[string]string{"mount": "/cgi-bin/"}, 1000},
		{"httpd_response_body_bytes_total", map[string]string{"mount": "/app"}, 3 * float64(len("hello from wsgi\n"))},
		{"httpd_upstream_requests_total", map[string]string{"mount": "/api/"}, 3},
	}
	// Counts land once each answer is out: poll, bounded, until every
	// one has moved.
	var after map[string]*dto.MetricFamily
	deadline := time.Now().Add(10 * time.Second)
	for {
		after = s.scrape(t)
		var still []string
		for _, m := range moved {
			b, _ := metric(before, m.name, m.labels)
			a, ok := metric(after, m.name, m.labels)
			if !ok || a < b+m.atLeast {
				still = append(still, fmt.Sprintf("%s%v went from %v to %v (found %v), want a rise of at least %v", m.name, m.labels, b, a, ok, m.atLeast))
			}
		}
		if len(still) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("within 10s:\n%s", strings.Join(still, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	present := []struct {
		name   string
		labels map[string]string
		want   float64 // -1: any value
	}{
		{"httpd_pool_max", map[string]string{"mount": "/app", "kind": "wsgi_script_alias"}, 4},
		{"httpd_pool_busy", map[string]string{"mount": "/cgi-bin/", "kind": "script_alias"}, -1},
		{"httpd_pool_crashes_total", map[string]string{"mount": "/app"}, 0},
		{"httpd_upstream_healthy", map[string]string{"mount": "/api/"}, 1},
		{"httpd_connections", map[string]string{"state": "active"}, -1},
		{"httpd_connections", map[string]string{"state": "tls_handshake"}, -1},
		{"httpd_config_generation", nil, 1},
		{"httpd_config_load_timestamp_seconds", nil, -1},
		{"httpd_certificate_expiry_seconds", map[string]string{"vhost": "secure.test", "name": "secure.test"}, -1},
	}
	for _, p := range present {
		v, ok := metric(after, p.name, p.labels)
		if !ok || p.want >= 0 && v != p.want {
			t.Errorf("%s%v = %v (found %v), want %v", p.name, p.labels, v, ok, p.want)
		}
	}
	if v, _ := metric(after, "httpd_certificate_expiry_seconds", map[string]string{"vhost": "secure.test"}); v < 3600 {
		t.Errorf("certificate expires in %v s", v)
	}
	// Bounded labels: no series names a request path or a made-up method.
	for name, f := range after {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "mount" && strings.Contains(l.GetValue(), "hello.sh") || strings.Contains(l.GetValue(), "/no/such") {
					t.Errorf("%s has a path in label %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}
