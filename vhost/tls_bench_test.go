package vhost

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	"httpd/conf"
	"httpd/internal/testcert"
)

// benchTLS starts a server with one TLS vhost for localhost whose
// certificate comes from tlsLine, and returns its listener's tls.Config
// and a client config trusting it.
func benchTLS(tb testing.TB, tlsLine string) (srv, client *tls.Config) {
	tb.Helper()
	dir := tb.TempDir()
	c := testcert.New(tb)
	for name, data := range map[string][]byte{"site.crt": c.CertPEM, "site.key": c.KeyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	src := `
log { access = "off" }
vhost "localhost" {
  listen = ["https://127.0.0.1:0"]
  ` + tlsLine + `
}
`
	cfg, diags := conf.Parse([]byte(src), filepath.Join(dir, "bench.hcl"), dir)
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := s.Start(context.Background(), cfg, nil); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Shutdown(context.Background()) })
	s.mu.Lock()
	l := s.listeners["127.0.0.1:0"]
	s.mu.Unlock()
	return l.tlsConfig(), &tls.Config{ServerName: "localhost", RootCAs: c.Pool, InsecureSkipVerify: tlsLine == `tls = "internal"`}
}

// handshake runs one handshake over an in-memory pipe.
func benchHandshake(tb testing.TB, srv, client *tls.Config) tls.ConnectionState {
	sc, cc := net.Pipe()
	done := make(chan error, 1)
	go func() {
		s := tls.Server(sc, srv)
		err := s.Handshake()
		if err == nil {
			// TLS 1.3 sends its tickets after the handshake: let the
			// client read them.
			_, err = s.Write([]byte{0})
		}
		sc.Close()
		done <- err
	}()
	c := tls.Client(cc, client)
	err := c.Handshake()
	if err == nil {
		_, err = c.Read(make([]byte, 1))
	}
	cc.Close()
	if err != nil {
		tb.Fatal(err)
	}
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
	return c.ConnectionState()
}

// BenchmarkHandshake measures a whole TLS handshake, client and server in
// one process over net.Pipe, through a listener's tls.Config and
// getCertificate, with an ECDSA P-256 certificate. ns/op and allocs/op
// count both sides; the server's share is in a CPU profile, under
// crypto/tls.(*Conn).serverHandshake. Each case names the client's
// offer: default-client is what browsers and Go offer (X25519MLKEM768
// and X25519 key shares). The internal case does not verify the chain on
// the client side.
func BenchmarkHandshake(b *testing.B) {
	files := `tls {
    cert = "site.crt"
    key  = "site.key"
  }`
	for _, bc := range []struct {
		name    string
		tls     string
		version uint16
		curves  []tls.CurveID
		resume  bool
	}{
		{"files/tls13/default-client", files, tls.VersionTLS13, nil, false},
		{"files/tls13/X25519MLKEM768-only", files, tls.VersionTLS13, []tls.CurveID{tls.X25519MLKEM768}, false},
		{"files/tls13/X25519", files, tls.VersionTLS13, []tls.CurveID{tls.X25519}, false},
		{"files/tls13/P256", files, tls.VersionTLS13, []tls.CurveID{tls.CurveP256}, false},
		{"files/tls12/X25519", files, tls.VersionTLS12, []tls.CurveID{tls.X25519}, false},
		{"files/tls13/resumed", files, tls.VersionTLS13, []tls.CurveID{tls.X25519}, true},
		{"files/tls12/resumed", files, tls.VersionTLS12, []tls.CurveID{tls.X25519}, true},
		{"internal/tls13/X25519", `tls = "internal"`, tls.VersionTLS13, []tls.CurveID{tls.X25519}, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv, client := benchTLS(b, bc.tls)
			client.MinVersion, client.MaxVersion = bc.version, bc.version
			client.CurvePreferences = bc.curves
			if bc.resume {
				client.ClientSessionCache = tls.NewLRUClientSessionCache(1)
				benchHandshake(b, srv, client)
			}
			b.ReportAllocs()
			for b.Loop() {
				st := benchHandshake(b, srv, client)
				if st.DidResume != bc.resume {
					b.Fatalf("DidResume = %v", st.DidResume)
				}
			}
		})
	}
}

// TestGetCertificateAllocs: picking the certificate by SNI allocates
// nothing per handshake, for files and for the local CA.
func TestGetCertificateAllocs(t *testing.T) {
	for _, tc := range []struct{ name, tls string }{
		{"files", `tls {
    cert = "site.crt"
    key  = "site.key"
  }`},
		{"internal", `tls = "internal"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := benchTLS(t, tc.tls)
			for _, sni := range []string{"localhost", "LocalHost.", ""} {
				hello := &tls.ClientHelloInfo{ServerName: sni}
				c, err := srv.GetCertificate(hello)
				if err != nil || c == nil {
					t.Fatalf("SNI %q: %v", sni, err)
				}
				if sni != "localhost" {
					continue // a name to normalize costs a copy; browsers send it normal
				}
				if n := testing.AllocsPerRun(100, func() { srv.GetCertificate(hello) }); n != 0 {
					t.Errorf("SNI %q: %v allocations per GetCertificate", sni, n)
				}
			}
		})
	}
}
