package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"httpd/certs/pebbletest"
	"httpd/internal/testutil"
)

// serveChallenges serves like httpd does for a vhost with tls = "auto":
// HTTP-01 answers on a plain listener, certificates (and TLS-ALPN-01
// answers) on a TLS one that says "ok".
func serveChallenges(t *testing.T, a *ACME, httpPort, tlsPort int) {
	t.Helper()
	plainLn, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	tlsLn, err := tls.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", tlsPort), &tls.Config{
		GetCertificate: a.GetCertificate,
		NextProtos:     []string{"http/1.1", ALPNProto},
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
	secure := &http.Server{ErrorLog: quiet, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})}
	go plain.Serve(plainLn)
	go secure.Serve(tlsLn)
	t.Cleanup(func() {
		plain.Close()
		secure.Close()
	})
}

// storageDir is a folder for ACME storage. An issuance that was under way
// when its manager stopped may still release its lock file for a moment,
// so removal is retried rather than left to t.TempDir.
func storageDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "httpd-acme-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var err error
		for range 50 {
			if err = os.RemoveAll(dir); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("removing %s: %v", dir, err)
	})
	return dir
}

func testLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fetch dials the TLS port as name, verifying against roots, until it
// succeeds or the deadline passes; it returns the leaf served.
func fetch(t *testing.T, addr, name string, roots *x509.CertPool, deadline time.Time) *x509.Certificate {
	t.Helper()
	var lastErr error
	for time.Now().Before(deadline) {
		d := &net.Dialer{Timeout: 10 * time.Second}
		conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: name, RootCAs: roots, NextProtos: []string{"http/1.1"}})
		if err != nil {
			lastErr = err
			time.Sleep(100 * time.Millisecond)
			continue
		}
		leaf := conn.ConnectionState().PeerCertificates[0]
		conn.Close()
		return leaf
	}
	t.Fatalf("no valid certificate for %s at %s: %v", name, addr, lastErr)
	return nil
}

func TestACMEPebble(t *testing.T) {
	for _, challenge := range []string{"http-01", "tls-alpn-01"} {
		t.Run(challenge, func(t *testing.T) {
			ports := pebbletest.FreePorts(t, 2)
			pebble := pebbletest.Start(t, ports[0], ports[1])
			logs := &testutil.SyncBuffer{}
			defer func() {
				if t.Failed() {
					t.Logf("acme log:\n%s\npebble log:\n%s", logs, pebble.Log)
				}
			}()
			cfg := ACMEConfig{
				CA:          pebble.DirectoryURL,
				Email:       "admin@example.com",
				CARoot:      pebble.CARootFile,
				Storage:     storageDir(t),
				HTTPPort:    ports[0],
				TLSALPNPort: ports[1],
			}
			a, err := NewACME(cfg, testLogger(logs))
			if err != nil {
				t.Fatal(err)
			}
			// Leave only the challenge under test.
			a.issuer.DisableHTTPChallenge = challenge != "http-01"
			a.issuer.DisableTLSALPNChallenge = challenge != "tls-alpn-01"
			serveChallenges(t, a, ports[0], ports[1])

			start := time.Now()
			if err := a.Manage([]string{"localhost", "*.wild.localhost"}); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("Manage blocked for %v", took)
			}
			addr := fmt.Sprintf("127.0.0.1:%d", ports[1])
			leaf := fetch(t, addr, "localhost", pebble.IssuerRoots, time.Now().Add(90*time.Second))
			a.Stop()
			if !strings.Contains(logs.String(), "challenge="+challenge) {
				t.Errorf("no %s challenge was answered", challenge)
			}

			// A new manager on the same storage serves the stored
			// certificate at once, without asking the CA.
			b, err := NewACME(cfg, testLogger(logs))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Stop()
			b.wait = 0
			serve2 := func() {
				// The first server's listeners are gone with its test
				// cleanup only; serve b on fresh ports.
				p := pebbletest.FreePorts(t, 2)
				serveChallenges(t, b, p[0], p[1])
				addr = fmt.Sprintf("127.0.0.1:%d", p[1])
			}
			serve2()
			if err := b.Manage([]string{"localhost"}); err != nil {
				t.Fatal(err)
			}
			again := fetch(t, addr, "localhost", pebble.IssuerRoots, time.Now().Add(10*time.Second))
			if again.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
				t.Errorf("restart obtained a new certificate (serial %x, was %x)", again.SerialNumber, leaf.SerialNumber)
			}
		})
	}
}

