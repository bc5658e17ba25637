package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func parseString(s string, max int) (*request, error) {
	r := new(request)
	return r, parseRequest([]byte(s), r, max)
}

func TestParseRequest(t *testing.T) {
	big := strings.Repeat("a", 200)
	tests := []struct {
		name, in string
		code     int // 0: parses; -1: incomplete; else the status refused with
		check    func(*request) string
	}{
		{"simple", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, func(r *request) string {
			if string(r.method) != "GET" || string(r.target) != "/" || r.minor != 1 || string(r.host) != "a" || r.close {
				return "fields"
			}
			return ""
		}},
		{"bare LF", "GET /x?y=1 HTTP/1.1\nHost: a\n\n", 0, nil},
		{"HTTP/1.0 without Host, closes", "GET / HTTP/1.0\r\n\r\n", 0, func(r *request) string {
			if !r.close {
				return "HTTP/1.0 should close"
			}
			return ""
		}},
		{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, func(r *request) string {
			if r.close {
				return "should stay open"
			}
			return ""
		}},
		{"Connection: close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", 0, func(r *request) string {
			if !r.close {
				return "should close"
			}
			return ""
		}},
		{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 0, nil},
		{"absolute form", "GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n", 0, nil},
		{"HTTP/1.2 is 1.x", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 0, nil},
		{"header OWS trimmed", "GET / HTTP/1.1\r\nHost: a\r\nX:  v v \t\r\n\r\n", 0, func(r *request) string {
			if v, _ := r.header("x"); string(v) != "v v" {
				return "value " + strconv.Quote(string(v))
			}
			return ""
		}},
		{"same Content-Length twice", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 0, func(r *request) string {
			if r.contentLength != 3 {
				return "length"
			}
			return ""
		}},
		{"Expect 100-continue", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n", 0, func(r *request) string {
			if !r.expectContinue {
				return "expect"
			}
			return ""
		}},

		{"incomplete line", "GET / HTTP/1.1", -1, nil},
		{"incomplete head", "GET / HTTP/1.1\r\nHost: a\r\n", -1, nil},
		{"empty", "", -1, nil},

		{"no version", "GET /\r\n\r\n", 400, nil},
		{"double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, nil},
		{"leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, nil},
		{"bad method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, nil},
		{"target not origin form", "GET a HTTP/1.1\r\nHost: a\r\n\r\n", 400, nil},
		{"* without OPTIONS", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, nil},
		{"control in target", "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", 400, nil},
		{"bad version", "GET / HTTX/1.1\r\nHost: a\r\n\r\n", 400, nil},
		{"version junk", "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400, nil},
		{"HTTP/2.0 line", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, nil},
		{"missing Host", "GET / HTTP/1.1\r\n\r\n", 400, nil},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, nil},
		{"bad Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, nil},
		{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, nil},
		{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nfoo\r\n\r\n", 400, nil},
		{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400, nil},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400, nil},
		{"control in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400, nil},
		{"bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, nil},
		{"bad Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", 400, nil},
		{"Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n", 400, nil},
		{"huge Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400, nil},
		{"differing Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400, nil},
		{"CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400, nil},
		{"TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400, nil},
		{"TE gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, nil},
		{"TE twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400, nil},
		{"TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 501, nil},
		{"Expect other", "GET / HTTP/1.1\r\nHost: a\r\nExpect: x\r\n\r\n", 417, nil},
		{"head over limit", "GET / HTTP/1.1\r\nHost: a\r\nX: " + big + "\r\n\r\n", 431, nil},
		{"incomplete head over limit", "GET / HTTP/1.1\r\nHost: a\r\nX: " + big, 431, nil},
		{"request line over limit", "GET /" + big, 431, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseString(tt.in, 128)
			switch {
			case tt.code == 0:
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if r.headLen != len(tt.in) {
					t.Fatalf("headLen %d, want %d", r.headLen, len(tt.in))
				}
				if tt.check != nil {
					if msg := tt.check(r); msg != "" {
						t.Fatal(msg)
					}
				}
			case tt.code == -1:
				if err != errIncomplete {
					t.Fatalf("got %v, want incomplete", err)
				}
			default:
				he, ok := err.(*httpError)
				if !ok || he.code != tt.code {
					t.Fatalf("got %v, want %d", err, tt.code)
				}
			}
		})
	}
}

func TestHeaderLimits(t *testing.T) {
	head := "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	if _, err := parseString(head, len(head)); err != nil {
		t.Fatalf("head of exactly the limit: %v", err)
	}
	if _, err := parseString(head, len(head)-1); err != errHeaderTooLarge {
		t.Fatalf("one byte over: %v", err)
	}
	// A head under the limit followed by a body past it is fine.
	in := "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("b", 100)
	if _, err := parseString(in, 60); err != nil {
		t.Fatalf("body counted in the head limit: %v", err)
	}
	var b strings.Builder
	b.WriteString("GET / HTTP/1.1\r\nHost: a\r\n")
	for i := 0; i < maxHeaders; i++ {
		fmt.Fprintf(&b, "X-%d: v\r\n", i)
	}
	b.WriteString("\r\n")
	if _, err := parseString(b.String(), 1<<20); err != errTooManyHeaders {
		t.Fatalf("too many fields: %v", err)
	}
}

func TestChunked(t *testing.T) {
	tests := []struct {
		name, in, body string
		err            error // nil: complete
	}{
		{"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", nil},
		{"two chunks, hex", "5\r\nhello\r\nA\r\n0123456789\r\n0\r\n\r\n", "hello0123456789", nil},
		{"extension", "5;name=val\r\nhello\r\n0;x\r\n\r\n", "hello", nil},
		{"trailers", "1\r\na\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n", "a", nil},
		{"leading zeros", "0005\r\nhello\r\n0\r\n\r\n", "hello", nil},
		{"empty body", "0\r\n\r\n", "", nil},
		{"bad size", "zz\r\nhello\r\n0\r\n\r\n", "", errBadChunk},
		{"empty size", "\r\nhello\r\n0\r\n\r\n", "", errBadChunk},
		{"size with sign", "-5\r\nhello\r\n0\r\n\r\n", "", errBadChunk},
		{"size then junk", "5x\r\nhello\r\n0\r\n\r\n", "", errBadChunk},
		{"size then space", "5 \r\nhello\r\n0\r\n\r\n", "", errBadChunk},
		{"17 hex digits", "00000000000000005\r\nhello\r\n0\r\n\r\n", "", errBadChunk},
		{"overflow", "ffffffffffffffff\r\n", "", errBadChunk},
		{"bare LF after size", "5\nhello\r\n0\r\n\r\n", "", errBadChunk},
		{"bare CR in size line", "5\r;\r\nhello\r\n0\r\n\r\n", "", errBadChunk},
		{"data longer than size", "5\r\nhello!\r\n0\r\n\r\n", "", errBadChunk},
		{"data then LF", "5\r\nhello\n0\r\n\r\n", "", errBadChunk},
		{"bad trailer", "0\r\nnot a field\r\n\r\n", "", errBadChunk},
		{"bare LF ends", "0\r\n\n", "", errBadChunk},
		{"too large", "ffff\r\n", "", errBodyTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst []byte
			n, err := parseChunked([]byte(tt.in), 1000, &dst)
			if err != tt.err {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if n != len(tt.in) || string(dst) != tt.body {
				t.Fatalf("n %d body %q", n, dst)
			}
			// Every proper prefix is incomplete, never an error.
			for i := 0; i < len(tt.in); i++ {
				if _, err := parseChunked([]byte(tt.in[:i]), 1000, nil); err != errIncomplete {
					t.Fatalf("prefix %q: %v", tt.in[:i], err)
				}
			}
		})
	}
}

// pipeline is three requests with bodies of every kind, back to back.
const pipeline = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n" +
	"POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" +
	"POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n" +
	"GET /4 HTTP/1.1\r\nHost: a\r\n\r\n"

func TestPipelineParse(t *testing.T) {
	data := []byte(pipeline)
	var got []string
	var r request
	for len(data) > 0 {
		if err := parseRequest(data, &r, 1<<10); err != nil {
			t.Fatalf("at %q: %v", data, err)
		}
		var body []byte
		n, err := bodyLen(&r, data[r.headLen:], 1<<10, &body)
		if err != nil {
			t.Fatal(err)
		}
		if !r.chunked {
			body = data[r.headLen : r.headLen+n]
		}
		got = append(got, string(r.method)+" "+string(r.target)+" "+string(body))
		data = data[r.headLen+n:]
	}
	want := []string{"GET /1 ", "POST /2 hello", "POST /3 abcde", "GET /4 "}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q", got)
	}
}

// echo answers each request with its method, target and body.
type echo struct{}

func (echo) Serve(w *Response, r *request, body []byte) {
	b := append([]byte(string(r.method)+" "+string(r.target)+" "), body...)
	w.Static(200, []byte("Content-Type: text/plain\r\n"), b)
}

func httpEcho(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), b)
}

func startServer(t *testing.T, cfg Config, h Handler) string {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	s, err := NewServer(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Serve(); close(done) }()
	t.Cleanup(func() { s.Close(); <-done })
	return "127.0.0.1:" + strconv.Itoa(s.Port())
}

// TestPipelineServe sends the pipeline split at random points to every
// engine variant and reads the four answers in order.
func TestPipelineServe(t *testing.T) {
	variants := []struct {
		name string
		cfg  Config
		h    Handler
	}{
		{"low inline", Config{Loops: 1}, echo{}},
		{"adapter inline", Config{Loops: 1}, &HandlerAdapter{H: http.HandlerFunc(httpEcho), Reuse: true}},
		{"adapter goroutine", Config{Loops: 2, Goroutine: true}, &HandlerAdapter{H: http.HandlerFunc(httpEcho)}},
	}
	rng := rand.New(rand.NewSource(1))
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			addr := startServer(t, v.cfg, v.h)
			for iter := 0; iter < 20; iter++ {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				go func() {
					data := []byte(pipeline)
					for len(data) > 0 {
						n := 1 + rng.Intn(len(data))
						if iter == 0 {
							n = len(data)
						}
						c.Write(data[:n])
						data = data[n:]
						time.Sleep(time.Millisecond)
					}
				}()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(c)
				for _, want := range []string{"GET /1 ", "POST /2 hello", "POST /3 abcde", "GET /4 "} {
					resp, err := http.ReadResponse(br, nil)
					if err != nil {
						t.Fatal(err)
					}
					b, _ := io.ReadAll(resp.Body)
					if resp.StatusCode != 200 || string(b) != want {
						t.Fatalf("got %d %q, want %q", resp.StatusCode, b, want)
					}
				}
				c.Close()
			}
		})
	}
}

// TestRefusals checks the answers to bad requests on the wire: status,
// and the connection closed after it.
func TestRefusals(t *testing.T) {
	addr := startServer(t, Config{Loops: 1, MaxHeaderBytes: 1024, MaxBodyBytes: 64}, echo{})
	tests := []struct{ in, status string }{
		{"GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("a", 2000) + "\r\n\r\n", "431"},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
		{"GET / HTTP/1.1\r\n\r\n", "400"},
		{"GET /\r\n\r\n", "400"},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n", "413"},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", "400"},
	}
	for _, tt := range tests {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte(tt.in + "GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
		all, _ := io.ReadAll(c) // ends at the server's close
		c.Close()
		if !bytes.HasPrefix(all, []byte("HTTP/1.1 "+tt.status+" ")) || bytes.Count(all, []byte("HTTP/1.1")) != 1 {
			t.Errorf("%q: got %q", tt.in[:min(len(tt.in), 40)], all)
		}
	}
}

func TestExpectContinue(t *testing.T) {
	addr := startServer(t, Config{Loops: 1}, echo{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"))
	br := bufio.NewReader(c)
	line, _ := br.ReadString('\n')
	if line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q", line)
	}
	br.ReadString('\n')
	c.Write([]byte("ok"))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "POST /e ok" {
		t.Fatalf("got %q", b)
	}
}

func TestReadHeaderTimeout(t *testing.T) {
	addr := startServer(t, Config{Loops: 1, ReadHeaderTimeout: 200 * time.Millisecond}, echo{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET / HTTP/1.1\r\nHost"))
	c.SetDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	n, err := c.Read(make([]byte, 10))
	if n != 0 || err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("read %d %v after %v", n, err, time.Since(start))
	}
}

func TestAdapterRequest(t *testing.T) {
	reqs := make(chan *http.Request, 1)
	addr := startServer(t, Config{Loops: 1}, &HandlerAdapter{H: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs <- r.Clone(r.Context())
		w.WriteHeader(204)
	})})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("GET /a%20b?q=1 HTTP/1.1\r\nHost: h.test:8\r\nx-custom: 1\r\nX-Custom: 2\r\nuser-agent: u\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 204 {
		t.Fatal(resp, err)
	}
	got := <-reqs
	hdr := got.Header
	if got.Method != "GET" || got.URL.Path != "/a b" || got.URL.RawQuery != "q=1" || got.Host != "h.test:8" ||
		got.RequestURI != "/a%20b?q=1" || got.ProtoMinor != 1 {
		t.Fatalf("request %+v", got)
	}
	if fmt.Sprint(hdr["X-Custom"]) != "[1 2]" || hdr.Get("User-Agent") != "u" || hdr.Get("Host") != "" {
		t.Fatalf("header %v", hdr)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(pipeline))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.0\nConnection: keep-alive\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r request
		err := parseRequest(data, &r, 512)
		if err != nil {
			if _, ok := err.(*httpError); !ok && err != errIncomplete {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if r.headLen > len(data) || r.headLen > 512 {
			t.Fatalf("headLen %d of %d", r.headLen, len(data))
		}
		if r.chunked && r.contentLength >= 0 {
			t.Fatal("both chunked and Content-Length")
		}
		if r.minor >= 1 && r.host == nil {
			t.Fatal("HTTP/1.1 without Host")
		}
		// The head alone parses the same.
		var r2 request
		if err := parseRequest(data[:r.headLen], &r2, 512); err != nil || r2.headLen != r.headLen {
			t.Fatalf("head alone: %v", err)
		}
		var body []byte
		n, err := bodyLen(&r, data[r.headLen:], 1<<16, &body)
		if err == nil && (n > len(data)-r.headLen || len(body) > n) {
			t.Fatalf("body %d of %d", n, len(data)-r.headLen)
		}
	})
}

const benchHead = "GET /1k.html HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n"

func TestParseAllocs(t *testing.T) {
	data := []byte(pipeline)
	var r request
	n := testing.AllocsPerRun(100, func() {
		d := data
		for len(d) > 0 {
			if parseRequest(d, &r, 1<<10) != nil {
				t.Fatal("parse")
			}
			m, _ := bodyLen(&r, d[r.headLen:], 1<<10, nil)
			d = d[r.headLen+m:]
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func BenchmarkParse(b *testing.B) {
	data := []byte(benchHead)
	var r request
	b.ReportAllocs()
	for b.Loop() {
		if parseRequest(data, &r, 1<<20) != nil {
			b.Fatal("parse")
		}
	}
}

// BenchmarkServe runs the parse, handler and response building of one
// request without the network: low-level API against the http.Handler
// adapter, with and without object reuse.
func BenchmarkServe(b *testing.B) {
	startDateClock()
	for _, v := range []struct {
		name string
		h    Handler
	}{
		{"low", lowHello{}},
		{"adapter-reuse", &HandlerAdapter{H: http.HandlerFunc(httpHello), Reuse: true}},
		{"adapter-noreuse", &HandlerAdapter{H: http.HandlerFunc(httpHello)}},
	} {
		b.Run(v.name, func(b *testing.B) {
			s := &Server{cfg: Config{MaxHeaderBytes: 1 << 20, MaxBodyBytes: 1 << 20}, h: v.h}
			c := &conn{}
			st := new(state)
			data := []byte(benchHead)
			b.ReportAllocs()
			for b.Loop() {
				if s.process(c, st, data) != len(data) {
					b.Fatal("process")
				}
				c.out = c.out[:0]
			}
		})
	}
}

func TestAdapterPanic(t *testing.T) {
	addr := startServer(t, Config{Loops: 1}, &HandlerAdapter{H: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			w.Write([]byte("partial"))
			panic(http.ErrAbortHandler)
		}
		w.Write([]byte("fine"))
	})})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("GET /ok HTTP/1.1\r\nHost: a\r\n\r\nGET /panic HTTP/1.1\r\nHost: a\r\n\r\nGET /ok HTTP/1.1\r\nHost: a\r\n\r\n"))
	all, _ := io.ReadAll(c)
	if bytes.Count(all, []byte("HTTP/1.1 200")) != 1 || !bytes.HasSuffix(all, []byte("fine")) {
		t.Fatalf("got %q", all)
	}
}
