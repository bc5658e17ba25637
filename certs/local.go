package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Lifetimes of the local CA's certificates. A leaf is issued again once
// less than a third of its lifetime is left.
const (
	RootLifetime = 10 * 365 * 24 * time.Hour
	LeafLifetime = 7 * 24 * time.Hour
)

// Files of a local CA inside its folder.
const (
	RootCertFile = "root.crt"
	RootKeyFile  = "root.key"
)

// LocalCA is a certificate authority kept in a folder: an ECDSA P-256 root
// that signs leaf certificates directly. Clients trust the sites it serves
// once they trust its root certificate (RootFile). Leaves live in memory
// only and are issued again when they near their end.
type LocalCA struct {
	dir  string
	root *x509.Certificate
	key  *ecdsa.PrivateKey

	mu     sync.Mutex                  // guards leaves
	leaves map[string]*tls.Certificate // by leafKey of the names
	now    func() time.Time
}

// OpenLocalCA loads the CA kept in dir, creating dir and a new root (key
// and certificate) when dir holds neither; created reports that. A folder
// holding only one of the two files is an error: nothing is overwritten.
func OpenLocalCA(dir string) (ca *LocalCA, created bool, err error) {
	certPath, keyPath := filepath.Join(dir, RootCertFile), filepath.Join(dir, RootKeyFile)
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	switch {
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		if err := createRoot(dir); err != nil {
			return nil, false, err
		}
		created = true
		if certPEM, certErr = os.ReadFile(certPath); certErr != nil {
			return nil, false, fmt.Errorf("local ca: %w", certErr)
		}
		if keyPEM, keyErr = os.ReadFile(keyPath); keyErr != nil {
			return nil, false, fmt.Errorf("local ca: %w", keyErr)
		}
	case certErr != nil:
		return nil, false, fmt.Errorf("local ca: %w (remove %s too to make a new CA)", certErr, keyPath)
	case keyErr != nil:
		return nil, false, fmt.Errorf("local ca: %w (remove %s too to make a new CA)", keyErr, certPath)
	}
	root, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, false, fmt.Errorf("local ca: %s: %w", certPath, err)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, false, fmt.Errorf("local ca: %s: %w", keyPath, err)
	}
	if !key.PublicKey.Equal(root.PublicKey) {
		return nil, false, fmt.Errorf("local ca: %s does not hold the key of %s", keyPath, certPath)
	}
	if !root.IsCA {
		return nil, false, fmt.Errorf("local ca: %s is not a CA certificate", certPath)
	}
	return &LocalCA{dir: dir, root: root, key: key, leaves: map[string]*tls.Certificate{}, now: time.Now}, created, nil
}

// createRoot makes a new root key and certificate in dir. Each file is
// written under a temporary name and renamed, so a crash never leaves a
// half-written CA; of two processes racing, the one that renames last
// wins, and both then load the same files.
func createRoot(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("local ca: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("local ca: generate root key: %w", err)
	}
	host, _ := os.Hostname()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject: pkix.Name{
			CommonName:   "httpd local CA " + now.UTC().Format("2006-01-02") + " " + host,
			Organization: []string{"httpd local CA"},
		},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(RootLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("local ca: create root certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("local ca: encode root key: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, RootKeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, RootCertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("local ca: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("local ca: write %s: %w", path, err)
	}
	return nil
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return x509.ParseCertificate(blk.Bytes)
}

func parseKeyPEM(b []byte) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		if ek, err2 := x509.ParseECPrivateKey(blk.Bytes); err2 == nil {
			return ek, nil
		}
		return nil, err
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("the key is a %T, not ECDSA", k)
	}
	return ek, nil
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic("certs: crypto/rand failed: " + err.Error())
	}
	return n.Add(n, big.NewInt(1)) // never zero
}

// RootFile is the path of the root certificate (PEM), the file clients
// must trust.
func (ca *LocalCA) RootFile() string { return filepath.Join(ca.dir, RootCertFile) }