func TestACMEFailureIsLoggedAndHandshakeFails(t *testing.T) {
	ports := pebbletest.FreePorts(t, 2)
	pebble := pebbletest.Start(t, ports[0], ports[1])
	pebble.Block(t, "blocked.localhost")
	logs := &testutil.SyncBuffer{}
	a, err := NewACME(ACMEConfig{
		CA: pebble.DirectoryURL, CARoot: pebble.CARootFile, Storage: storageDir(t),
		HTTPPort: ports[0], TLSALPNPort: ports[1],
	}, testLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	a.wait = 300 * time.Millisecond
	serveChallenges(t, a, ports[0], ports[1])
	if err := a.Manage([]string{"blocked.localhost"}); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	_, err = a.GetCertificate(hello(t, "blocked.localhost"))
	if err == nil || !strings.Contains(err.Error(), "no certificate for blocked.localhost yet") {
		t.Fatalf("err = %v, want no certificate yet", err)
	}
	if took := time.Since(start); took < a.wait || took > a.wait+2*time.Second {
		t.Errorf("handshake waited %v, want about %v", took, a.wait)
	}

	// The CA's reason reaches the log.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "forbidden by policy") {
		if time.Now().After(deadline) {
			t.Fatalf("log has no CA message:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("failure not logged as an error:\n%s", logs)
	}

	// A name nobody manages fails at once.
	start = time.Now()
	if _, err := a.GetCertificate(hello(t, "other.localhost")); err == nil {
		t.Error("unmanaged name got a certificate")
	}
	if took := time.Since(start); took > a.wait {
		t.Errorf("unmanaged name waited %v", took)
	}
}

// hello is a ClientHello for name on a connection certmagic can log.
func hello(t *testing.T, name string) *tls.ClientHelloInfo {
	c1, c2 := net.Pipe()
	t.Cleanup(func() {
		c1.Close()
		c2.Close()
	})
	return &tls.ClientHelloInfo{ServerName: name, Conn: c1}
}

func TestACMEManageRefcount(t *testing.T) {
	a, err := NewACME(ACMEConfig{CA: "https://127.0.0.1:1/dir", Storage: storageDir(t)}, testLogger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	a.wait = 0
	_ = a.Manage([]string{"a.localhost", "*.x.localhost", "[::1]"})
	_ = a.Manage([]string{"A.localhost."})
	for _, n := range []string{"a.localhost", "::1"} {
		if !a.Manages(n) {
			t.Errorf("%s not managed", n)
		}
	}
	if a.Manages("*.x.localhost") {
		t.Error("wildcard managed")
	}
	a.Unmanage([]string{"a.localhost", "*.x.localhost", "[::1]"})
	if !a.Manages("a.localhost") {
		t.Error("a.localhost dropped while still held")
	}
	if a.Manages("::1") {
		t.Error("::1 still managed")
	}
	a.Unmanage([]string{"a.localhost"})
	a.Unmanage([]string{"a.localhost"}) // unbalanced: ignored
	if a.Manages("a.localhost") {
		t.Error("a.localhost still managed")
	}
	a.Stop()
	if err := a.Manage([]string{"b.localhost"}); err == nil {
		t.Error("Manage after Stop succeeded")
	}
}

func TestNewACMEErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		cfg  ACMEConfig
		want string
	}{
		{"no CA", ACMEConfig{Storage: dir}, "no CA"},
		{"no storage", ACMEConfig{CA: "https://ca.test/dir"}, "no storage"},
		{"missing ca_root", ACMEConfig{CA: "https://ca.test/dir", Storage: dir, CARoot: dir + "/nope.pem"}, "ca_root"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewACME(tt.cfg, testLogger(io.Discard))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestHotUntil: a certificate is handed out from the hot map for hotTTL,
// but not once it is due for renewal (a third of its life left).
func TestHotUntil(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	leaf := func(from, to time.Time) *tls.Certificate {
		return &tls.Certificate{Leaf: &x509.Certificate{NotBefore: from, NotAfter: to}}
	}
	tests := []struct {
		name string
		cert *tls.Certificate
		want time.Time
	}{
		{"no leaf", &tls.Certificate{}, now.Add(hotTTL)},
		{"90 days, fresh", leaf(now, now.Add(90*24*time.Hour)), now.Add(hotTTL)},
		{"30 s, fresh", leaf(now, now.Add(30*time.Second)), now.Add(20 * time.Second)},
		{"90 s, window in 30 s", leaf(now.Add(-30*time.Second), now.Add(60*time.Second)), now.Add(30 * time.Second)},
		{"due", leaf(now.Add(-80*24*time.Hour), now.Add(10*24*time.Hour)), now.Add(-20 * 24 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Within a millisecond: the window is a float ratio of the life.
			if got := hotUntil(tt.cert, now); got.Sub(tt.want).Abs() > time.Millisecond {
				t.Errorf("hotUntil = %s, want %s", got, tt.want)
			}
		})
	}
}
