package vhost_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"httpd/certs"
	"httpd/certs/pebbletest"
	"httpd/conf"
	"httpd/internal/testutil"
	"httpd/registry"
	"httpd/vhost"
)

// tlsEcho answers every request with the vhost that served it and how:
//
//	tls_echo {}
type tlsEcho struct{ vhost string }

func init() {
	registry.Register(registry.Info{
		Name:  "tls_echo",
		Phase: registry.PhaseAccess,
		Doc:   "answer with the vhost name, protocol and TLS state (tests)",
		New:   func() registry.Module { return new(tlsEcho) },
	})
}

func (e *tlsEcho) Decode(b *hcl.Block, _ *registry.DecodeContext) hcl.Diagnostics {
	_, diags := b.Body.Content(&hcl.BodySchema{})
	return diags
}

func (e *tlsEcho) Provision(_ context.Context, env *registry.Env) error {
	e.vhost = env.VHost
	return nil
}

func (e *tlsEcho) Wrap(registry.Handler) registry.Handler {
	return registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		_, err := fmt.Fprintf(w, "vhost=%s proto=%s tls=%v", e.vhost, r.Proto, r.TLS != nil)
		return err
	})
}

// tlsServer is a vhost.Server under test with the files it uses.
type tlsServer struct {
	t     *testing.T
	srv   *vhost.Server
	dir   string
	log   *testutil.SyncBuffer
	roots *x509.CertPool // trusts fileCA and the server's local CA
	// fileCA issued the certificates written by writeCert.
	fileCA  *certs.LocalCA
	stopped bool
}

func newTLSServer(t *testing.T) *tlsServer {
	t.Helper()
	ts := &tlsServer{t: t, dir: t.TempDir(), log: &testutil.SyncBuffer{}, roots: x509.NewCertPool()}
	ca, _, err := certs.OpenLocalCA(filepath.Join(t.TempDir(), "file-ca"))
	if err != nil {
		t.Fatal(err)
	}
	ts.fileCA = ca
	ts.roots.AddCert(ca.Root())
	ts.srv = vhost.New(slog.New(slog.NewTextHandler(ts.log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", ts.log)
		}
	})
	return ts
}

// writeCert writes a certificate for names and its key as base.crt and
// base.key in the server root.
func (ts *tlsServer) writeCert(base string, names ...string) {
	ts.t.Helper()
	c, err := ts.fileCA.Certificate(names)
	if err != nil {
		ts.t.Fatal(err)
	}
	key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		ts.t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})
	if err := os.WriteFile(filepath.Join(ts.dir, base+".crt"), certPEM, 0o644); err != nil {
		ts.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ts.dir, base+".key"), keyPEM, 0o600); err != nil {
		ts.t.Fatal(err)
	}
}

func (ts *tlsServer) config(src string) *conf.Config {
	ts.t.Helper()
	cfg, diags := conf.Parse([]byte(src), filepath.Join(ts.dir, "test.hcl"), ts.dir)
	if diags.HasErrors() {
		ts.t.Fatalf("config: %s", diags)
	}
	return cfg
}

// start runs src until the test ends and trusts the local CA it uses.
func (ts *tlsServer) start(src string) {
	ts.t.Helper()
	if err := ts.srv.Start(context.Background(), ts.config(src), nil); err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(ts.stop)
	if pemBytes, err := os.ReadFile(filepath.Join(ts.dir, "var", "pki", certs.RootCertFile)); err == nil {
		ts.roots.AppendCertsFromPEM(pemBytes)
	}
}

// stop shuts the server down, once.
func (ts *tlsServer) stop() {
	ts.t.Helper()
	if ts.stopped {
		return
	}
	ts.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		ts.t.Errorf("shutdown: %v", err)
	}
}

// addr is the bound address of a listen address of the config.
func (ts *tlsServer) addr(requested string) string {
	ts.t.Helper()
	a := ts.srv.Addrs()[requested]
	if a == "" {
		ts.t.Fatalf("no listener for %s: %v", requested, ts.srv.Addrs())
	}
	return a
}

