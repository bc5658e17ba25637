// Command engine is a prototype HTTP/1.1 engine measured against
// net/http: per-CPU epoll event loops that park idle keep-alive
// connections with no goroutine and no buffers, a zero-allocation request
// parser, and two APIs: a low-level one (Handler) and an http.Handler
// adapter. It serves one benchmark site: GET /1k.html answers 1 KiB from
// memory, anything else 404, the same on every back end:
//
//	engine -addr 127.0.0.1:8081 -api low            # low-level API, handler inline on the loop
//	engine -addr 127.0.0.1:8081 -api handler        # http.Handler adapter, inline
//	engine -addr 127.0.0.1:8081 -api handler -goroutine   # adapter, handler on a goroutine
//	engine -addr 127.0.0.1:8081 -api nethttp        # the same http.Handler on net/http
//
// See README.md for the design, what it covers, and the measurements.
package main

import (
	"bytes"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"
)

var (
	helloBody = bytes.Repeat([]byte("x"), 1024)
	helloHdr  = []byte("Content-Type: text/html; charset=utf-8\r\n")
	notFound  = []byte("404 page not found\n")
	nfHdr     = []byte("Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n")
)

// lowHello is the benchmark site on the low-level API.
type lowHello struct{}

func (lowHello) Serve(w *Response, r *request, body []byte) {
	if string(r.target) == "/1k.html" {
		w.Static(200, helloHdr, helloBody)
		return
	}
	w.Static(404, nfHdr, notFound)
}

// httpHello is the benchmark site as an http.Handler.
func httpHello(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/1k.html" {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"text/html; charset=utf-8"}
	h["Content-Length"] = []string{"1024"}
	_, _ = w.Write(helloBody)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	api := flag.String("api", "low", "low, handler (http.Handler adapter) or nethttp")
	goroutine := flag.Bool("goroutine", false, "run handlers on a goroutine, not inline on the loop")
	reuse := flag.Bool("reuse", true, "adapter: reuse Request, URL and Header maps between requests")
	loops := flag.Int("loops", 0, "event loops (GOMAXPROCS when 0)")
	flag.Parse()

	if p := os.Getenv("ENGINE_CPUPROFILE"); p != "" {
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

	if *api == "nethttp" {
		srv := &http.Server{Addr: *addr, Handler: http.HandlerFunc(httpHello),
			ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
		log.Fatal(srv.ListenAndServe())
	}
	var h Handler = lowHello{}
	if *api == "handler" {
		h = &HandlerAdapter{H: http.HandlerFunc(httpHello), Reuse: *reuse}
	} else if *api != "low" {
		log.Fatalf("unknown -api %q", *api)
	}
	s, err := NewServer(Config{Addr: *addr, Loops: *loops, Goroutine: *goroutine,
		ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute, WriteTimeout: time.Minute}, h)
	if err != nil {
		log.Fatal(err)
	}
	s.Serve()
}
