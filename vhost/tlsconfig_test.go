package vhost_test

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// TestTLSHandshakeParameters: versions, TLS 1.2 suites, key exchanges
// and ALPN a TLS listener agrees to.
func TestTLSHandshakeParameters(t *testing.T) {
	ts := newTLSServer(t)
	ts.writeCert("a", "a.test")
	ts.start(ticketsConfig)
	addr := ts.addr("127.0.0.1:0")
	for _, tc := range []struct {
		name   string
		client *tls.Config
		fail   bool
		check  func(t *testing.T, st tls.ConnectionState)
	}{
		{name: "default client gets TLS 1.3, the hybrid and h2",
			client: &tls.Config{NextProtos: []string{"h2", "http/1.1"}},
			check: func(t *testing.T, st tls.ConnectionState) {
				if st.Version != tls.VersionTLS13 || st.CurveID != tls.X25519MLKEM768 || st.NegotiatedProtocol != "h2" || st.HelloRetryRequest {
					t.Errorf("version %x, curve %s, ALPN %q, HRR %v", st.Version, st.CurveID, st.NegotiatedProtocol, st.HelloRetryRequest)
				}
			}},
		{name: "a client with only the hybrid gets it",
			client: &tls.Config{CurvePreferences: []tls.CurveID{tls.X25519MLKEM768}},
			check: func(t *testing.T, st tls.ConnectionState) {
				if st.CurveID != tls.X25519MLKEM768 || st.HelloRetryRequest {
					t.Errorf("curve %s, HRR %v", st.CurveID, st.HelloRetryRequest)
				}
			}},
		{name: "a client with X25519 and P-256 gets X25519",
			client: &tls.Config{CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256}},
			check: func(t *testing.T, st tls.ConnectionState) {
				if st.CurveID != tls.X25519 {
					t.Errorf("curve %s", st.CurveID)
				}
			}},
		{name: "a client with only P-256 gets it",
			client: &tls.Config{CurvePreferences: []tls.CurveID{tls.CurveP256}},
			check: func(t *testing.T, st tls.ConnectionState) {
				if st.CurveID != tls.CurveP256 {
					t.Errorf("curve %s", st.CurveID)
				}
			}},
		{name: "http/1.1 by ALPN",
			client: &tls.Config{NextProtos: []string{"http/1.1"}},
			check: func(t *testing.T, st tls.ConnectionState) {
				if st.NegotiatedProtocol != "http/1.1" {
					t.Errorf("ALPN %q", st.NegotiatedProtocol)
				}
			}},
		{name: "TLS 1.2 with an AEAD suite",
			client: &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}},
			check: func(t *testing.T, st tls.ConnectionState) {
				if st.Version != tls.VersionTLS12 || st.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 {
					t.Errorf("version %x, suite %s", st.Version, tls.CipherSuiteName(st.CipherSuite))
				}
			}},
		{name: "TLS 1.2 with only CBC suites fails",
			client: &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}},
			fail:   true},
		{name: "TLS 1.1 fails",
			client: &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11},
			fail:   true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.client.Clone()
			cfg.ServerName, cfg.RootCAs = "a.test", ts.roots
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
			if tc.fail {
				if err == nil {
					conn.Close()
					t.Fatal("handshake succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			tc.check(t, conn.ConnectionState())
		})
	}
}

// TestTLSPostQuantumOff: with server.tls.post_quantum = false a client
// that offers the hybrid gets X25519 instead, and one that offers only
// the hybrid cannot connect.
func TestTLSPostQuantumOff(t *testing.T) {
	ts := newTLSServer(t)
	ts.writeCert("a", "a.test")
	ts.start(strings.Replace(ticketsConfig, "vhost", `server {
  tls { post_quantum = false }
}
vhost`, 1))
	addr := ts.addr("127.0.0.1:0")
	dial := func(curves []tls.CurveID) (tls.ConnectionState, error) {
		cfg := &tls.Config{ServerName: "a.test", RootCAs: ts.roots, CurvePreferences: curves}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
		if err != nil {
			return tls.ConnectionState{}, err
		}
		defer conn.Close()
		return conn.ConnectionState(), nil
	}
	st, err := dial(nil) // Go's default: the hybrid first, X25519 too
	if err != nil {
		t.Fatal(err)
	}
	if st.CurveID != tls.X25519 {
		t.Errorf("default client got %s, want X25519", st.CurveID)
	}
	if _, err := dial([]tls.CurveID{tls.X25519MLKEM768}); err == nil {
		t.Error("a client with only the hybrid connected")
	}
}
