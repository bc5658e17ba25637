package tests

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"httpd/certs/pebbletest"
	"httpd/certs/redisstore/redistest"
)

// fleetConfig is the config of one server of a fleet sharing redis: one
// vhost "localhost" with tls = "internal" and the status page.
func fleetConfig(redis *redistest.Server) string {
	return fmt.Sprintf(`
server { data_dir = "var" }
log    { level = "debug" }
storage "redis" {
  address  = %q
  password = env("FLEET_REDIS_PASSWORD")
  prefix   = "fleet-test"
}
vhost "localhost" {
  listen        = ["127.0.0.1:0"]
  document_root = "htdocs"
  tls           = "internal"
  status "/server-status" { allow = ["127.0.0.1/32"] }
}
`, redis.Address)
}

// startFleet starts n servers sharing redis, each in its own root.
func startFleet(t *testing.T, redis *redistest.Server, n int) ([]*Harness, []*Server) {
	t.Helper()
	t.Setenv("FLEET_REDIS_PASSWORD", redis.Password)
	var hs []*Harness
	var ss []*Server
	for i := range n {
		h := NewHarness(t)
		h.Write("htdocs/index.html", fmt.Sprintf("server %d\n", i), 0o644)
		hs = append(hs, h)
		ss = append(ss, h.Start(fleetConfig(redis)))
	}
	return hs, ss
}

// fleetRoots reads the local CA root of the server in h, and checks that
// every other server of the fleet has the same.
func fleetRoots(t *testing.T, hs []*Harness) *x509.CertPool {
	t.Helper()
	var first []byte
	for i, h := range hs {
		pem, err := os.ReadFile(filepath.Join(h.Dir, "var", "pki", "root.crt"))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = pem
		} else if !bytes.Equal(pem, first) {
			t.Fatalf("server %d has another local CA root than server 0: the root is not shared", i)
		}
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(first) {
		t.Fatal("no certificate in root.crt")
	}
	return roots
}

// tlsGetConn makes one HTTPS request on a new TLS connection to addr with
// cfg and returns whether the session was resumed and the body.
func tlsGetConn(t *testing.T, addr string, cfg *tls.Config) (resumed bool, body string) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET https://%s/: %v", addr, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET https://%s/: %d %v", addr, resp.StatusCode, err)
	}
	return c.ConnectionState().DidResume, string(b)
}

// TestFleetSessionResumption: two servers sharing Redis serve the same
// local CA, and a TLS session begun on one resumes on the other, both
// ways, in TLS 1.3 and 1.2.
func TestFleetSessionResumption(t *testing.T) {
	redis := redistest.Start(t, redistest.Options{TCP: true, Password: "fleet-secret"})
	hs, ss := startFleet(t, redis, 2)
	roots := fleetRoots(t, hs)
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			for _, order := range [][2]int{{0, 1}, {1, 0}} {
				cfg := &tls.Config{ServerName: "localhost", RootCAs: roots, MinVersion: version, MaxVersion: version,
					ClientSessionCache: tls.NewLRUClientSessionCache(4), NextProtos: []string{"http/1.1"}}
				first, second := ss[order[0]], ss[order[1]]
				resumed, body := tlsGetConn(t, first.Addr, cfg)
				if resumed || body != fmt.Sprintf("server %d\n", order[0]) {
					t.Fatalf("first connection: resumed %v, body %q", resumed, body)
				}
				resumed, body = tlsGetConn(t, second.Addr, cfg)
				if !resumed {
					t.Errorf("a session from server %d did not resume on server %d", order[0], order[1])
				}
				if body != fmt.Sprintf("server %d\n", order[1]) {
					t.Errorf("body %q from server %d", body, order[1])
				}
			}
		})
	}
	// What the fleet shares is in Redis under the prefix.
	for _, key := range []string{"fleet-test:tickets", "fleet-test:f:pki/root.crt", "fleet-test:f:pki/root.key"} {
		if n, err := redis.Do("EXISTS", key); err != nil || n != ":1" {
			t.Errorf("Redis key %s: EXISTS = %s %v", key, n, err)
		}
	}
}

