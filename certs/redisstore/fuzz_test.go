package redisstore_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"path"
	"slices"
	"strings"
	"testing"

	"httpd/certs/redisstore"
	"httpd/certs/redisstore/redistest"
)

// FuzzKeys stores a value under any key and checks what certmagic relies
// on: it loads back, it and its folders exist and are listed, Stat tells
// a file from a folder, and Delete leaves nothing behind, index
// included.
func FuzzKeys(f *testing.F) {
	for _, seed := range []string{
		"certificates/acme-v02.api.letsencrypt.org-directory/example.com/example.com.crt",
		"a", "/a/b/", "a//b", "a/./b/../c", "ünïcode/ключ", "sp ace/*?[x]", "../../etc/passwd", "a\x00b/c",
	} {
		f.Add(seed, []byte("value"))
	}
	srv := redistest.Start(f, redistest.Options{})
	s, err := redisstore.New(redisstore.Options{Address: srv.Address, Prefix: "fuzz"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		k := strings.TrimPrefix(path.Clean("/"+key), "/")
		if k == "" {
			return
		}
		if err := s.Store(ctx, key, value); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load(ctx, key)
		if err != nil || string(got) != string(value) {
			t.Fatalf("Load(%q) = %q, %v; want %q", key, got, err, value)
		}
		if info, err := s.Stat(ctx, key); err != nil || !info.IsTerminal || info.Size != int64(len(value)) {
			t.Fatalf("Stat(%q) = %+v, %v", key, info, err)
		}
		parent, child := path.Split(k)
		parent = strings.TrimSuffix(parent, "/")
		list, err := s.List(ctx, parent, false)
		if err != nil || !slices.Contains(list, path.Join(parent, child)) {
			t.Fatalf("List(%q) = %q, %v; want %q in it", parent, list, err, k)
		}
		for d := parent; d != ""; d = path.Dir(d) {
			if info, err := s.Stat(ctx, d); err != nil || info.IsTerminal {
				t.Fatalf("Stat of folder %q = %+v, %v", d, info, err)
			}
			if d == path.Dir(d) || path.Dir(d) == "." {
				break
			}
		}
		all, err := s.List(ctx, "", true)
		if err != nil || !slices.Contains(all, k) {
			t.Fatalf("recursive List = %q, %v; want %q in it", all, err, k)
		}
		if err := s.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if s.Exists(ctx, key) {
			t.Fatalf("%q exists after Delete", key)
		}
		if _, err := s.List(ctx, "", false); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("the root is not empty after deleting the only key %q: %v", key, err)
		}
		if reply, err := srv.Do("DBSIZE"); err != nil || reply != ":0" {
			t.Fatalf("after deleting %q Redis holds keys: DBSIZE %s %v", key, reply, err)
		}
	})
}

// FuzzSplitAddress: an address SplitAddress accepts is one the dialer
// takes: a Unix socket path, or host:port with a port.
func FuzzSplitAddress(f *testing.F) {
	for _, s := range []string{"10.0.0.5:6379", "[::1]:6379", "/run/redis.sock", "unix:/x", "redis://a:1", ":1", "a:0", "a:65536", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, a string) {
		network, addr, err := redisstore.SplitAddress(a)
		if err != nil {
			if !strings.Contains(err.Error(), "redis") {
				t.Errorf("error %q does not say what it is about", err)
			}
			return
		}
		switch network {
		case "unix":
			if !strings.HasPrefix(addr, "/") {
				t.Errorf("unix address %q is not absolute", addr)
			}
		case "tcp":
			host, port, err := net.SplitHostPort(addr)
			if err != nil || host == "" || port == "" {
				t.Errorf("tcp address %q: %q %q %v", addr, host, port, err)
			}
		default:
			t.Errorf("network %q", network)
		}
	})
}
