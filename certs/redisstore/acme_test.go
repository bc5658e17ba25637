package redisstore_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"httpd/certs"
	"httpd/certs/pebbletest"
	"httpd/certs/redisstore"
	"httpd/certs/redisstore/redistest"
	"httpd/internal/testutil"
)

// serveChallenges answers HTTP-01 and TLS-ALPN-01 challenges for a on
// 127.0.0.1, as httpd's listeners do.
func serveChallenges(t *testing.T, a *certs.ACME, httpPort, tlsPort int) {
	t.Helper()
	plainLn, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	tlsLn, err := tls.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", tlsPort), &tls.Config{
		GetCertificate: a.GetCertificate,
		NextProtos:     []string{"http/1.1", certs.ALPNProto},
	})
	if err != nil {
		plainLn.Close()
		t.Fatal(err)
	}
	quiet := log.New(io.Discard, "", 0)
	plain := &http.Server{ErrorLog: quiet, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.HandleHTTPChallenge(w, r) {
			http.NotFound(w, r)
		}
	})}
	secure := &http.Server{ErrorLog: quiet, Handler: http.NotFoundHandler()}
	go plain.Serve(plainLn)
	go secure.Serve(tlsLn)
	t.Cleanup(func() {
		plain.Close()
		secure.Close()
	})
}

// certificateOf asks a for name's certificate until it has one.
func certificateOf(t *testing.T, a *certs.ACME, name string, deadline time.Time) *tls.Certificate {
	t.Helper()
	var lastErr error
	for time.Now().Before(deadline) {
		c, err := a.GetCertificate(hello(t, name))
		if err == nil {
			return c
		}
		lastErr = err
	}
	t.Fatalf("no certificate for %s: %v", name, lastErr)
	return nil
}

// TestACMEFleetOrdersOnce: two ACME managers (two servers) sharing Redis
// manage the same name, the second while the first's order is under way;
// Pebble gets one order, both serve its certificate, and they keep
// serving it with Redis gone. Only server 0 answers challenges on the
// ports Pebble checks: when server 1 orders, server 0 answers from the
// shared storage.
func TestACMEFleetOrdersOnce(t *testing.T) {
	for first := range 2 {
		t.Run(fmt.Sprintf("server %d first", first), func(t *testing.T) { testACMEFleet(t, first) })
	}
}

// testACMEFleet has server first manage the name first; server 0 alone
// answers challenges on Pebble's ports.
func testACMEFleet(t *testing.T, first int) {
	redis := redistest.Start(t, redistest.Options{})
	ports := pebbletest.FreePorts(t, 2)
	pebble := pebbletest.Start(t, ports[0], ports[1])
	logs := &testutil.SyncBuffer{}
	defer func() {
		if t.Failed() {
			t.Logf("acme log:\n%s\npebble log:\n%s", logs, pebble.Log)
		}
	}()
	var fleet []*certs.ACME
	for i := range 2 {
		st, err := redisstore.New(redisstore.Options{Address: redis.Address, LockPoll: 50 * time.Millisecond},
			slog.New(slog.NewTextHandler(logs, nil)).With("server", i))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		a, err := certs.NewACME(certs.ACMEConfig{
			CA:          pebble.DirectoryURL,
			Email:       "admin@example.com",
			CARoot:      pebble.CARootFile,
			Shared:      st,
			HTTPPort:    ports[0],
			TLSALPNPort: ports[1],
		}, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("server", i))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Stop)
		fleet = append(fleet, a)
	}
	serveChallenges(t, fleet[0], ports[0], ports[1])

	// The first takes the issuance lock; the other then manages the
	// name at once, while the order is under way.
	if err := fleet[first].Manage([]string{"localhost"}); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(30 * time.Second); ; {
		if reply, _ := redis.Do("KEYS", "httpd:l:issue_cert_*"); reply != "*0" {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the first server took no issuance lock")
		}
	}
	if err := fleet[1-first].Manage([]string{"localhost"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	c0 := certificateOf(t, fleet[0], "localhost", deadline)
	c1 := certificateOf(t, fleet[1], "localhost", deadline)
	if c0.Leaf == nil || c1.Leaf == nil || c0.Leaf.SerialNumber.Cmp(c1.Leaf.SerialNumber) != 0 {
		t.Errorf("the two servers serve different certificates")
	}
	if _, err := c0.Leaf.Verify(verifyOptions(t, pebble, c0, "localhost")); err != nil {
		t.Errorf("the certificate does not verify against Pebble's root: %v", err)
	}
	obtaining := regexp.MustCompile(`msg="obtaining certificate" server=(\d)`).FindAllStringSubmatch(logs.String(), -1)
	if len(obtaining) != 1 || obtaining[0][1] != fmt.Sprint(first) {
		t.Errorf("obtaining: %q, want server %d alone", obtaining, first)
	}
	if n := strings.Count(pebble.Log.String(), "Added order"); n != 1 {
		t.Errorf("Pebble got %d orders for one name across the fleet, want 1", n)
	}
	t.Logf("orders at Pebble: %d", strings.Count(pebble.Log.String(), "Added order"))
	if reply, _ := redis.Do("KEYS", "httpd:f:certificates/*localhost.crt"); reply == "*0" {
		t.Error("no certificate in Redis")
	}

	// Redis gone: both keep serving the certificate they hold.
	redis.Kill()
	for i, a := range fleet {
		c, err := a.GetCertificate(hello(t, "localhost"))
		if err != nil || c.Leaf.SerialNumber.Cmp(c0.Leaf.SerialNumber) != 0 {
			t.Errorf("server %d with Redis down: %v", i, err)
		}
	}
}

// verifyOptions verify c's leaf for name against Pebble's root, with the
// intermediates c carries.
func verifyOptions(t *testing.T, p *pebbletest.Pebble, c *tls.Certificate, name string) x509.VerifyOptions {
	inter := x509.NewCertPool()
	for _, der := range c.Certificate[1:] {
		ic, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		inter.AddCert(ic)
	}
	return x509.VerifyOptions{DNSName: name, Roots: p.IssuerRoots, Intermediates: inter}
}

// hello is a ClientHello for name on a connection of its own, which
// certmagic logs.
func hello(t *testing.T, name string) *tls.ClientHelloInfo {
	c1, c2 := net.Pipe()
	t.Cleanup(func() { c1.Close(); c2.Close() })
	return &tls.ClientHelloInfo{ServerName: name, Conn: c1}
}
