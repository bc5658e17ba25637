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
//
// With -raw -proxy-to host:port it is the floor of a Go reverse proxy
// instead: each client connection gets one kept connection to the
// upstream, each request head read is written to it as it came, and the
// answer (a head and a Content-Length body) is read whole and written to
// the client in one write. Two reads and two writes per request, nothing
// parsed beyond Content-Length: what bench/proxy's proxy-1k costs a Go
// server with a goroutine per connection before any proxy logic.
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
	proxyTo := flag.String("proxy-to", "", "with -raw: pass every request to this upstream instead")
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
	if *raw && *proxyTo != "" {
		serveProxy(*addr, *proxyTo)
		return
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

// serveProxy is -raw -proxy-to: see the package doc.
func serveProxy(addr, upstream string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go proxyConn(c, upstream)
	}
}

// proxyConn passes each request on c to its own upstream connection and
// the answer back. It expects one request per read, as wrk sends them.
func proxyConn(c net.Conn, upstream string) {
	defer c.Close()
	up, err := net.Dial("tcp", upstream)
	if err != nil {
		log.Print(err)
		return
	}
	defer up.Close()
	in := make([]byte, 4096)
	resp := make([]byte, 0, 8192)
	for {
		n, err := c.Read(in)
		if err != nil {
			return
		}
		if _, err := up.Write(in[:n]); err != nil {
			return
		}
		resp, err = readAnswer(up, resp[:0])
		if err != nil {
			log.Print(err)
			return
		}
		if _, err := c.Write(resp); err != nil {
			return
		}
	}
}

// readAnswer appends one whole answer read from up to b: the head, then
// as many body bytes as its Content-Length says.
func readAnswer(up net.Conn, b []byte) ([]byte, error) {
	end, want := -1, 0
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := up.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if end < 0 {
			if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
				end = i + 4
				head := bytes.ToLower(b[:end])
				if j := bytes.Index(head, []byte("\r\ncontent-length:")); j >= 0 {
					v := head[j+len("\r\ncontent-length:"):]
					v = bytes.TrimLeft(v[:bytes.IndexByte(v, '\r')], " ")
					for _, d := range v {
						want = want*10 + int(d-'0')
					}
				}
			}
		}
		if end >= 0 && len(b) >= end+want {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}
