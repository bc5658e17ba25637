// Command tlsconns measures how many new TLS connections a server accepts
// per second: each of -c workers loops dial, handshake, one GET with
// "Connection: close", read the answer, close, for -d.
//
// The handshake is fixed so every server does the same work: one TLS
// version (-tls 1.2 or 1.3), X25519 only, the certificate not checked.
// Without -resume every handshake is a full one (no session cache); with
// -resume each worker keeps the last session ticket it got and offers it
// on its next connection, and every connection records whether the
// server accepted it, so a run where resumption did not happen shows.
//
// It prints one line of key=value pairs, for bench/run.sh:
//
//	conns=51234 secs=5.00 rate=10246.8 resumed=51184 errors=0 version=1.3 cpu=0.98
//
// cpu is this process's CPU time over the wall time divided by GOMAXPROCS:
// near 1 means the client, not the server, set the pace.
//
//	tlsconns -addr 127.0.0.1:8443 -tls 1.3 -c 50 -d 5s [-resume]
package main

import (
	"bufio"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type counts struct {
	conns, resumed, errors atomic.Int64
	firstErr               atomic.Value
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8443", "server address")
	path := flag.String("path", "/1k.html", "path requested on each connection")
	host := flag.String("host", "", "Host header and SNI (default: the address's host, no SNI for an IP)")
	version := flag.String("tls", "1.3", "TLS version: 1.2 or 1.3")
	workers := flag.Int("c", 50, "concurrent connections")
	dur := flag.Duration("d", 5*time.Second, "how long to run")
	resume := flag.Bool("resume", false, "offer the last session ticket on each new connection")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the client to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "tlsconns: %v\n", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "tlsconns: %v\n", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}

	var v uint16
	switch *version {
	case "1.2":
		v = tls.VersionTLS12
	case "1.3":
		v = tls.VersionTLS13
	default:
		fmt.Fprintf(os.Stderr, "tlsconns: -tls %q: want 1.2 or 1.3\n", *version)
		os.Exit(2)
	}
	h, _, err := net.SplitHostPort(*addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tlsconns: -addr: %v\n", err)
		os.Exit(2)
	}
	if *host != "" {
		h = *host
	}
	req := []byte(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tlsconns\r\nConnection: close\r\n\r\n", *path, h))

	var c counts
	deadline := time.Now().Add(*dur)
	cpu0 := cpuTime()
	start := time.Now()
	var wg sync.WaitGroup
	for range *workers {
		cfg := &tls.Config{
			ServerName:         h,
			InsecureSkipVerify: true, // self-signed; checking it is the client's cost, not the server's
			MinVersion:         v,
			MaxVersion:         v,
			// X25519 for the key exchange; P-256 listed too because
			// TLS 1.2 servers only use an ECDSA certificate on a curve
			// the client names.
			CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
			NextProtos:       []string{"http/1.1"},
		}
		if *resume {
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 32<<10)
			for time.Now().Before(deadline) {
				if err := one(*addr, cfg, req, buf, &c); err != nil {
					c.errors.Add(1)
					c.firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	cpu := (cpuTime() - cpu0).Seconds() / secs / float64(runtime.GOMAXPROCS(0))
	n := c.conns.Load()
	fmt.Printf("conns=%d secs=%.2f rate=%.1f resumed=%d errors=%d version=%s cpu=%.2f\n",
		n, secs, float64(n)/secs, c.resumed.Load(), c.errors.Load(), *version, cpu)
	if e := c.firstErr.Load(); e != nil {
		fmt.Fprintf(os.Stderr, "tlsconns: first error: %v\n", e)
	}
	if n == 0 {
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// one makes one connection, one request and counts it once the whole
// answer has come, with status 200, in the wanted version.
func one(addr string, cfg *tls.Config, req, buf []byte, c *counts) error {
	raw, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	conn := tls.Client(raw, cfg)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := conn.Handshake(); err != nil {
		return err
	}
	st := conn.ConnectionState()
	if st.Version != cfg.MaxVersion {
		return fmt.Errorf("negotiated version %x", st.Version)
	}
	if !st.DidResume && st.CurveID != tls.X25519 {
		return fmt.Errorf("key exchange %v, not X25519", st.CurveID)
	}
	if _, err := conn.Write(req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 4096), nil)
	if err != nil {
		return err
	}
	_, err = io.CopyBuffer(io.Discard, resp.Body, buf)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if cfg.ClientSessionCache != nil && st.Version == tls.VersionTLS13 {
		// TLS 1.3 tickets come after the handshake: read to the close
		// so the next connection has the newest one.
		_, _ = io.CopyBuffer(io.Discard, conn, buf)
	}
	c.conns.Add(1)
	if st.DidResume {
		c.resumed.Add(1)
	}
	return nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
