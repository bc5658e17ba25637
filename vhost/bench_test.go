package vhost_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"httpd/conf"
	"httpd/internal/testutil"
	_ "httpd/modules/access"
	_ "httpd/modules/compress"
	_ "httpd/modules/errorpages"
	_ "httpd/modules/header"
	_ "httpd/modules/rewrite"
	_ "httpd/modules/static"
	"httpd/vhost"
)

// BenchmarkServe measures one keep-alive request through the whole
// pipeline of a plain listener: parse, vhost match, static module, answer.
// The client side allocates nothing, so allocs/op is the server's.
func BenchmarkServe(b *testing.B) {
	docs := b.TempDir()
	if err := os.WriteFile(filepath.Join(docs, "1k.html"), bytes.Repeat([]byte("x"), 1024), 0o644); err != nil {
		b.Fatal(err)
	}
	// The small-file cache keeps a file once its last change is two
	// seconds old.
	time.Sleep(2100 * time.Millisecond)
	for _, engine := range []string{conf.EngineNative, conf.EngineNetHTTP} {
		for _, path := range []string{"/1k.html", "/missing.html"} {
			b.Run(engine+path, func(b *testing.B) { benchServe(b, docs, engine, path, "") })
		}
	}
	// A typical site's directives (bench/site's typical-1k): what the
	// pipeline adds to the bare 1 KiB answer.
	b.Run("typical/1k.html", func(b *testing.B) { benchServe(b, docs, conf.EngineNative, "/1k.html", typicalSite) })
	// Fifty keep-alive connections at once, as the wrk scenario 1k-50:
	// with -cpu 1 the server answers whichever is ready, so ns/op is the
	// CPU one request costs (client included), not a round trip.
	b.Run("parallel/1k.html", func(b *testing.B) { benchServeParallel(b, docs, "/1k.html", 50) })
}

func benchServeParallel(b *testing.B, docs, path string, conns int) {
	srv := vhost.New(slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})))
	cfg := parseConfig(b, `
		server {
		  listen = ["127.0.0.1:0"]
		}
		log { access = "off" }
		vhost "localhost" {
		  document_root = "`+docs+`"
		}
	`, b.TempDir())
	// No access log, as the binary with access = "off".
	if err := srv.Start(context.Background(), cfg, nil); err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	addr := srv.Addrs()["127.0.0.1:0"]
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	size := 0
	b.ReportAllocs()
	b.SetParallelism((conns + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	var mu sync.Mutex
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		buf := make([]byte, 64<<10)
		mu.Lock()
		if size == 0 {
			// The first answer gives the length of every later one.
			if _, err := c.Write(req); err != nil {
				mu.Unlock()
				b.Error(err)
				return
			}
			n, err := c.Read(buf)
			if err != nil || !bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
				mu.Unlock()
				b.Errorf("first answer not whole in one read: %q, %v", buf[:n], err)
				return
			}
			size = n
		}
		n := size
		mu.Unlock()
		for pb.Next() {
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			if _, err := io.ReadFull(c, buf[:n]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// typicalSite is the body of a vhost block with the directives a typical
// site configures, none of which refuses or rewrites /1k.html.
const typicalSite = `
  compress {}
  header "/" {
    set    = { "Strict-Transport-Security" = "max-age=31536000", "X-Content-Type-Options" = "nosniff" }
    remove = ["X-Powered-By"]
  }
  access "/" { allow = ["127.0.0.0/8", "::1"] }
  rewrite "^/old/(.*)$" {
    to     = "/$1"
    status = 301
  }
  error_pages = { "404" = "/errors/404.html" }
`

func benchServe(b *testing.B, docs, engine, path, site string) {
	// As the shipped config: the error log at warn, so a 404 logs nothing.
	srv := vhost.New(slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn})))
	cfg := parseConfig(b, withEngine(engine, `
		server {
		  listen = ["127.0.0.1:0"]
		}
		log { access = "off" }
		vhost "localhost" {
		  document_root = "`+docs+`"
		  `+site+`
		}
	`), b.TempDir())
	if err := srv.Start(context.Background(), cfg, &testutil.SyncBuffer{}); err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	addr := srv.Addrs()["127.0.0.1:0"]
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	// The first answer gives the length of every later one: the same
	// head and body, and a Date of fixed width.
	if _, err := c.Write(req); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	n, err := c.Read(buf)
	if err != nil {
		b.Fatal(err)
	}
	size := n
	if !bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
		b.Fatalf("first answer not whole in one read: %q", buf[:n])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf[:size]); err != nil {
			b.Fatal(err)
		}
	}
}
