package certs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/caddyserver/certmagic"
)

// Storage is where certmagic keeps ACME state, and where a fleet keeps
// the root of its local CA: a folder of one server, or a store the
// servers of a fleet share (see package certs/redisstore).
type Storage = certmagic.Storage

// Keys of the local CA's root in a shared Storage, and the lock held
// while it is read or made.
const (
	sharedRootCert = "pki/" + RootCertFile
	sharedRootKey  = "pki/" + RootKeyFile
	sharedRootLock = "local_ca"
)

// sharedRootTimeout bounds the exchange with the shared storage when a
// local CA opens.
const sharedRootTimeout = 15 * time.Second

// OpenLocalCAShared opens the local CA kept in dir, as OpenLocalCA, but
// makes it the same for every server sharing st: the root in st wins and
// is copied into dir; when st holds none, this server's root (made now
// if dir holds none) is put there for the others. With st nil it is
// OpenLocalCA. When st does not answer, the root in dir serves (made now
// if there is none, so that the server starts), and the error is logged:
// servers may then use different roots until they start again with st
// answering.
func OpenLocalCAShared(st Storage, dir string, log *slog.Logger) (ca *LocalCA, created bool, err error) {
	if st == nil {
		return OpenLocalCA(dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedRootTimeout)
	defer cancel()
	if err := syncRoot(ctx, st, dir); err != nil {
		if errors.Is(err, errSharedRootBad) {
			return nil, false, err
		}
		log.Error("local CA: the shared storage does not answer: using the root in data_dir; the fleet's servers may use different roots until they start with it answering",
			"err", err, "folder", dir)
	}
	return OpenLocalCA(dir)
}

var errSharedRootBad = errors.New("local ca: the shared storage holds a bad root")

// syncRoot makes the root in dir the one in st, or puts dir's in st.
func syncRoot(ctx context.Context, st Storage, dir string) error {
	if err := st.Lock(ctx, sharedRootLock); err != nil {
		return err
	}
	defer func() { _ = st.Unlock(context.WithoutCancel(ctx), sharedRootLock) }()
	certPEM, certErr := st.Load(ctx, sharedRootCert)
	keyPEM, keyErr := st.Load(ctx, sharedRootKey)
	switch {
	case certErr == nil && keyErr == nil:
		root, err := parseCertPEM(certPEM)
		if err != nil {
			return fmt.Errorf("%w: %s: %v (delete it from the storage to make a new CA)", errSharedRootBad, sharedRootCert, err)
		}
		key, err := parseKeyPEM(keyPEM)
		if err != nil || !key.PublicKey.Equal(root.PublicKey) {
			return fmt.Errorf("%w: %s is not the key of %s (delete both from the storage to make a new CA)", errSharedRootBad, sharedRootKey, sharedRootCert)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("local ca: %w", err)
		}
		if old, _ := os.ReadFile(filepath.Join(dir, RootCertFile)); bytes.Equal(old, certPEM) {
			return nil
		}
		if err := writeFileAtomic(filepath.Join(dir, RootKeyFile), keyPEM, 0o600); err != nil {
			return err
		}
		return writeFileAtomic(filepath.Join(dir, RootCertFile), certPEM, 0o644)
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		if _, _, err := OpenLocalCA(dir); err != nil {
			return err
		}
		certPEM, err := os.ReadFile(filepath.Join(dir, RootCertFile))
		if err != nil {
			return fmt.Errorf("local ca: %w", err)
		}
		keyPEM, err := os.ReadFile(filepath.Join(dir, RootKeyFile))
		if err != nil {
			return fmt.Errorf("local ca: %w", err)
		}
		// The key first: a reader that finds the certificate finds it.
		if err := st.Store(ctx, sharedRootKey, keyPEM); err != nil {
			return err
		}
		return st.Store(ctx, sharedRootCert, certPEM)
	case certErr == nil || keyErr == nil:
		if errors.Is(certErr, fs.ErrNotExist) || errors.Is(keyErr, fs.ErrNotExist) {
			return fmt.Errorf("%w: only one of %s and %s is there (delete it to make a new CA)", errSharedRootBad, sharedRootCert, sharedRootKey)
		}
	}
	return errors.Join(certErr, keyErr)
}