// handshake connects to addr as sni and returns the leaf certificate the
// server chose, verified for sni against ts.roots.
func (ts *tlsServer) handshake(addr, sni string) (*x509.Certificate, error) {
	cfg := &tls.Config{ServerName: sni, RootCAs: ts.roots}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// client returns an HTTPS client that sends SNI sni whatever the URL,
// speaking only the given protocols.
func (ts *tlsServer) client(sni string, h2 bool) *http.Client {
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(h2)
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{ServerName: sni, RootCAs: ts.roots},
			ForceAttemptHTTP2: h2,
			Protocols:         &protos,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func get(t *testing.T, c *http.Client, url, host string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", url, host, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

const sniConfig = `
vhost "a.test" {
  aliases = ["www.a.test", "*.wild.a.test"]
  listen  = ["https://127.0.0.1:0"]
  tls {
    cert = "a.crt"
    key  = "a.key"
  }
  tls_echo {}
}
vhost "b.test" {
  listen = ["https://127.0.0.1:0"]
  tls    = "internal"
  tls_echo {}
}
vhost "c.test" {
  listen = ["https://127.0.0.2:0"]
  tls    = "internal"
  tls_echo {}
}
vhost "d.test" {
  listen  = ["https://127.0.0.2:0"]
  tls     = "internal"
  default = true
  tls_echo {}
}
`

func TestTLSSNISelection(t *testing.T) {
	ts := newTLSServer(t)
	ts.writeCert("a", "a.test", "www.a.test", "*.wild.a.test")
	ts.start(sniConfig)
	noDefault, withDefault := ts.addr("127.0.0.1:0"), ts.addr("127.0.0.2:0")

	tests := []struct {
		name     string
		addr     string
		sni      string
		wantCert string // a name the leaf must be valid for; "" for a failed handshake
		wantBody string // "" when the certificate does not name sni
	}{
		{"exact name", noDefault, "a.test", "a.test", "vhost=a.test"},
		{"alias", noDefault, "www.a.test", "a.test", "vhost=a.test"},
		{"wildcard alias", noDefault, "x.wild.a.test", "a.test", "vhost=a.test"},
		{"SNI case ignored", noDefault, "B.Test", "b.test", "vhost=b.test"},
		{"internal CA", noDefault, "b.test", "b.test", "vhost=b.test"},
		{"unknown name, no default", noDefault, "nope.test", "", ""},
		{"no SNI takes the first vhost", noDefault, "", "a.test", ""},
		{"other listener", withDefault, "c.test", "c.test", "vhost=c.test"},
		{"unknown name, default vhost", withDefault, "nope.test", "d.test", ""},
		{"a name of another listener", withDefault, "a.test", "d.test", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf, err := ts.handshakeAs(tt.addr, tt.sni)
			if tt.wantCert == "" {
				if err == nil {
					t.Fatalf("handshake as %q succeeded with %v", tt.sni, leaf.DNSNames)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := leaf.VerifyHostname(tt.wantCert); err != nil {
				t.Errorf("leaf names %v, want %s", leaf.DNSNames, tt.wantCert)
			}
			if tt.wantBody == "" {
				return
			}
			// The certificate chains to a trusted root and names sni, and
			// the request reaches the vhost.
			if _, err := ts.handshake(tt.addr, tt.sni); err != nil {
				t.Fatal(err)
			}
			resp, body := get(t, ts.client(tt.sni, false), "https://"+tt.addr+"/", tt.sni)
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, tt.wantBody+" ") {
				t.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, tt.wantBody)
			}
		})
	}
}

// handshakeAs sends SNI sni but does not check the certificate's names;
// it returns the leaf.
func (ts *tlsServer) handshakeAs(addr, sni string) (*x509.Certificate, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

func TestTLSMisdirectedRequest(t *testing.T) {
	ts := newTLSServer(t)
	ts.writeCert("a", "a.test", "www.a.test", "*.wild.a.test")
	ts.start(sniConfig)
	addr := ts.addr("127.0.0.1:0")
	for _, h2 := range []bool{false, true} {
		c := ts.client("a.test", h2)
		tests := []struct {
			host       string
			wantStatus int
		}{
			{"a.test", http.StatusOK},
			{"www.a.test", http.StatusOK},
			{"A.TEST:443", http.StatusOK},
			{"b.test", http.StatusMisdirectedRequest},
			{"b.test:8443", http.StatusMisdirectedRequest},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("h2=%v/%s", h2, tt.host), func(t *testing.T) {
				resp, body := get(t, c, "https://"+addr+"/", tt.host)
				if resp.StatusCode != tt.wantStatus {
					t.Errorf("status %d, want %d (%q)", resp.StatusCode, tt.wantStatus, body)
				}
			})
		}
	}
	if !strings.Contains(ts.log.String(), "421") {
		t.Error("421 not logged")
	}
}

func TestTLSH2ByALPN(t *testing.T) {
	ts := newTLSServer(t)
	ts.writeCert("a", "a.test", "www.a.test", "*.wild.a.test")
	ts.start(sniConfig)
	addr := ts.addr("127.0.0.1:0")
	for _, tt := range []struct {
		name      string
		h2        bool
		wantProto string
	}{
		{"h2", true, "HTTP/2.0"},
		{"http/1.1", false, "HTTP/1.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, ts.client("b.test", tt.h2), "https://"+addr+"/", "b.test")
			if resp.Proto != tt.wantProto || !strings.Contains(body, "proto="+tt.wantProto+" tls=true") {
				t.Errorf("proto %s, body %q, want %s over TLS", resp.Proto, body, tt.wantProto)
			}
			if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
				t.Errorf("TLS state %+v", resp.TLS)
			}
		})
	}
	// TLS 1.1 is refused.
	_, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: "b.test", RootCAs: ts.roots, MaxVersion: tls.VersionTLS11})
	if err == nil {
		t.Error("TLS 1.1 handshake succeeded")
	}
}

