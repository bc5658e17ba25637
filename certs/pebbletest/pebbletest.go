// Package pebbletest runs Pebble, Let's Encrypt's ACME test server,
// inside a test process, on loopback only, for tests of ACME issuance
// that must not touch the internet.
package pebbletest

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"

	"httpd/internal/testport"
	"httpd/internal/testutil"
)

// Pebble is a running ACME server.
type Pebble struct {
	// DirectoryURL is the ACME directory, served over HTTPS on 127.0.0.1.
	DirectoryURL string
	// CARootFile is a PEM file with the certificate of the directory's
	// own HTTPS endpoint: what an ACME client must trust to talk to it
	// (acme.ca_root).
	CARootFile string
	// IssuerRoots holds the root that signs the certificates Pebble
	// issues, fetched from the management endpoint /roots/0.
	IssuerRoots *x509.CertPool
	// Log is everything Pebble logged so far.
	Log *testutil.SyncBuffer

	store *db.MemoryStore
}

// Block makes Pebble refuse orders for domain and its subdomains.
func (p *Pebble) Block(t testing.TB, domain string) {
	t.Helper()
	if err := p.store.AddBlockedDomain(domain); err != nil {
		t.Fatal(err)
	}
}

// Start runs Pebble until the test ends. Its validation authority checks
// HTTP-01 challenges on httpPort and TLS-ALPN-01 challenges on tlsPort
// of the name being validated, resolved with the system resolver (so
// "localhost" needs no DNS server). It sets Pebble's environment for fast,
// deterministic tests: no validation sleeps, no spurious bad nonces, no
// authorization reuse; so it cannot be used by parallel tests.
func Start(t testing.TB, httpPort, tlsPort int) *Pebble {
	t.Helper()
	return StartValidity(t, httpPort, tlsPort, 0)
}

// StartValidity is Start with the certificates Pebble issues valid for
// validity (whole seconds; 0 for Pebble's default of 90 days), so that a
// test can see them renewed.
func StartValidity(t testing.TB, httpPort, tlsPort int, validity time.Duration) *Pebble {
	t.Helper()
	// t.Setenv is only for *testing.T and *testing.B; set and restore by hand.
	for k, v := range map[string]string{
		"PEBBLE_VA_NOSLEEP":      "1",
		"PEBBLE_WFE_NONCEREJECT": "0",
		"PEBBLE_AUTHZREUSE":      "0",
	} {
		old, had := os.LookupEnv(k)
		os.Setenv(k, v)
		t.Cleanup(func() {
			if had {
				os.Setenv(k, old)
			} else {
				os.Unsetenv(k)
			}
		})
	}
	store := db.NewMemoryStore()
	p := &Pebble{Log: &testutil.SyncBuffer{}, store: store}
	logger := log.New(p.Log, "pebble ", log.Lmicroseconds)
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{
		"default": {Description: "default profile", ValidityPeriod: uint64(validity / time.Second)},
	})
	validator := va.New(logger, httpPort, tlsPort, false, "", store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)

	acmeSrv := httptest.NewUnstartedServer(front.Handler())
	acmeSrv.Config.ErrorLog = log.New(p.Log, "pebble http ", log.Lmicroseconds)
	acmeSrv.StartTLS()
	t.Cleanup(acmeSrv.Close)
	mgmt := httptest.NewUnstartedServer(front.ManagementHandler())
	mgmt.Config.ErrorLog = acmeSrv.Config.ErrorLog
	mgmt.StartTLS()
	t.Cleanup(mgmt.Close)

	p.DirectoryURL = acmeSrv.URL + wfe.DirectoryPath
	p.CARootFile = filepath.Join(t.TempDir(), "pebble-https-ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: acmeSrv.Certificate().Raw})
	if err := os.WriteFile(p.CARootFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}

	client := mgmt.Client()
	client.Timeout = 10 * time.Second
	resp, err := client.Get(mgmt.URL + wfe.RootCertPath + "0")
	if err != nil {
		t.Fatalf("pebble: fetching the issuing root: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("pebble: fetching the issuing root: %s %v", resp.Status, err)
	}
	p.IssuerRoots = x509.NewCertPool()
	if !p.IssuerRoots.AppendCertsFromPEM(body) {
		t.Fatalf("pebble: no PEM certificate at %s0:\n%s", wfe.RootCertPath, body)
	}
	return p
}

// FreePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago. Another process may take one before the caller binds it,
// which is unlikely on a test machine.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	return testport.Free(t, n)
}
