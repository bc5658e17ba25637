package certs

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"httpd/internal/testcert"
	"httpd/internal/testutil"
)

// TestACMEStaplesOCSP: the certificates of an ACME manager carry the
// OCSP response of their CA's responder, and GetCertificate hands it to
// the handshake, where the client receives it. Public ACME CAs no longer
// run OCSP responders (Let's Encrypt stopped in 2025) and Pebble has
// none, so the certificate here comes from a test CA whose responder runs
// in the test, and enters the manager's cache as an ACME one would.
func TestACMEStaplesOCSP(t *testing.T) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "OCSP test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)

	asked := make(chan struct{}, 10)
	responder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := ocsp.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp, err := ocsp.CreateResponse(ca, ca, ocsp.Response{
			Status: ocsp.Good, SerialNumber: req.SerialNumber,
			ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(24 * time.Hour),
		}, caKey)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		asked <- struct{}{}
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(resp)
	}))
	defer responder.Close()

	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "ocsp.test"}, DNSNames: []string{"ocsp.test"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		OCSPServer: []string{responder.URL},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}

	logs := &testutil.SyncBuffer{}
	a, err := NewACME(ACMEConfig{CA: "https://127.0.0.1:1/directory", Storage: t.TempDir()}, testLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	if _, err := a.magic.CacheUnmanagedTLSCertificate(context.Background(), tls.Certificate{
		Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey,
	}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-asked:
	default:
		t.Fatalf("the OCSP responder was not asked; log:\n%s", logs)
	}

	cert, err := a.GetCertificate(&tls.ClientHelloInfo{ServerName: "ocsp.test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.OCSPStaple) == 0 {
		t.Fatalf("no OCSP staple on the certificate; log:\n%s", logs)
	}

	// Through a handshake: the client gets the staple, and it is good.
	sc, cc := net.Pipe()
	defer sc.Close()
	defer cc.Close()
	go tls.Server(sc, &tls.Config{GetCertificate: a.GetCertificate}).Handshake()
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	client := tls.Client(cc, &tls.Config{ServerName: "ocsp.test", RootCAs: roots})
	if err := client.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	got := client.ConnectionState().OCSPResponse
	if !bytes.Equal(got, cert.OCSPStaple) {
		t.Fatalf("the client got %d bytes of OCSP response, want the %d-byte staple", len(got), len(cert.OCSPStaple))
	}
	resp, err := ocsp.ParseResponseForCert(got, client.ConnectionState().PeerCertificates[0], ca)
	if err != nil || resp.Status != ocsp.Good {
		t.Fatalf("stapled response: %v, status %d", err, resp.Status)
	}
}

// TestACMEGetCertificateHot: once certmagic has chosen a name's
// certificate, GetCertificate hands it out without allocating, until a
// certificate enters the cache or the name is unmanaged.
func TestACMEGetCertificateHot(t *testing.T) {
	a, err := NewACME(ACMEConfig{CA: "https://127.0.0.1:1/directory", Storage: t.TempDir()}, testLogger(&testutil.SyncBuffer{}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	c := testcert.New(t)
	if _, err := a.magic.CacheUnmanagedTLSCertificate(context.Background(), c.TLS, nil); err != nil {
		t.Fatal(err)
	}
	hello := &tls.ClientHelloInfo{ServerName: "localhost"}
	first, err := a.GetCertificate(hello)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if got, _ := a.GetCertificate(hello); got != first {
			t.Fatal("another certificate")
		}
	}); n != 0 {
		t.Errorf("%v allocations per GetCertificate", n)
	}
	if err := a.onEvent(context.Background(), "cached_managed_cert", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.hot.Load("localhost"); ok {
		t.Error("a certificate entering the cache left the chosen ones in place")
	}
	a.GetCertificate(hello)
	a.mu.Lock()
	a.names["localhost"] = 1 // as Manage would, without starting issuance
	a.mu.Unlock()
	a.Unmanage([]string{"localhost"})
	if _, ok := a.hot.Load("localhost"); ok {
		t.Error("Unmanage left the chosen certificate in place")
	}
}