// TestTLSH2Engine checks that server.http2_engine picks who serves
// HTTP/2: a request with "te: deflate" is malformed in HTTP/2; httpd's
// engine resets the stream, as RFC 9113 says, and net/http answers 400.
func TestTLSH2Engine(t *testing.T) {
	for _, tt := range []struct{ engine, want string }{
		{"native", "RST_STREAM PROTOCOL_ERROR"},
		{"net/http", "status 400"},
	} {
		t.Run(tt.engine, func(t *testing.T) {
			ts := newTLSServer(t)
			ts.writeCert("a", "a.test", "www.a.test", "*.wild.a.test")
			ts.start("server {\n  http2_engine = \"" + tt.engine + "\"\n}\n" + sniConfig)
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ts.addr("127.0.0.1:0"),
				&tls.Config{ServerName: "b.test", RootCAs: ts.roots, NextProtos: []string{"h2"}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			var hb bytes.Buffer
			enc := hpack.NewEncoder(&hb)
			for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "b.test"}, {":path", "/"}, {"te", "deflate"}} {
				_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
			}
			fr := http2.NewFramer(c, c)
			fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
			if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
				t.Fatal(err)
			}
			if err := fr.WriteSettings(); err != nil {
				t.Fatal(err)
			}
			if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
				t.Fatal(err)
			}
			for {
				f, err := fr.ReadFrame()
				if err != nil {
					t.Fatalf("no answer on stream 1: %v", err)
				}
				if f.Header().StreamID != 1 {
					continue
				}
				var got string
				switch f := f.(type) {
				case *http2.RSTStreamFrame:
					got = "RST_STREAM " + f.ErrCode.String()
				case *http2.MetaHeadersFrame:
					got = "status " + f.PseudoValue("status")
				default:
					continue
				}
				if got != tt.want {
					t.Errorf("got %s, want %s", got, tt.want)
				}
				return
			}
		})
	}
}

