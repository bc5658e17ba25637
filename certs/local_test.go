package certs

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLocalCACreateAndReuse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	ca, created, err := OpenLocalCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("first open: created = false")
	}
	root := ca.Root()
	if !root.IsCA || root.Subject.CommonName == "" {
		t.Errorf("root: IsCA %v, CN %q", root.IsCA, root.Subject.CommonName)
	}
	if got := root.NotAfter.Sub(root.NotBefore); got < RootLifetime {
		t.Errorf("root lifetime %v, want at least %v", got, RootLifetime)
	}
	st, err := os.Stat(filepath.Join(dir, RootKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("root key mode %v, want 0600", st.Mode().Perm())
	}
	if ca.RootFile() != filepath.Join(dir, RootCertFile) {
		t.Errorf("RootFile = %s", ca.RootFile())
	}
	if !strings.Contains(ca.TrustHint(), ca.RootFile()) || !strings.Contains(ca.TrustHint(), "update-ca-certificates") {
		t.Errorf("TrustHint = %q", ca.TrustHint())
	}

	again, created, err := OpenLocalCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("second open: created = true")
	}
	if !bytes.Equal(again.Root().Raw, root.Raw) {
		t.Error("second open made a new root")
	}
	// A leaf of the reopened CA verifies against the first root.
	leaf, err := again.Certificate([]string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	verify(t, leaf, root, "localhost")
}

func TestLocalCAHalfMissing(t *testing.T) {
	for _, missing := range []string{RootCertFile, RootKeyFile} {
		t.Run(missing, func(t *testing.T) {
			dir := t.TempDir()
			if _, _, err := OpenLocalCA(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(dir, missing)); err != nil {
				t.Fatal(err)
			}
			other := RootKeyFile
			if missing == RootKeyFile {
				other = RootCertFile
			}
			before, _ := os.ReadFile(filepath.Join(dir, other))
			_, _, err := OpenLocalCA(dir)
			if err == nil || !strings.Contains(err.Error(), "local ca:") {
				t.Fatalf("err = %v, want a local ca error", err)
			}
			after, _ := os.ReadFile(filepath.Join(dir, other))
			if !bytes.Equal(before, after) {
				t.Errorf("%s was changed", other)
			}
		})
	}
}

func TestLocalCAMismatchedKey(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		if _, _, err := OpenLocalCA(d); err != nil {
			t.Fatal(err)
		}
	}
	key, _ := os.ReadFile(filepath.Join(b, RootKeyFile))
	if err := os.WriteFile(filepath.Join(a, RootKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenLocalCA(a); err == nil || !strings.Contains(err.Error(), "does not hold the key") {
		t.Fatalf("err = %v, want a key mismatch", err)
	}
}

func TestLocalCACertificate(t *testing.T) {
	ca, _, err := OpenLocalCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		names  []string
		verify []string // host names or IPs the leaf must be valid for
		reject []string // and must not be
	}{
		{"localhost", []string{"localhost"}, []string{"localhost", "127.0.0.1", "::1"}, []string{"example.test"}},
		{"private name and alias", []string{"intranet.lan", "wiki.lan"}, []string{"intranet.lan", "wiki.lan"}, []string{"lan", "x.intranet.lan"}},
		{"wildcard alias", []string{"dev.test", "*.dev.test"}, []string{"dev.test", "a.dev.test"}, []string{"a.b.dev.test"}},
		{"IPv4", []string{"192.168.1.10"}, []string{"192.168.1.10"}, []string{"192.168.1.11"}},
		{"IPv6 in brackets", []string{"[fd00::1]"}, []string{"fd00::1"}, []string{"fd00::2"}},
		{"case and trailing dot", []string{"Mixed.Test."}, []string{"mixed.test"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ca.Certificate(tt.names)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range tt.verify {
				verify(t, c, ca.Root(), n)
			}
			for _, n := range tt.reject {
				if err := verifyErr(c, ca.Root(), n); err == nil {
					t.Errorf("leaf for %v is valid for %s", tt.names, n)
				}
			}
			if got := c.Leaf.NotAfter.Sub(c.Leaf.NotBefore); got > LeafLifetime+time.Hour {
				t.Errorf("leaf lifetime %v, want about %v", got, LeafLifetime)
			}
			if len(c.Leaf.ExtKeyUsage) != 1 || c.Leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
				t.Errorf("ExtKeyUsage = %v", c.Leaf.ExtKeyUsage)
			}
		})
	}
	if _, err := ca.Certificate(nil); err == nil {
		t.Error("Certificate(nil) succeeded")
	}
}

