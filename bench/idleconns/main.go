// Command idleconns opens many keep-alive HTTP/1.1 connections to one
// server, sends one request on each, reads the whole answer and then holds
// every connection open without further traffic, so the server's memory
// per idle connection can be measured.
//
// With -tls it speaks HTTP/1.1 over TLS (ALPN "http/1.1", the certificate
// not checked, X25519); with -h2, HTTP/2 over TLS (ALPN "h2"): one stream
// per connection, then the same wait.
//
// It prints "open N" on stdout once every connection has had its answer,
// then waits until -hold has passed or it is signalled.
//
//	idleconns -addr 127.0.0.1:8080 -n 5000 -path /1k.html -hold 60s
//	idleconns -tls -addr 127.0.0.1:8443 -n 5000 -path /1k.html
//	idleconns -h2 -addr 127.0.0.1:8443 -n 1000 -path /1k.html
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "server address")
	n := flag.Int("n", 5000, "connections to open")
	path := flag.String("path", "/", "path requested once on each connection")
	host := flag.String("host", "localhost", "Host header")
	par := flag.Int("par", 100, "connections opened at once")
	hold := flag.Duration("hold", time.Minute, "how long to keep the connections open")
	useH2 := flag.Bool("h2", false, "HTTP/2 over TLS instead of HTTP/1.1")
	useTLS := flag.Bool("tls", false, "HTTP/1.1 over TLS")
	flag.Parse()

	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: idleconns\r\n\r\n", *path, *host)
	conns := make([]net.Conn, *n)
	var failed atomic.Int64
	var firstErr atomic.Value
	sem := make(chan struct{}, *par)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range conns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			var c net.Conn
			var err error
			if *useH2 {
				c, err = openH2(*addr, *host, *path)
			} else {
				c, err = open(*addr, req, *useTLS)
			}
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(os.Stderr, "idleconns: %d of %d connections failed; first: %v\n", f, *n, firstErr.Load())
		os.Exit(1)
	}
	fmt.Printf("open %d in %v\n", *n, time.Since(start).Round(time.Millisecond))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case <-time.After(*hold):
	}
	// Check that the server kept them: a closed one reads EOF at once.
	alive := 0
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		var b [1]byte
		if _, err := c.Read(b[:]); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				alive++
			}
		}
		c.Close()
	}
	fmt.Printf("alive %d\n", alive)
}

// open dials addr (over TLS if useTLS), sends req and reads the whole
// response.
func open(addr, req string, useTLS bool) (net.Conn, error) {
	var c net.Conn
	var err error
	if useTLS {
		d := &net.Dialer{Timeout: 10 * time.Second}
		c, err = tls.DialWithDialer(d, "tcp", addr, &tls.Config{
			NextProtos: []string{"http/1.1"}, InsecureSkipVerify: true,
			CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
		})
	} else {
		c, err = net.DialTimeout("tcp", addr, 10*time.Second)
	}
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 4096), nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || resp.Close {
		c.Close()
		return nil, fmt.Errorf("status %d, close %v", resp.StatusCode, resp.Close)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// openH2 dials addr over TLS with ALPN h2, sends the client preface,
// SETTINGS and one GET, and reads frames until the answer has ended.
func openH2(addr, host, path string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{
		ServerName: host, NextProtos: []string{"h2"}, InsecureSkipVerify: true,
	})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (net.Conn, error) {
		c.Close()
		return nil, err
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		return fail(fmt.Errorf("ALPN chose %q, not h2", p))
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", host}, {":path", path}} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		return fail(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		return fail(err)
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		return fail(err)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return fail(err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := fr.WriteSettingsAck(); err != nil {
					return fail(err)
				}
			}
		case *http2.RSTStreamFrame:
			return fail(fmt.Errorf("stream reset: %v", f.ErrCode))
		case *http2.GoAwayFrame:
			return fail(fmt.Errorf("GOAWAY: %v", f.ErrCode))
		}
		if f.Header().StreamID == 1 && f.Header().Flags.Has(http2.FlagDataEndStream) {
			_ = c.SetDeadline(time.Time{})
			return c, nil
		}
	}
}