func TestTLSH2C(t *testing.T) {
	ts := newTLSServer(t)
	ts.start(`
vhost "h2c.test" {
  listen = ["127.0.0.1:0"]
  h2c    = true
  tls_echo {}
}
vhost "plain.test" {
  listen = ["127.0.0.2:0"]
  tls_echo {}
}
`)
	var h2cOnly http.Protocols
	h2cOnly.SetUnencryptedHTTP2(true)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Protocols: &h2cOnly}}
	resp, body := get(t, c, "http://"+ts.addr("127.0.0.1:0")+"/", "h2c.test")
	if resp.Proto != "HTTP/2.0" || body != "vhost=h2c.test proto=HTTP/2.0 tls=false" {
		t.Errorf("h2c: %s %q", resp.Proto, body)
	}
	resp, body = get(t, http.DefaultClient, "http://"+ts.addr("127.0.0.1:0")+"/", "h2c.test")
	if resp.Proto != "HTTP/1.1" || body != "vhost=h2c.test proto=HTTP/1.1 tls=false" {
		t.Errorf("HTTP/1.1 on an h2c listener: %s %q", resp.Proto, body)
	}
	// Without h2c = true, a prior-knowledge HTTP/2 client gets nowhere.
	req, _ := http.NewRequest("GET", "http://"+ts.addr("127.0.0.2:0")+"/", nil)
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		if resp.Proto == "HTTP/2.0" {
			t.Error("h2c served on a listener without h2c = true")
		}
	}
}

func TestTLSRedirectAndInternalCAReuse(t *testing.T) {
	ports := pebbletest.FreePorts(t, 2)
	src := fmt.Sprintf(`
vhost "localhost" {
  listen = ["http://127.0.0.1:%d", "https://127.0.0.1:%d"]
  tls    = "internal"
  tls_echo {}
}
`, ports[0], ports[1])
	ts := newTLSServer(t)
	ts.start(src)
	plain := fmt.Sprintf("127.0.0.1:%d", ports[0])
	secure := fmt.Sprintf("127.0.0.1:%d", ports[1])

	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, method := range []string{"GET", "POST"} {
		req, _ := http.NewRequest(method, "http://"+plain+"/a/b?c=d", strings.NewReader("body"))
		req.Host = "localhost"
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := fmt.Sprintf("https://localhost:%d/a/b?c=d", ports[1])
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
			t.Errorf("%s: %d Location %q, want 308 %q", method, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	// Without acme, challenge paths redirect like everything else.
	resp, _ := get(t, noFollow, "http://"+plain+"/.well-known/acme-challenge/x", "localhost")
	if resp.StatusCode != http.StatusPermanentRedirect {
		t.Errorf("challenge path: %d, want 308", resp.StatusCode)
	}

	// Following the redirect lands on HTTPS with a certificate valid for
	// localhost, 127.0.0.1 and ::1.
	follow := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ts.roots}, ForceAttemptHTTP2: true}}
	resp, body := get(t, follow, "http://"+plain+"/", "localhost")
	if resp.StatusCode != http.StatusOK || body != "vhost=localhost proto=HTTP/2.0 tls=true" {
		t.Errorf("after redirect: %d %q", resp.StatusCode, body)
	}
	leaf, err := ts.handshake(secure, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(n); err != nil {
			t.Errorf("internal certificate: %v", err)
		}
	}

	// The log says where the root is and how to trust it, once.
	root := filepath.Join(ts.dir, "var", "pki", certs.RootCertFile)
	if n := strings.Count(ts.log.String(), "local CA"); n != 1 {
		t.Errorf("local CA logged %d times, want once:\n%s", n, ts.log)
	}
	if !strings.Contains(ts.log.String(), "root="+root) || !strings.Contains(ts.log.String(), "update-ca-certificates") {
		t.Errorf("log does not say how to trust %s:\n%s", root, ts.log)
	}
	rootPEM, err := os.ReadFile(root)
	if err != nil {
		t.Fatal(err)
	}

	// A reload keeps the CA and its leaf, and says nothing more.
	if err := ts.srv.Reload(context.Background(), ts.config(src), nil); err != nil {
		t.Fatal(err)
	}
	again, err := ts.handshake(secure, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if again.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Error("reload issued a new leaf")
	}
	if n := strings.Count(ts.log.String(), "local CA"); n != 1 {
		t.Errorf("local CA logged %d times after reload", n)
	}

	// A new server (a restart) on the same data_dir reuses the root.
	ts.stop()
	ts2 := &tlsServer{t: t, dir: ts.dir, log: &testutil.SyncBuffer{}, roots: ts.roots, fileCA: ts.fileCA}
	ts2.srv = vhost.New(slog.New(slog.NewTextHandler(ts2.log, nil)))
	ts2.start(src)
	if _, err := ts2.handshake(secure, "localhost"); err != nil {
		t.Errorf("after restart: %v", err)
	}
	if !strings.Contains(ts2.log.String(), "using the local CA") {
		t.Errorf("restart log:\n%s", ts2.log)
	}
	if after, _ := os.ReadFile(root); string(after) != string(rootPEM) {
		t.Error("restart replaced the root certificate")
	}
}

