package tests

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"httpd/certs/pebbletest"
)

// tlsGet fetches url with c and returns the response and its body.
func tlsGet(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp, string(body)
}

// tlsClient trusts only roots and follows redirects unless noFollow.
func tlsClient(roots *x509.CertPool, noFollow bool) *http.Client {
	c := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots},
			ForceAttemptHTTP2: true,
		},
	}
	if noFollow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

// tlsWaitHTTPS polls url until a client trusting roots gets a response,
// which needs a certificate issued and valid for the URL's host.
func tlsWaitHTTPS(t *testing.T, roots *x509.CertPool, url string, timeout time.Duration) {
	t.Helper()
	c := tlsClient(roots, true)
	c.Timeout = 10 * time.Second
	deadline := time.Now().Add(timeout)
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer over verified HTTPS within %v: %v", url, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTLSAutoPebble issues a certificate for a vhost with tls = "auto"
// from Pebble running in this process on loopback, through the real
// binary: Pebble validates on httpd's own plain and TLS ports.
func TestTLSAutoPebble(t *testing.T) {
	ports := pebbletest.FreePorts(t, 2)
	httpPort, httpsPort := ports[0], ports[1]
	pebble := pebbletest.Start(t, httpPort, httpsPort)
	h := NewHarness(t)
	h.Write("htdocs/index.html", "<h1>secure</h1>\n", 0o644)
	config := fmt.Sprintf(`
server { data_dir = "var" }
log    { level = "debug" }

acme {
  email   = "admin@example.com"
  ca      = %q
  ca_root = %q
}

vhost "localhost" {
  listen        = ["http://127.0.0.1:%d", "https://127.0.0.1:%d"]
  document_root = "htdocs"
  tls           = "auto"
}
`, pebble.DirectoryURL, pebble.CARootFile, httpPort, httpsPort)
	srv := h.Start(config)
	defer func() {
		if t.Failed() {
			t.Logf("pebble log:\n%s", pebble.Log)
		}
	}()

	secure := fmt.Sprintf("https://localhost:%d/", httpsPort)
	tlsWaitHTTPS(t, pebble.IssuerRoots, secure, 60*time.Second)
	if err := startedBeforeIssued(srv.Stderr()); err != nil {
		t.Error(err)
	}

	// The page, over HTTPS verified against Pebble's issuing root.
	resp, body := tlsGet(t, tlsClient(pebble.IssuerRoots, false), secure)
	if resp.StatusCode != http.StatusOK || body != "<h1>secure</h1>\n" {
		t.Errorf("GET %s: %d %q", secure, resp.StatusCode, body)
	}
	if resp.Proto != "HTTP/2.0" {
		t.Errorf("proto %s, want HTTP/2.0", resp.Proto)
	}
	if got := resp.TLS.PeerCertificates[0].DNSNames; len(got) != 1 || got[0] != "localhost" {
		t.Errorf("certificate names %v", got)
	}
	serial := resp.TLS.PeerCertificates[0].SerialNumber

	// Plain HTTP redirects with 308 to the same path over HTTPS, and
	// following it lands on the page.
	plain := fmt.Sprintf("http://localhost:%d/index.html?x=1", httpPort)
	resp, _ = tlsGet(t, tlsClient(pebble.IssuerRoots, true), plain)
	want := fmt.Sprintf("https://localhost:%d/index.html?x=1", httpsPort)
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Errorf("GET %s: %d Location %q, want 308 %s", plain, resp.StatusCode, resp.Header.Get("Location"), want)
	}
	resp, body = tlsGet(t, tlsClient(pebble.IssuerRoots, false), plain)
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || body != "<h1>secure</h1>\n" {
		t.Errorf("following the redirect: %d %q", resp.StatusCode, body)
	}

	// SIGHUP keeps the certificate.
	issued := strings.Count(pebble.Log.String(), "Issued certificate")
	srv.Signal(syscall.SIGHUP)
	srv.WaitStderr("config reloaded", 10*time.Second)
	resp, _ = tlsGet(t, tlsClient(pebble.IssuerRoots, false), secure)
	if resp.TLS.PeerCertificates[0].SerialNumber.Cmp(serial) != 0 {
		t.Error("SIGHUP changed the certificate")
	}

	// A restart on the same data_dir serves the stored certificate.
	srv.Stop()
	srv = h.Start(config)
	resp, _ = tlsGet(t, tlsClient(pebble.IssuerRoots, false), secure)
	if resp.TLS.PeerCertificates[0].SerialNumber.Cmp(serial) != 0 {
		t.Error("restart changed the certificate")
	}
	if n := strings.Count(pebble.Log.String(), "Issued certificate"); n != issued {
		t.Errorf("Pebble issued %d more certificates after the first", n-issued)
	}
	srv.Stop()
	if _, err := os.Stat(filepath.Join(h.Dir, "var", "certmagic")); err != nil {
		t.Errorf("certificates not stored under data_dir: %v", err)
	}
}

// startedBeforeIssued checks in httpd's log that it served before the
// certificate was obtained: startup does not wait for ACME.
func startedBeforeIssued(log string) error {
	started := strings.Index(log, `msg="httpd started"`)
	obtained := strings.Index(log, "certificate obtained successfully")
	switch {
	case started < 0 || obtained < 0:
		return fmt.Errorf("log lacks start (%d) or issuance (%d):\n%s", started, obtained, log)
	case obtained < started:
		return fmt.Errorf("httpd started only after the certificate was obtained:\n%s", log)
	}
	return nil
}

// TestTLSInternal serves a vhost with tls = "internal" and checks that
// httpd says how to trust its local CA, and that trusting it works.
func TestTLSInternal(t *testing.T) {
	ports := pebbletest.FreePorts(t, 2)
	h := NewHarness(t)
	h.Write("htdocs/index.html", "internal\n", 0o644)
	srv := h.Start(fmt.Sprintf(`
server { data_dir = "var" }
vhost "localhost" {
  listen        = ["http://127.0.0.1:%d", "https://127.0.0.1:%d"]
  document_root = "htdocs"
  tls           = "internal"
}
`, ports[0], ports[1]))
	root := filepath.Join(h.Dir, "var", "pki", "root.crt")
	if !strings.Contains(srv.Stderr(), root) || !strings.Contains(srv.Stderr(), "update-ca-certificates") {
		t.Errorf("stderr does not say how to trust %s:\n%s", root, srv.Stderr())
	}
	pemBytes, err := os.ReadFile(root)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("%s holds no certificate", root)
	}
	for _, host := range []string{"localhost", "127.0.0.1"} {
		url := fmt.Sprintf("http://%s:%d/", host, ports[0])
		resp, body := tlsGet(t, tlsClient(roots, false), url)
		if resp.StatusCode != http.StatusOK || resp.TLS == nil || body != "internal\n" {
			t.Errorf("GET %s: %d %q", url, resp.StatusCode, body)
		}
	}
	srv.Stop()
}
