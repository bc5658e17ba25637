// Command gobare is the bare net/http baseline of the benchmark: an
// http.FileServer over a folder, or with -hello a handler that answers
// every request with the same 1 KiB from memory (the floor of net/http
// itself). With -tls-addr it also serves HTTPS with HTTP/2; with -debug,
// net/http/pprof on another address, to see where memory goes.
//
// With -raw it does not use net/http at all: one goroutine per
// connection reads into a 4 KiB buffer, counts the blank lines that end
// request heads (bodies are not expected) and writes one prebuilt 1 KiB
// answer per request, all answers to a read in one write. No parsing, no
// headers map, no date: the floor of any Go server that keeps a
// goroutine per connection on the runtime's netpoller, plain or over
// crypto/tls, which is what bench/RESULTS.md compares h2o with.
package main

import (
	"bytes"
	"crypto/tls"
	"flag"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "plain HTTP address")
	tlsAddr := flag.String("tls-addr", "", "HTTPS address (with -cert and -key)")
	cert := flag.String("cert", "", "certificate file")
	key := flag.String("key", "", "key file")
	root := flag.String("root", ".", "folder served")
	hello := flag.Bool("hello", false, "answer every request with 1 KiB from memory")
	debug := flag.String("debug", "", "serve net/http/pprof on this address too")
	raw := flag.Bool("raw", false, "answer every request with 1 KiB, without net/http")
	flag.Parse()
	if *debug != "" {
		go func() { log.Fatal(http.ListenAndServe(*debug, nil)) }() // DefaultServeMux has pprof
	}

	var h http.Handler = http.FileServer(http.Dir(*root))
	if *hello {
		body := bytes.Repeat([]byte("x"), 1024)
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hd := w.Header()
			hd["Content-Type"] = []string{"text/html; charset=utf-8"}
			hd["Content-Length"] = []string{"1024"}
			_, _ = w.Write(body)
		})
	}
	if p := os.Getenv("HTTPD_CPUPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		go func() {
			<-sig
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(0)
		}()
	}
	if *raw {
		serveRaw(*addr, *tlsAddr, *cert, *key)
		return
	}
	if *tlsAddr != "" {
		go func() {
			log.Fatal(http.ListenAndServeTLS(*tlsAddr, *cert, *key, h))
		}()
	}
	log.Fatal(http.ListenAndServe(*addr, h))
}

// rawAnswer is the answer of -raw to every request.
var rawAnswer = append([]byte("HTTP/1.1 200 OK\r\nServer: gobare\r\nContent-Type: text/html\r\nContent-Length: 1024\r\n\r\n"),
	bytes.Repeat([]byte("x"), 1024)...)

// serveRaw serves -raw on addr and, with tlsAddr, over TLS as well.
func serveRaw(addr, tlsAddr, cert, key string) {
	if tlsAddr != "" {
		kp, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			log.Fatal(err)
		}
		ln, err := tls.Listen("tcp", tlsAddr, &tls.Config{Certificates: []tls.Certificate{kp}, NextProtos: []string{"http/1.1"}})
		if err != nil {
			log.Fatal(err)
		}
		go acceptRaw(ln)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	acceptRaw(ln)
}

func acceptRaw(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go rawConn(c)
	}
}

// rawConn answers each request head on c with rawAnswer.
func rawConn(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	var out []byte
	n := 0    // bytes in buf
	seen := 0 // bytes of buf already searched
	for {
		m, err := c.Read(buf[n:])
		if err != nil {
			return
		}
		n += m
		out = out[:0]
		start := 0
		for {
			i := bytes.Index(buf[max(seen, start):n], []byte("\r\n\r\n"))
			if i < 0 {
				break
			}
			start = max(seen, start) + i + 4
			seen = start
			out = append(out, rawAnswer...)
		}
		if start > 0 {
			n = copy(buf, buf[start:n])
			seen = 0
		} else if n == len(buf) {
			return // a head larger than the buffer
		}
		seen = max(0, n-3)
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}
