package tests

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"httpd/certs"
	"httpd/certs/pebbletest"
	"httpd/certs/redisstore/redistest"
)

// fleetServe makes one HTTPS request to addr on a new connection that
// verifies the certificate against roots (its dates too), and returns
// the serial of the certificate served.
func fleetServe(addr string, roots *x509.CertPool) (serial string, err error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: "localhost", RootCAs: roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %s", resp.Status)
	}
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String(), err
}

// TestFleetRenewal: a certificate renewed by one server of a fleet is
// served by all of them without a restart, after one new order at the
// CA, and no request fails meanwhile. Pebble issues certificates valid
// for 30 seconds and the servers check for renewals every second
// (certs.TestRenewCheckEnv), so the renewal comes 20 seconds after the
// first issuance, when a third of the life is left.
func TestFleetRenewal(t *testing.T) {
	const validity = 30 * time.Second
	redis := redistest.Start(t, redistest.Options{TCP: true, Password: "fleet-secret"})
	t.Setenv("FLEET_REDIS_PASSWORD", redis.Password)
	t.Setenv(certs.TestRenewCheckEnv, "1s")
	ports := pebbletest.FreePorts(t, 2)
	httpPort, httpsPort := ports[0], ports[1]
	pebble := pebbletest.StartValidity(t, httpPort, httpsPort, validity)
	defer func() {
		if t.Failed() {
			t.Logf("pebble log:\n%s", pebble.Log)
		}
	}()
	var addrs []string
	var servers []*Server
	for i := range 3 {
		ip := fmt.Sprintf("127.0.0.%d", i+1)
		h := NewHarness(t)
		h.Write("htdocs/index.html", fmt.Sprintf("server %d\n", i), 0o644)
		addrs = append(addrs, net.JoinHostPort(ip, fmt.Sprint(httpsPort)))
		servers = append(servers, h.Start(fmt.Sprintf(`
server { data_dir = "var" }
log    { level = "debug" }
acme {
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
`, pebble.DirectoryURL, pebble.CARootFile, redis.Address, ip, httpPort, ip, httpsPort)))
	}
	orders := func() int { return strings.Count(pebble.Log.String(), "Added order") }

	// The first certificate, served by all.
	first := ""
	for i, addr := range addrs {
		deadline := time.Now().Add(60 * time.Second)
		for {
			serial, err := fleetServe(addr, pebble.IssuerRoots)
			if err == nil {
				if first == "" {
					first = serial
				} else if serial != first {
					t.Fatalf("server %d serves serial %s, server 0 %s", i, serial, first)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("server %d serves no valid certificate: %v", i, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if n := orders(); n != 1 {
		t.Fatalf("Pebble got %d orders for the first certificate, want 1", n)
	}

	// Requests go on, to each server in turn, until every server serves
	// the renewed certificate: a certificate lives 30 s, so within 60 s.
	total, failed := 0, 0
	serials := make([]string, len(addrs))
	deadline := time.Now().Add(2 * validity)
	for renewed := false; !renewed; {
		if time.Now().After(deadline) {
			t.Fatalf("the fleet does not serve one renewed certificate within %s: serials %q (first %s), %d orders", 2*validity, serials, first, orders())
		}
		renewed = true
		for i, addr := range addrs {
			total++
			serial, err := fleetServe(addr, pebble.IssuerRoots)
			if err != nil {
				failed++
				t.Errorf("server %d during the renewal: %v", i, err)
				continue
			}
			serials[i] = serial
			renewed = renewed && serial != first && serial == serials[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	n := orders()
	t.Logf("renewal: orders at Pebble: %d (1 first, %d renewal); requests during the renewal: %d, failed: %d", n, n-1, total, failed)
	if n != 2 {
		t.Errorf("Pebble got %d orders, want 2: one for the first certificate, one renewal for the fleet", n)
	}
	// One server renewed; the others loaded its renewal from Redis.
	renewers := 0
	for _, s := range servers {
		if strings.Contains(s.Stderr(), `msg="renewing certificate"`) {
			renewers++
		}
	}
	if renewers != 1 {
		t.Errorf("%d servers renewed the certificate, want 1 (the others load the renewal from Redis)", renewers)
	}
}
