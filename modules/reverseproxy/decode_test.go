package reverseproxy

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"httpd/internal/testutil"
	"httpd/registry"
)

// decode decodes a reverse_proxy block whose body is body.
func decode(t *testing.T, prefix, body string) (*Module, hcl.Diagnostics) {
	t.Helper()
	b := testutil.ParseBlock(t, "reverse_proxy \""+prefix+"\" {\n"+body+"\n}\n")
	dc := &registry.DecodeContext{ServerRoot: "/srv", VHost: "example.com", File: "test.hcl"}
	m := new(Module)
	return m, m.Decode(b, dc)
}

func TestReverseProxyDecode(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // part of the diagnostics; "" for none
		line int    // the line the first diagnostic points at (the block's first is 1)
	}{
		{"minimal", `to = ["http://127.0.0.1:9001"]`, "", 0},
		{"one string", `to = "http://127.0.0.1:9001"`, "", 0},
		{"all", `to = ["http://127.0.0.1:9001", "https://app.internal/base", "unix:/run/app.sock", "http://[::1]:9002"]
lb_policy = "least_conn"
strip_prefix = true
preserve_host = false
max_fails = 5
fail_timeout = "30s"
max_idle_conns = 8
header_up = { "X-Real-IP" = "{remote_addr}", "X-Drop" = "" }
health_check {
  path = "/healthz?full=1"
  interval = "5s"
  timeout = "1s"
  expect_status = 204
}
timeout {
  connect = "3s"
  response_header = "60s"
  idle = "30s"
}`, "", 0},
		{"missing to", `lb_policy = "first"`, `The argument "to" is required`, 1},
		{"empty to", `to = []`, "No upstream", 2},
		{"bad scheme", `to = ["ftp://127.0.0.1:21"]`, `the scheme "ftp" is not one reverse_proxy speaks`, 2},
		{"tcp scheme", `to = ["tcp://127.0.0.1:9000"]`, `did you mean "http://127.0.0.1:9000"?`, 2},
		{"ws scheme", `to = ["ws://127.0.0.1:9000"]`, `write "http://127.0.0.1:9000"`, 2},
		{"no scheme", `to = ["127.0.0.1:9000"]`, `did you mean "http://127.0.0.1:9000"?`, 2},
		{"bare path", `to = ["/run/app.sock"]`, `did you mean "unix:/run/app.sock"?`, 2},
		{"empty unix", `to = ["unix:"]`, "names no socket", 2},
		{"no host", `to = ["http:///x"]`, "names no host", 2},
		{"user info", `to = ["http://u:p@127.0.0.1"]`, "credentials do not go in to", 2},
		{"query", `to = ["http://127.0.0.1/?a=1"]`, "query or fragment", 2},
		{"bad port", `to = ["http://127.0.0.1:70000"]`, "port must be a number", 2},
		{"duplicate", `to = ["http://127.0.0.1:9001", "http://127.0.0.1:9001"]`, "listed twice", 2},
		{"unknown policy", `to = ["http://a"]
lb_policy = "round-robin"`, `Did you mean "round_robin"?`, 3},
		{"unknown policy far", `to = ["http://a"]
lb_policy = "random"`, `one of round_robin, least_conn, ip_hash, first`, 3},
		{"bad duration", `to = ["http://a"]
timeout { connect = "3 seconds" }`, "Invalid duration for connect", 3},
		{"bad fail_timeout", `to = ["http://a"]
fail_timeout = 10`, "Invalid duration for fail_timeout", 3},
		{"health without path", `to = ["http://a"]
health_check { interval = "5s" }`, `The argument "path" is required`, 3},
		{"health relative path", `to = ["http://a"]
health_check { path = "healthz" }`, "must be a URL path", 3},
		{"health interval too short", `to = ["http://a"]
health_check {
  path = "/h"
  interval = "1ms"
}`, `at least "100ms"`, 5},
		{"bad expect_status", `to = ["http://a"]
health_check {
  path = "/h"
  expect_status = 42
}`, "expect_status must be a whole number", 5},
		{"two timeout blocks", `to = ["http://a"]
timeout { connect = "1s" }
timeout { connect = "2s" }`, "Duplicate timeout block", 4},
		{"own header", `to = ["http://a"]
header_up = { "X-Forwarded-For" = "1.2.3.4" }`, "set by the proxy itself", 3},
		{"unknown placeholder", `to = ["http://a"]
header_up = { "X-Client" = "{client_ip}" }`, "unknown placeholder {client_ip}", 3},
		{"misspelt", `to = ["http://a"]
strip_prefx = true`, `Did you mean "strip_prefix"?`, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := decode(t, "/api/", tt.body)
			if tt.want == "" {
				if len(diags) > 0 {
					t.Fatalf("unexpected diagnostics: %s", diags.Error())
				}
				return
			}
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tt.want) {
				t.Fatalf("diagnostics %q do not mention %q", diags.Error(), tt.want)
			}
			d := diags[0]
			if d.Subject == nil || d.Subject.Filename != "test.hcl" || d.Subject.Start.Line != tt.line || d.Subject.Start.Column < 1 {
				t.Errorf("diagnostic points at %v, want test.hcl line %d", d.Subject, tt.line)
			}
		})
	}
}

func TestReverseProxyDecodeValues(t *testing.T) {
	m, diags := decode(t, "/api/", `to = ["http://127.0.0.1:9001/base/", "unix:var/app.sock"]`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if m.Policy != RoundRobin || m.StripPrefix || !m.PreserveHost || m.MaxFails != DefaultMaxFails ||
		m.FailTimeout != DefaultFailTimeout || m.ConnectTimeout != DefaultConnectTimeout ||
		m.ResponseHeaderTimeout != DefaultResponseHeaderTimeout || m.Health != nil {
		t.Errorf("defaults: %+v", m)
	}
	u0, u1 := m.upstreams[0], m.upstreams[1]
	if u0.scheme != "http" || u0.addr != "127.0.0.1:9001" || u0.path != "/base" || u0.network != "tcp" {
		t.Errorf("http upstream: %+v", u0)
	}
	if u1.network != "unix" || u1.addr != "/srv/var/app.sock" || u1.hostHeader != "localhost" {
		t.Errorf("unix upstream: %+v", u1)
	}
	m, diags = decode(t, "/", `to = ["https://app.internal"]
health_check { path = "/h" }
timeout { response_header = "0s" }`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if m.upstreams[0].addr != "app.internal:443" || m.Health.Interval != DefaultHealthInterval ||
		m.Health.Timeout != DefaultHealthTimeout || m.ResponseHeaderTimeout != 0 {
		t.Errorf("https: %+v %+v %+v", m, m.upstreams[0], m.Health)
	}
	want := "proxy to https://app.internal (round_robin, health /h every 10s, out 10s after 3 failures, connect 5s, response_header none)"
	if got := m.Describe(); got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
	m, _ = decode(t, "/", `to = ["http://a"]
health_check {
  path = "/h"
  interval = "1s"
}`)
	if m.Health.Timeout != time.Second {
		t.Errorf("health timeout = %v, want the interval when shorter than the default", m.Health.Timeout)
	}
}

func TestReverseProxyEveryErrorInOnePass(t *testing.T) {
	_, diags := decode(t, "/", `to = ["ftp://x", "127.0.0.1:1"]
lb_policy = "fastest"
fail_timeout = "soon"
timeout { connect = "never" }`)
	if len(diags) < 5 {
		t.Errorf("%d diagnostics, want one per problem: %s", len(diags), diags.Error())
	}
}
