// Command gobare is the bare net/http baseline of the benchmark: an
// http.FileServer over a folder, or with -hello a handler that answers
// every request with the same 1 KiB from memory (the floor of net/http
// itself). With -tls-addr it also serves HTTPS with HTTP/2; with -debug,
// net/http/pprof on another address, to see where memory goes.
package main

import (
	"bytes"
	"flag"
	"log"
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
	if *tlsAddr != "" {
		go func() {
			log.Fatal(http.ListenAndServeTLS(*tlsAddr, *cert, *key, h))
		}()
	}
	log.Fatal(http.ListenAndServe(*addr, h))
}