func TestLocalCALeafCacheAndRenewal(t *testing.T) {
	ca, _, err := OpenLocalCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ca.now = func() time.Time { return start }
	c1, err := ca.Certificate([]string{"a.test", "b.test"})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := ca.Certificate([]string{"b.test", "a.test"}) // order does not matter
	if err != nil {
		t.Fatal(err)
	}
	if c1 != c2 {
		t.Error("same names issued a second certificate")
	}
	ca.now = func() time.Time { return start.Add(LeafLifetime / 2) }
	if c3, _ := ca.Certificate([]string{"a.test", "b.test"}); c3 != c1 {
		t.Error("renewed with half the lifetime left")
	}
	ca.now = func() time.Time { return start.Add(LeafLifetime * 3 / 4) }
	c4, err := ca.Certificate([]string{"a.test", "b.test"})
	if err != nil {
		t.Fatal(err)
	}
	if c4 == c1 || !c4.Leaf.NotAfter.After(c1.Leaf.NotAfter) {
		t.Error("not renewed with a quarter of the lifetime left")
	}
}

// TestLocalCACertificateFunc: the function hands out the leaf
// Certificate issues, without allocating, until it is due for renewal.
func TestLocalCACertificateFunc(t *testing.T) {
	ca, _, err := OpenLocalCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ca.now = func() time.Time { return start }
	get := ca.CertificateFunc([]string{"a.test", "b.test"})
	c1, err := get()
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := ca.Certificate([]string{"b.test", "a.test"}); c != c1 {
		t.Error("CertificateFunc and Certificate issued different leaves")
	}
	if n := testing.AllocsPerRun(100, func() { get() }); n != 0 {
		t.Errorf("%v allocations per call", n)
	}
	ca.now = func() time.Time { return start.Add(LeafLifetime * 3 / 4) }
	c2, err := get()
	if err != nil {
		t.Fatal(err)
	}
	if c2 == c1 || !c2.Leaf.NotAfter.After(c1.Leaf.NotAfter) {
		t.Error("not renewed with a quarter of the lifetime left")
	}
	if c3, _ := get(); c3 != c2 {
		t.Error("the renewed leaf is not kept")
	}
}

// TestLocalCAHandshake serves a leaf over TLS and checks that a client
// trusting only the root accepts it.
func TestLocalCAHandshake(t *testing.T) {
	ca, _, err := OpenLocalCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return ca.Certificate([]string{"localhost"})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	pool := x509.NewCertPool()
	pool.AddCert(ca.Root())
	for _, sni := range []string{"localhost", "127.0.0.1"} {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), &tls.Config{ServerName: sni, RootCAs: pool})
		if err != nil {
			t.Errorf("handshake as %s: %v", sni, err)
			continue
		}
		conn.Close()
	}
}

func verifyErr(c *tls.Certificate, root *x509.Certificate, name string) error {
	pool := x509.NewCertPool()
	pool.AddCert(root)
	_, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pool})
	return err
}

func verify(t *testing.T, c *tls.Certificate, root *x509.Certificate, name string) {
	t.Helper()
	if err := verifyErr(c, root, name); err != nil {
		t.Errorf("leaf not valid for %s: %v", name, err)
	}
}
