package tests

import (
	"strings"
	"testing"
	"time"
)

const forbiddenPage = "<h1>403 Forbidden</h1>"

// accessSite serves htdocs/ with the given server block lines and
// access blocks.
func accessSite(t *testing.T, server, blocks string) *Server {
	t.Helper()
	h := NewHarness(t)
	h.Write("htdocs/index.html", "home\n", 0o644)
	h.Write("htdocs/private/secret.txt", "secret\n", 0o644)
	return h.Start(`server {
  listen = ["127.0.0.1:0"]
` + server + `
}
vhost "a.test" {
  document_root = "htdocs"
` + blocks + `
}`)
}

func TestAccessAllowAndDeny(t *testing.T) {
	allowed := accessSite(t, "", `  access "/private/" {
    allow = ["10.0.0.0/8", "127.0.0.1/32"]
    deny  = []
  }`)
	denied := accessSite(t, "", `  access "/private/" {
    deny = ["127.0.0.1/32"]
  }`)
	nested := accessSite(t, "", `  access "/" {
    deny = ["127.0.0.0/8"]
  }
  access "/private/" {
    allow = ["127.0.0.1"]
  }`)
	tests := []struct {
		name   string
		srv    *Server
		path   string
		status int
		body   string
	}{
		{"allowed loopback", allowed, "/private/secret.txt", 200, "secret\n"},
		{"allowed outside prefix", allowed, "/index.html", 200, "home\n"},
		{"denied loopback", denied, "/private/secret.txt", 403, forbiddenPage},
		{"denied for a missing file too", denied, "/private/nothing", 403, forbiddenPage},
		{"denied outside prefix", denied, "/index.html", 200, "home\n"},
		{"longest prefix decides: denied by /", nested, "/index.html", 403, forbiddenPage},
		{"longest prefix decides: allowed by /private/", nested, "/private/secret.txt", 200, "secret\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := coreGet(t, nil, tt.srv.Addr, "a.test", tt.path)
			if resp.StatusCode != tt.status || !strings.Contains(body, tt.body) {
				t.Fatalf("GET %s: %d %q, want %d with %q", tt.path, resp.StatusCode, body, tt.status, tt.body)
			}
			if tt.status == 403 && strings.Contains(body, "secret") {
				t.Errorf("403 body shows the resource: %q", body)
			}
		})
	}
	denied.WaitStderr(`access: 127.0.0.1 denied by deny \"127.0.0.1/32\" (httpd.hcl:`, 5*time.Second)
}

// TestAccessTrustedProxy checks that behind a trusted proxy the client
// the proxy names is judged, not the proxy.
func TestAccessTrustedProxy(t *testing.T) {
	srv := accessSite(t, `  trusted_proxies = ["127.0.0.1/32"]`, `  access "/private/" {
    allow = ["10.0.0.0/8"]
  }`)
	tests := []struct {
		name   string
		xff    string
		status int
	}{
		{"forwarded client allowed", "10.1.2.3", 200},
		{"forwarded client refused", "192.0.2.1", 403},
		{"proxy itself refused", "", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.xff != "" {
				hdr = []string{"X-Forwarded-For", tt.xff}
			}
			resp, body := coreGet(t, nil, srv.Addr, "a.test", "/private/secret.txt", hdr...)
			if resp.StatusCode != tt.status {
				t.Fatalf("X-Forwarded-For %q: %d %q, want %d", tt.xff, resp.StatusCode, body, tt.status)
			}
		})
	}
	srv.WaitStderr("access: 192.0.2.1 denied by allow", 5*time.Second)
}