// TestFleetRedisDown: Redis killed mid-run stops no server from serving,
// a server started while it is down starts and serves, and none of the
// requests fails; when Redis is back the servers go on.
func TestFleetRedisDown(t *testing.T) {
	redis := redistest.Start(t, redistest.Options{})
	hs, ss := startFleet(t, redis, 2)
	roots := fleetRoots(t, hs)
	cache := tls.NewLRUClientSessionCache(4)
	cfg := func() *tls.Config {
		return &tls.Config{ServerName: "localhost", RootCAs: roots, ClientSessionCache: cache, NextProtos: []string{"http/1.1"}}
	}
	failed, total := 0, 0
	get := func(s *Server, wantResume bool) {
		t.Helper()
		total++
		resumed, _ := tlsGetConn(t, s.Addr, cfg())
		if wantResume && !resumed {
			failed++
			t.Errorf("no resumption on %s", s.Addr)
		}
	}
	get(ss[0], false)
	get(ss[1], true)

	redis.Kill()
	for range 3 {
		for _, s := range ss {
			// New handshakes (full and resumed) with Redis down.
			get(s, true)
			c := tlsClient(roots, false)
			resp, body := tlsGet(t, c, "https://"+s.Addr+"/")
			total++
			if resp.StatusCode != 200 || !strings.HasPrefix(body, "server ") {
				failed++
				t.Errorf("with Redis down: %d %q", resp.StatusCode, body)
			}
		}
	}
	// A server started while Redis is down starts, and serves with the
	// root it already has in data_dir (it was a member before).
	ss[1].Stop()
	ss[1] = hs[1].Start(fleetConfig(redis))
	if !strings.Contains(ss[1].Stderr(), "Redis does not answer") {
		t.Errorf("no log line about Redis being down at start:\n%s", ss[1].Stderr())
	}
	c := tlsClient(roots, false)
	if resp, _ := tlsGet(t, c, "https://"+ss[1].Addr+"/"); resp.StatusCode != 200 {
		failed++
		t.Errorf("restarted with Redis down: %d", resp.StatusCode)
	}
	total++

	redis.Start()
	for _, s := range ss {
		total++
		if resp, _ := tlsGet(t, tlsClient(roots, false), "https://"+s.Addr+"/"); resp.StatusCode != 200 {
			failed++
			t.Errorf("after Redis came back: %d", resp.StatusCode)
		}
	}
	t.Logf("requests: %d, failed: %d", total, failed)
}

// TestFleetBadPassword: Redis refusing the password stops the start with
// an error naming the setting and the address.
func TestFleetBadPassword(t *testing.T) {
	redis := redistest.Start(t, redistest.Options{TCP: true, Password: "right"})
	h := NewHarness(t)
	h.Write("htdocs/index.html", "x\n", 0o644)
	t.Setenv("FLEET_REDIS_PASSWORD", "wrong")
	h.Write("httpd.hcl", fleetConfig(redis), 0o644)
	_, stderr, code := h.Run("-f", "httpd.hcl")
	if code != 1 || !strings.Contains(stderr, "password") || !strings.Contains(stderr, redis.Address) || !strings.Contains(stderr, "httpd.hcl:4:1") {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and an error about the password of %s at httpd.hcl:4:1", code, stderr, redis.Address)
	}
}

