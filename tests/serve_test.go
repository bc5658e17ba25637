package tests

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var servingRE = regexp.MustCompile(`(?m)^Serving HTTP on (\S+) port (\d+) \(http://(\S+)/\) \.\.\.$`)

// TestServeAnnouncesBoundAddress: `httpd serve` says where it serves only
// once it listens, naming the address and port it got, as
// python -m http.server does; with -p 0 that is the port the system chose,
// and the file is fetched from there.
func TestServeAnnouncesBoundAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		host string // the printed host; "" for any wildcard
	}{
		{"loopback", []string{"-b", "127.0.0.1"}, "127.0.0.1"},
		{"all interfaces", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := NewHarness(t)
			h.Write("site/hello.txt", "hello from port 0\n", 0o644)
			srv := h.StartArgs(append([]string{"serve", "site", "-p", "0"}, tt.args...)...)
			m := servingRE.FindStringSubmatch(srv.Stdout())
			if m == nil {
				t.Fatalf("no Serving line on stdout: %q", srv.Stdout())
			}
			host, port, hostport := m[1], m[2], m[3]
			if port == "0" {
				t.Fatalf("printed port 0, not the bound one: %q", m[0])
			}
			if hostport != net.JoinHostPort(host, port) {
				t.Errorf("URL %q does not match host %q and port %s", hostport, host, port)
			}
			if tt.host != "" && host != tt.host {
				t.Errorf("host %q, want %q", host, tt.host)
			}
			if tt.host == "" && host != "::" && host != "0.0.0.0" {
				t.Errorf("host %q, want the wildcard the listener got", host)
			}
			// The log names the same bound address.
			if srv.Addr != hostport {
				t.Errorf("printed %s, the listener is on %s", hostport, srv.Addr)
			}
			resp, body := coreGet(t, nil, "127.0.0.1:"+port, "localhost", "/hello.txt")
			if resp.StatusCode != 200 || body != "hello from port 0\n" {
				t.Errorf("GET /hello.txt on the printed port: %d %q", resp.StatusCode, body)
			}
			srv.Stop()
		})
	}
}

// TestServePortInUse: when the port cannot be bound, serve says why and
// exits 1 without claiming to serve.
func TestServePortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	h := NewHarness(t)
	h.Write("site/index.html", "x", 0o644)
	stdout, stderr, code := h.Run("serve", "site", "-b", "127.0.0.1", "-p", strconv.Itoa(port))
	if code != 1 {
		t.Errorf("exit %d, want 1; stderr:\n%s", code, stderr)
	}
	if strings.Contains(stdout, "Serving HTTP") {
		t.Errorf("claims to serve on a port it could not bind: %q", stdout)
	}
	if !strings.Contains(stderr, fmt.Sprintf("127.0.0.1:%d", port)) {
		t.Errorf("stderr does not name the address:\n%s", stderr)
	}
}
