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
//
// With -raw -fcgi-to unix:/path/php.sock -fcgi-script /path/x.php it is
// the floor of a Go FastCGI gateway: -fcgi-conns kept connections to the
// responder (PHP-FPM's workers), which requests wait for in turn; each
// request read sends one prebuilt FastCGI request for the script (the
// parameters nginx's fastcgi_params sends) and answers with what STDOUT
// carried, its header block passed on after a 200 status line and a
// Content-Length.
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
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"

	"httpd/modules/fastcgi/fcgi"
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
	fcgiTo := flag.String("fcgi-to", "", "with -raw: run -fcgi-script on this FastCGI responder (unix:/path or host:port) for every request")
	fcgiScript := flag.String("fcgi-script", "", "the script's file name (SCRIPT_FILENAME)")
	fcgiConns := flag.Int("fcgi-conns", 4, "kept connections to the FastCGI responder")
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
	if *raw && *fcgiTo != "" {
		serveFastCGI(*addr, *fcgiTo, *fcgiScript, *fcgiConns)
		return
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
		go acceptEach(ln, rawConn)
	}
	listenEach(addr, rawConn)
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
	listenEach(addr, func(c net.Conn) { proxyConn(c, upstream) })
}

// listenEach listens on addr and serves each connection with serve on a
// goroutine of its own.
func listenEach(addr string, serve func(net.Conn)) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	acceptEach(ln, serve)
}

func acceptEach(ln net.Listener, serve func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(c)
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

// serveFastCGI is -raw -fcgi-to: see the package doc.
func serveFastCGI(addr, to, script string, conns int) {
	network, address := "tcp", to
	if rest, ok := strings.CutPrefix(to, "unix:"); ok {
		network, address = "unix", rest
	}
	pool := make(chan *fcgiConn, conns)
	for range conns {
		nc, err := net.Dial(network, address)
		if err != nil {
			log.Fatal(err)
		}
		pool <- &fcgiConn{nc: nc, rd: fcgi.NewReader(nc, 16<<10), network: network, address: address}
	}
	req := fcgiRequest(script)
	listenEach(addr, func(c net.Conn) { fcgiClient(c, pool, req) })
}

type fcgiConn struct {
	nc               net.Conn
	rd               *fcgi.Reader
	network, address string // to dial again
}

// run sends req and appends what STDOUT carries to stdout.
func (fc *fcgiConn) run(req, stdout []byte) ([]byte, error) {
	if _, err := fc.nc.Write(req); err != nil {
		return stdout, err
	}
	for {
		rec, err := fc.rd.Next()
		if err != nil {
			return stdout, err
		}
		switch rec.Type {
		case fcgi.TypeStdout:
			stdout = append(stdout, rec.Content...)
		case fcgi.TypeEndRequest:
			return stdout, nil
		}
	}
}

// fcgiRequest is the one request -fcgi-to sends: GET of script, with
// the parameters of nginx's fastcgi_params.
func fcgiRequest(script string) []byte {
	name := "/" + filepath.Base(script)
	var pairs []byte
	for _, kv := range [][2]string{
		{"SCRIPT_FILENAME", script}, {"QUERY_STRING", ""}, {"REQUEST_METHOD", "GET"},
		{"CONTENT_TYPE", ""}, {"CONTENT_LENGTH", ""}, {"SCRIPT_NAME", name},
		{"REQUEST_URI", name}, {"DOCUMENT_URI", name}, {"DOCUMENT_ROOT", filepath.Dir(script)},
		{"SERVER_PROTOCOL", "HTTP/1.1"}, {"REQUEST_SCHEME", "http"}, {"GATEWAY_INTERFACE", "CGI/1.1"},
		{"SERVER_SOFTWARE", "gobare"}, {"REMOTE_ADDR", "127.0.0.1"}, {"REMOTE_PORT", "40000"},
		{"SERVER_ADDR", "127.0.0.1"}, {"SERVER_PORT", "80"}, {"SERVER_NAME", "localhost"},
		{"REDIRECT_STATUS", "200"}, {"HTTP_HOST", "localhost"},
	} {
		pairs = fcgi.AppendPair(pairs, kv[0], kv[1])
	}
	b := fcgi.AppendBeginRequest(nil, 1, fcgi.RoleResponder, fcgi.FlagKeepConn)
	b = fcgi.AppendStream(b, fcgi.TypeParams, 1, pairs)
	return fcgi.AppendRecord(b, fcgi.TypeStdin, 1, nil)
}

// fcgiClient answers each request read on c by running the script on a
// kept connection from pool.
func fcgiClient(c net.Conn, pool chan *fcgiConn, req []byte) {
	defer c.Close()
	in := make([]byte, 4096)
	var stdout, out []byte
	for {
		if _, err := c.Read(in); err != nil {
			return
		}
		fc := <-pool
		var err error
		for try := 0; try < 2; try++ {
			if stdout, err = fc.run(req, stdout[:0]); err == nil {
				break
			}
			// PHP-FPM closes a kept connection idle for some seconds.
			fc.nc.Close()
			if fc.nc, err = net.Dial(fc.network, fc.address); err != nil {
				break
			}
			fc.rd.Reset(fc.nc)
		}
		pool <- fc
		if err != nil {
			log.Fatal(err)
		}
		head, body, _ := bytes.Cut(stdout, []byte("\r\n\r\n"))
		out = append(out[:0], "HTTP/1.1 200 OK\r\nContent-Length: "...)
		out = strconv.AppendInt(out, int64(len(body)), 10)
		out = append(out, "\r\n"...)
		out = append(out, head...)
		out = append(out, "\r\n\r\n"...)
		out = append(out, body...)
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}