// TestFleetACMEPebble: three httpd servers sharing Redis manage the same
// name with tls = "auto" from Pebble: one order for the fleet, the same
// certificate served by all, sessions resumed across them, and no failed
// request while Redis is killed and started again. A fourth server
// started while Redis is down serves the fleet's certificate once Redis
// is back. Pebble validates on 127.0.0.1 (server 0); the others listen on
// 127.0.0.2 and up with the same ports, as servers behind a load
// balancer.
func TestFleetACMEPebble(t *testing.T) {
	redis := redistest.Start(t, redistest.Options{TCP: true, Password: "fleet-secret", Persist: true})
	t.Setenv("FLEET_REDIS_PASSWORD", redis.Password)
	ports := pebbletest.FreePorts(t, 2)
	httpPort, httpsPort := ports[0], ports[1]
	pebble := pebbletest.Start(t, httpPort, httpsPort)
	defer func() {
		if t.Failed() {
			t.Logf("pebble log:\n%s", pebble.Log)
		}
	}()
	var addrs []string
	start := func(i int) *Server {
		ip := fmt.Sprintf("127.0.0.%d", i+1)
		h := NewHarness(t)
		h.Write("htdocs/index.html", fmt.Sprintf("server %d\n", i), 0o644)
		addrs = append(addrs, net.JoinHostPort(ip, fmt.Sprint(httpsPort)))
		return h.Start(fmt.Sprintf(`
server { data_dir = "var" }
log    { level = "debug" }
acme {
  email   = "admin@example.com"
  ca      = %q
  ca_root = %q
}
storage "redis" {
  address  = %q
  password = env("FLEET_REDIS_PASSWORD")
}
vhost "localhost" {
  listen        = ["http://%s:%d", "https://%s:%d"]
  document_root = "htdocs"
  tls           = "auto"
}
`, pebble.DirectoryURL, pebble.CARootFile, redis.Address, ip, httpPort, ip, httpsPort))
	}
	for i := range 3 {
		start(i)
	}

	cache := tls.NewLRUClientSessionCache(4)
	cfg := func() *tls.Config {
		return &tls.Config{ServerName: "localhost", RootCAs: pebble.IssuerRoots, ClientSessionCache: cache,
			NextProtos: []string{"http/1.1"}}
	}
	// Every server serves a verified certificate within the deadline.
	serial := func(i int) string {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addrs[i],
				&tls.Config{ServerName: "localhost", RootCAs: pebble.IssuerRoots})
			if err == nil {
				defer c.Close()
				return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
			}
			if time.Now().After(deadline) {
				t.Fatalf("server %d serves no valid certificate: %v", i, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	serials := []string{serial(0), serial(1), serial(2)}
	if serials[0] != serials[1] || serials[0] != serials[2] {
		t.Errorf("the servers serve different certificates: serials %q", serials)
	}
	orders := strings.Count(pebble.Log.String(), "Added order")
	if orders != 1 {
		t.Errorf("Pebble got %d orders for one name across the fleet, want 1", orders)
	}

	total, failed := 0, 0
	round := func(what string) {
		t.Helper()
		for i, addr := range addrs {
			total++
			resumed, body := tlsGetConn(t, addr, cfg())
			if body != fmt.Sprintf("server %d\n", i) {
				failed++
				t.Errorf("%s: server %d answered %q", what, i, body)
			}
			if total > 1 && !resumed {
				t.Errorf("%s: the session did not resume on server %d", what, i)
			}
		}
	}
	round("Redis up")
	redis.Kill()
	round("Redis down")
	late := start(3)
	late.WaitStderr("the shared storage does not answer", 10*time.Second)
	redis.Start()
	if s := serial(3); s != serials[0] {
		t.Errorf("the server started while Redis was down serves serial %s, the fleet %s", s, serials[0])
	}
	// The late server takes the fleet's session-ticket keys once Redis
	// answers: sessions from the others resume there.
	for deadline := time.Now().Add(20 * time.Second); ; {
		total++
		tlsGetConn(t, addrs[0], cfg())
		total++
		if resumed, _ := tlsGetConn(t, addrs[3], cfg()); resumed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server started while Redis was down does not resume the fleet's sessions")
		}
		time.Sleep(100 * time.Millisecond)
	}
	round("Redis back")
	if n := strings.Count(pebble.Log.String(), "Added order"); n != orders {
		t.Errorf("orders at Pebble went from %d to %d", orders, n)
	}
	t.Logf("orders at Pebble: %d; requests: %d, failed: %d", orders, total, failed)
}

// TestFleetShowStorage: httpd -S names the storage and says whether Redis
// answers.
func TestFleetShowStorage(t *testing.T) {
	redis := redistest.Start(t, redistest.Options{TCP: true, Password: "pw"})
	t.Setenv("FLEET_REDIS_PASSWORD", redis.Password)
	h := NewHarness(t)
	h.Write("htdocs/index.html", "x\n", 0o644)
	h.Write("httpd.hcl", fleetConfig(redis), 0o644)
	out, stderr, code := h.Run("-S", "-f", "httpd.hcl")
	want := "Storage: redis " + redis.Address + " prefix fleet-test"
	if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, "Storage health: answers") {
		t.Errorf("httpd -S: exit %d\n%s%s\nwant %q and that it answers", code, out, stderr, want)
	}
	redis.Kill()
	out, _, _ = h.Run("-S", "-f", "httpd.hcl")
	if !strings.Contains(out, "Storage health: DOES NOT ANSWER") || !strings.Contains(out, redis.Address) {
		t.Errorf("httpd -S with Redis down:\n%s", out)
	}
}