// Root is the root certificate. Callers must not modify it.
func (ca *LocalCA) Root() *x509.Certificate { return ca.root }

// TrustHint says how to make a Debian or Ubuntu system trust the root.
func (ca *LocalCA) TrustHint() string {
	return "cp " + ca.RootFile() + " /usr/local/share/ca-certificates/httpd-local.crt && update-ca-certificates"
}

// Certificate returns a certificate for names, issuing one on first use
// and again when less than a third of its lifetime is left. Names may be
// host names, "*." wildcards, and IP addresses (IPv6 with or without
// brackets); "localhost" also covers 127.0.0.1 and ::1. The result is
// shared: callers must not modify it.
func (ca *LocalCA) Certificate(names []string) (*tls.Certificate, error) {
	return ca.certificate(leafKey(names), names)
}

// CertificateFunc returns a function that returns Certificate(names), for
// a tls.Config.GetCertificate that runs at every handshake: it keeps the
// current certificate at hand, so until that is due for renewal a call
// neither locks nor allocates.
func (ca *LocalCA) CertificateFunc(names []string) func() (*tls.Certificate, error) {
	names = slices.Clone(names)
	key := leafKey(names)
	var cur atomic.Pointer[currentLeaf]
	return func() (*tls.Certificate, error) {
		if c := cur.Load(); c != nil && ca.now().Before(c.renew) {
			return c.cert, nil
		}
		cert, err := ca.certificate(key, names)
		if err != nil {
			return nil, err
		}
		cur.Store(&currentLeaf{cert: cert, renew: renewAt(cert.Leaf)})
		return cert, nil
	}
}

// currentLeaf is a certificate CertificateFunc holds and when to issue
// it again.
type currentLeaf struct {
	cert  *tls.Certificate
	renew time.Time
}

// renewAt is when a leaf is issued again: when a third of its lifetime is
// left.
func renewAt(leaf *x509.Certificate) time.Time {
	return leaf.NotAfter.Add(-leaf.NotAfter.Sub(leaf.NotBefore) / 3)
}

func (ca *LocalCA) certificate(key string, names []string) (*tls.Certificate, error) {
	now := ca.now()
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if c := ca.leaves[key]; c != nil && now.Before(renewAt(c.Leaf)) {
		return c, nil
	}
	c, err := ca.issue(names, now)
	if err != nil {
		return nil, err
	}
	ca.leaves[key] = c
	return c, nil
}

func leafKey(names []string) string {
	s := slices.Clone(names)
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ",")
}

// issue signs a new leaf for names.
func (ca *LocalCA) issue(names []string, now time.Time) (*tls.Certificate, error) {
	var dnsNames []string
	var ips []net.IP
	addIP := func(ip net.IP) {
		if !slices.ContainsFunc(ips, ip.Equal) {
			ips = append(ips, ip)
		}
	}
	for _, n := range names {
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		if ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(n, "["), "]")); ip != nil {
			addIP(ip)
			continue
		}
		if n == "" || slices.Contains(dnsNames, n) {
			continue
		}
		dnsNames = append(dnsNames, n)
		if n == "localhost" {
			addIP(net.IPv4(127, 0, 0, 1))
			addIP(net.IPv6loopback)
		}
	}
	if len(dnsNames) == 0 && len(ips) == 0 {
		return nil, errors.New("local ca: no names to issue a certificate for")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("local ca: generate key: %w", err)
	}
	cn := ""
	if len(dnsNames) > 0 {
		cn = dnsNames[0]
	} else {
		cn = ips[0].String()
	}
	notAfter := now.Add(LeafLifetime)
	if notAfter.After(ca.root.NotAfter) {
		notAfter = ca.root.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.root, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("local ca: sign certificate for %s: %w", strings.Join(names, ", "), err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("local ca: %w", err)
	}
	return &tls.Certificate{
		Certificate: [][]byte{der},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}