func TestTLSFilesReloaded(t *testing.T) {
	ts := newTLSServer(t)
	ts.writeCert("a", "a.test")
	src := `
vhost "a.test" {
  listen = ["https://127.0.0.1:0"]
  tls {
    cert = "a.crt"
    key  = "a.key"
  }
  tls_echo {}
}
`
	ts.start(src)
	addr := ts.addr("127.0.0.1:0")
	first, err := ts.handshake(addr, "a.test")
	if err != nil {
		t.Fatal(err)
	}
	ts.writeCert("a", "a.test", "new.a.test")
	if err := ts.srv.Reload(context.Background(), ts.config(src), nil); err != nil {
		t.Fatal(err)
	}
	second, err := ts.handshake(addr, "a.test")
	if err != nil {
		t.Fatal(err)
	}
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 || second.VerifyHostname("new.a.test") != nil {
		t.Error("reload did not pick up the new certificate files")
	}

	// A broken key fails the reload; the old certificate keeps serving.
	if err := os.WriteFile(filepath.Join(ts.dir, "a.key"), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = ts.srv.Reload(context.Background(), ts.config(src), nil)
	if err == nil || !strings.Contains(err.Error(), "vhost a.test: tls: load") {
		t.Fatalf("reload with a bad key: %v", err)
	}
	third, err := ts.handshake(addr, "a.test")
	if err != nil || third.SerialNumber.Cmp(second.SerialNumber) != 0 {
		t.Errorf("after a failed reload: %v", err)
	}
}

// TestTLSAuto issues a certificate from an in-process Pebble for a vhost
// with tls = "auto", once by each challenge type: Pebble validates the
// other type on a port where nothing listens, so only the type under test
// succeeds. It also checks that reloads share the ACME manager.
func TestTLSAuto(t *testing.T) {
	for _, challenge := range []string{"http-01", "tls-alpn-01"} {
		t.Run(challenge, func(t *testing.T) { testTLSAuto(t, challenge) })
	}
}

func testTLSAuto(t *testing.T, challenge string) {
	ports := pebbletest.FreePorts(t, 3)
	httpPort, httpsPort, closed := ports[0], ports[1], ports[2]
	vaHTTP, vaTLS := httpPort, closed
	if challenge == "tls-alpn-01" {
		vaHTTP, vaTLS = closed, httpsPort
	}
	pebble := pebbletest.Start(t, vaHTTP, vaTLS)
	ts := newTLSServer(t)
	ts.roots = pebble.IssuerRoots
	src := fmt.Sprintf(`
acme {
  email   = "admin@example.com"
  ca      = %q
  ca_root = %q
}
vhost "localhost" {
  aliases = ["*.localhost"]
  listen  = ["http://127.0.0.1:%d", "https://127.0.0.1:%d"]
  tls     = "auto"
  tls_echo {}
}
`, pebble.DirectoryURL, pebble.CARootFile, httpPort, httpsPort)
	start := time.Now()
	ts.start(src)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Start took %v: it must not wait for issuance", took)
	}
	plain := fmt.Sprintf("127.0.0.1:%d", httpPort)
	secure := fmt.Sprintf("127.0.0.1:%d", httpsPort)

	var leaf *x509.Certificate
	deadline := time.Now().Add(60 * time.Second)
	for {
		var err error
		if leaf, err = ts.handshake(secure, "localhost"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate from pebble: %v\npebble log:\n%s", err, pebble.Log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	served := map[string]string{
		"http-01":     `msg="served key authentication" module=tls identifier=localhost challenge=http-01`,
		"tls-alpn-01": `msg="served key authentication certificate" module=tls server_name=localhost challenge=tls-alpn-01`,
	}[challenge]
	if !strings.Contains(ts.log.String(), served) {
		t.Errorf("no %s challenge answered", challenge)
	}
	resp, body := get(t, ts.client("localhost", true), "https://"+secure+"/", "localhost")
	if resp.StatusCode != http.StatusOK || body != "vhost=localhost proto=HTTP/2.0 tls=true" {
		t.Errorf("over HTTPS: %d %q", resp.StatusCode, body)
	}
	// No SNI, and a name only the wildcard alias covers, get the
	// certificate of the vhost's name.
	for _, sni := range []string{"", "x.localhost"} {
		got, err := ts.handshakeAs(secure, sni)
		if err != nil || got.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
			t.Errorf("SNI %q: %v", sni, err)
		}
	}
	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, _ = get(t, noFollow, "http://"+plain+"/x", "localhost")
	if want := fmt.Sprintf("https://localhost:%d/x", httpsPort); resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Errorf("plain: %d %q, want 308 %s", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	// A token no issuance is waiting for is redirected like any path.
	resp, _ = get(t, noFollow, "http://"+plain+"/.well-known/acme-challenge/unknown", "localhost")
	if resp.StatusCode != http.StatusPermanentRedirect {
		t.Errorf("unknown challenge token: %d, want 308", resp.StatusCode)
	}

	// Reloads keep the manager and its certificate: no new order.
	orders := strings.Count(pebble.Log.String(), "Issued certificate")
	for range 2 {
		if err := ts.srv.Reload(context.Background(), ts.config(src), nil); err != nil {
			t.Fatal(err)
		}
	}
	again, err := ts.handshake(secure, "localhost")
	if err != nil || again.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("after reload: %v", err)
	}
	if n := strings.Count(pebble.Log.String(), "Issued certificate"); n != orders {
		t.Errorf("reloads issued %d more certificates", n-orders)
	}
	if n := strings.Count(ts.log.String(), "started background certificate maintenance"); n != 1 {
		t.Errorf("certificate maintenance started %d times, want once", n)
	}
}

// TestTLSMisdirectedThenIdle: a keep-alive connection that got a 421 and
// then sits idle past read_header_timeout is not taken for a slow client:
// no 408 is written and none is logged.
func TestTLSMisdirectedThenIdle(t *testing.T) {
	ts := newTLSServer(t)
	ts.writeCert("a", "a.test", "www.a.test", "*.wild.a.test")
	ts.start(`server {
  limits {
    read_header_timeout = "200ms"
    idle_timeout        = "5s"
  }
}
` + sniConfig)
	conn, err := tls.Dial("tcp", ts.addr("127.0.0.1:0"), &tls.Config{ServerName: "a.test", RootCAs: ts.roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: b.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("status %d, want 421", resp.StatusCode)
	}
	// Idle past read_header_timeout, well within idle_timeout.
	conn.SetReadDeadline(time.Now().Add(time.Second))
	if b, err := br.ReadByte(); err == nil {
		rest, _ := br.Peek(br.Buffered())
		t.Errorf("idle connection got %q", append([]byte{b}, rest...))
	}
	if strings.Contains(ts.log.String(), "status=408") {
		t.Errorf("idle connection logged as a slow client:\n%s", ts.log.String())
	}
}
