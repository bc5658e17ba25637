package h2_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http2"

	"httpd/vhost/h2"
)

// startStd serves h with net/http's own HTTP/2 (h2c with prior
// knowledge) and returns its base URL.
func startStd(t testing.TB, h http.Handler) string {
	t.Helper()
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: &p, ErrorLog: log.New(io.Discard, "", 0)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// view answers with the request as the handler sees it. It leaves out
// r.Body == http.NoBody, where the engine deliberately differs.
func view(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	fmt.Fprintf(w, "%s %s %s %d.%d host=%s url=%s path=%q rawpath=%q query=%q cl=%d te=%q close=%t tls=%t body=%q err=%v\n",
		r.Method, r.RequestURI, r.Proto, r.ProtoMajor, r.ProtoMinor, r.Host, r.URL, r.URL.Path, r.URL.RawPath,
		r.URL.RawQuery, r.ContentLength, r.TransferEncoding, r.Close, r.TLS != nil, body, err)
	for _, k := range slices.Sorted(maps.Keys(r.Header)) {
		fmt.Fprintf(w, "%s: %q\n", k, r.Header[k])
	}
	for _, k := range slices.Sorted(maps.Keys(r.Trailer)) {
		fmt.Fprintf(w, "trailer %s: %q\n", k, r.Trailer[k])
	}
}

type diffCase struct {
	name       string
	method     string
	body       string
	unknownLen bool
	header     http.Header
	trailer    http.Header
	h          http.HandlerFunc
}

func diffCases() []diffCase {
	mib := strings.Repeat("0123456789abcdef", 1<<16)
	return []diffCase{
		{name: "view GET", method: "GET", h: view},
		{name: "view HEAD", method: "HEAD", h: view},
		{name: "view OPTIONS", method: "OPTIONS", h: view},
		{name: "view custom method", method: "PROPFIND", h: view},
		{name: "view POST", method: "POST", body: "abc", h: view},
		{name: "view POST unknown length", method: "POST", body: "abc", unknownLen: true, h: view},
		{name: "view POST empty", method: "POST", h: view},
		{name: "view PUT trailers", method: "PUT", body: "abc", trailer: http.Header{"X-Req-Trailer": {"tv"}}, h: view},
		{name: "view cookies", method: "GET", header: http.Header{"Cookie": {"a=1; b=2", "c=3"}}, h: view},
		{name: "view repeated header", method: "GET", header: http.Header{"X-Rep": {"1", "2", "3"}, "Accept": {"a/b", "c/d"}}, h: view},
		{name: "view many headers", method: "GET", header: manyHeaders(60), h: view},
		{name: "view te trailers", method: "GET", header: http.Header{"Te": {"trailers"}}, h: view},
		{name: "view huge request header", method: "GET", header: http.Header{"X-Big": {strings.Repeat("b", 40<<10)}}, h: view},
		{name: "huge response header", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			for i := range 3 {
				w.Header().Set(fmt.Sprintf("X-Big-%d", i), strings.Repeat("r", 20<<10))
			}
			io.WriteString(w, "x")
		}},
		{name: "HEAD with 1 MiB write", method: "HEAD", h: func(w http.ResponseWriter, r *http.Request) {
			_, err := io.WriteString(w, mib)
			if err != nil {
				panic(err)
			}
		}},
		{name: "small text", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello")
		}},
		{name: "html sniffed", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<!DOCTYPE html><p>x")
		}},
		{name: "binary sniffed", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0})
		}},
		{name: "explicit content type", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"a":1}`)
		}},
		{name: "content type suppressed", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Content-Type"] = nil
			io.WriteString(w, "<html>")
		}},
		{name: "date suppressed", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Date"] = nil
			io.WriteString(w, "x")
		}},
		{name: "empty 200", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {}},
		{name: "404 no body", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
		}},
		{name: "http.Error", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "nope", http.StatusForbidden)
		}},
		{name: "204 with write", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(204)
			io.WriteString(w, "x")
		}},
		{name: "304 with write", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Etag", `"e"`)
			w.WriteHeader(304)
			io.WriteString(w, "x")
		}},
		{name: "HEAD with write", method: "HEAD", h: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello head")
		}},
		{name: "HEAD with content length", method: "HEAD", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
		}},
		{name: "content length set", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "12345")
		}},
		{name: "content length set, body short", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "123")
		}},
		{name: "flush then write", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			io.WriteString(w, "b")
		}},
		{name: "flush before write", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
			io.WriteString(w, "<html>")
		}},
		{name: "1 MiB", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, mib)
		}},
		{name: "1 MiB with length", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(mib)))
			io.WriteString(w, mib)
		}},
		{name: "declared trailers", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-A, X-B")
			io.WriteString(w, "body")
			w.Header().Set("X-A", "1")
			w.Header().Set("X-B", "2")
			w.Header().Set("X-Undeclared", "3")
		}},
		{name: "declared trailer unset", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-A")
			io.WriteString(w, "body")
		}},
		{name: "TrailerPrefix", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "body")
			w.Header().Set(http.TrailerPrefix+"X-Late", "z")
		}},
		{name: "trailers without body", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-A")
			w.WriteHeader(200)
			w.Header().Set("X-A", "1")
		}},
		{name: "header values", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Add("Set-Cookie", "a=1")
			w.Header().Add("Set-Cookie", "b=2; Path=/")
			w.Header().Add("X-Multi", "1")
			w.Header().Add("X-Multi", "2")
			w.Header()["x-lower"] = []string{"v"}
			w.Header().Set("X-Empty", "")
		}},
		{name: "invalid header value", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Bad", "a\nb")
			w.Header().Set("X-Good", "ok")
		}},
		{name: "header after WriteHeader", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(202)
			w.Header().Set("X-Late", "1")
			io.WriteString(w, "x")
		}},
		{name: "WriteHeader twice", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(201)
			w.WriteHeader(500)
		}},
		{name: "103 early hints", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(103)
			w.Header().Set("X-Final", "1")
			io.WriteString(w, "final")
		}},
		{name: "connection close", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		}},
		{name: "transfer-encoding set", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Transfer-Encoding", "chunked")
			io.WriteString(w, "x")
		}},
		{name: "large body unread", method: "POST", body: mib, h: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "not reading")
		}},
		{name: "large body partly read", method: "POST", body: mib, h: func(w http.ResponseWriter, r *http.Request) {
			b := make([]byte, 100)
			n, err := io.ReadFull(r.Body, b)
			fmt.Fprintf(w, "%d %v", n, err)
		}},
		{name: "panic", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			panic("diff panic")
		}},
		{name: "ErrAbortHandler after flush", method: "GET", h: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "part")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}},
	}
}

func manyHeaders(n int) http.Header {
	h := http.Header{}
	for i := range n {
		h.Set(fmt.Sprintf("X-H-%02d", i), strings.Repeat("v", i))
	}
	return h
}

var (
	streamIDs = regexp.MustCompile(`stream ID \d+`)
	addrs     = regexp.MustCompile(`127\.0\.0\.1:\d+`)
)

// normErr renders err without stream IDs and addresses, which differ
// between the two servers.
func normErr(err error) string {
	return addrs.ReplaceAllString(streamIDs.ReplaceAllString(err.Error(), "stream ID N"), "ADDR")
}

// outcome renders what the client got, without the Date value.
func outcome(resp *http.Response, err error) string {
	if err != nil {
		return "error: " + normErr(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d content-length=%d\n", resp.Proto, resp.StatusCode, resp.ContentLength)
	for _, k := range slices.Sorted(maps.Keys(resp.Header)) {
		v := resp.Header[k]
		if k == "Date" {
			v = []string{"<date>"}
		}
		fmt.Fprintf(&b, "%s: %q\n", k, v)
	}
	if len(body) > 512 {
		fmt.Fprintf(&b, "body: %d bytes, sha256 %x\n", len(body), sha256.Sum256(body))
	} else {
		fmt.Fprintf(&b, "body: %q\n", body)
	}
	if err != nil {
		fmt.Fprintf(&b, "body error: %s\n", normErr(err))
	}
	for _, k := range slices.Sorted(maps.Keys(resp.Trailer)) {
		fmt.Fprintf(&b, "trailer %s: %q\n", k, resp.Trailer[k])
	}
	return b.String()
}

// TestDifferential serves the same handlers with the engine and with
// net/http's HTTP/2 server, sends both the same requests, and compares
// status, header fields (not the Date value), body and trailers.
func TestDifferential(t *testing.T) {
	cases := diffCases()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cases[atoi(strings.TrimPrefix(r.URL.Path, "/case/"))].h(w, r)
	})
	eng := startServer(t, &h2.Server{}, h, nil)
	std := startStd(t, h)
	engClient, stdClient := h2cClient(t), h2cClient(t)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			do := func(c *http.Client, base string) string {
				var body io.Reader
				if tc.body != "" {
					body = strings.NewReader(tc.body)
					if tc.unknownLen {
						body = io.MultiReader(body)
					}
				}
				path := fmt.Sprintf("/case/%d", i)
				if strings.HasPrefix(tc.name, "view") {
					path += "/x%20y/%2F;p?q=%41&z"
				}
				req, err := http.NewRequest(tc.method, base+path, body)
				if err != nil {
					t.Fatal(err)
				}
				req.Host = "example.test"
				for k, v := range tc.header {
					req.Header[k] = v
				}
				if tc.trailer != nil {
					req.Trailer = tc.trailer.Clone()
				}
				return outcome(c.Do(req))
			}
			got, want := do(engClient, eng.url), do(stdClient, std)
			if got != want {
				t.Errorf("engine and net/http differ\nengine:\n%s\nnet/http:\n%s%s", got, want, lineDiff(got, want))
			}
		})
	}
}

// lineDiff lists the lines found in only one of a and b.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out bytes.Buffer
	for _, l := range al {
		if !slices.Contains(bl, l) {
			fmt.Fprintf(&out, "\n- engine only:   %s", l)
		}
	}
	for _, l := range bl {
		if !slices.Contains(al, l) {
			fmt.Fprintf(&out, "\n+ net/http only: %s", l)
		}
	}
	return out.String()
}

// renderRaw renders what the server sent on stream 1, or its GOAWAY.
// Error statuses are compared without their bodies, whose text is free.
func renderRaw(c *rawConn) string {
	if c.goaway != nil {
		return "GOAWAY " + c.goaway.String()
	}
	s := c.stream(1)
	if s.rst != nil {
		return "RST_STREAM " + s.rst.String()
	}
	if !strings.HasPrefix(s.status, "2") {
		return "status " + s.status
	}
	return "status " + s.status + "\n" + s.body.String()
}

// TestDifferentialRaw sends hand-made requests, frame by frame, to the
// engine and to net/http's HTTP/2 server and compares what stream 1 gets.
func TestDifferentialRaw(t *testing.T) {
	get := func(extra ...string) func(c *rawConn) {
		return func(c *rawConn) { c.headers(1, true, request("GET", "/", extra...)...) }
	}
	fields := func(f ...string) func(c *rawConn) {
		return func(c *rawConn) { c.headers(1, true, f...) }
	}
	post := func(body string, extra ...string) func(c *rawConn) {
		return func(c *rawConn) {
			c.headers(1, false, request("POST", "/", extra...)...)
			if err := c.fr.WriteData(1, true, []byte(body)); err != nil {
				c.t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name string
		send func(c *rawConn)
	}{
		{"plain GET", get()},
		{"host header, no :authority", fields(":method", "GET", ":scheme", "http", ":path", "/", "host", "h.example")},
		{":authority and host differ", get("host", "other.example")},
		{"no :authority, no host", fields(":method", "GET", ":scheme", "http", ":path", "/")},
		{"OPTIONS *", fields(":method", "OPTIONS", ":scheme", "http", ":path", "*", ":authority", "a.example")},
		{"path without slash", fields(":method", "GET", ":scheme", "http", ":path", "abc", ":authority", "a.example")},
		{"absolute-form path", fields(":method", "GET", ":scheme", "http", ":path", "http://x.example/y", ":authority", "a.example")},
		{"empty :path", fields(":method", "GET", ":scheme", "http", ":path", "", ":authority", "a.example")},
		{"https scheme on plain TCP", fields(":method", "GET", ":scheme", "https", ":path", "/s", ":authority", "a.example")},
		{"CONNECT", fields(":method", "CONNECT", ":authority", "a.example:443")},
		{"CONNECT with :path", fields(":method", "CONNECT", ":scheme", "http", ":path", "/", ":authority", "a.example:443")},
		{"extended CONNECT unannounced", fields(":method", "CONNECT", ":protocol", "websocket", ":scheme", "http", ":path", "/", ":authority", "a.example")},
		{"unknown pseudo-header", get(":foo", "bar")},
		{"duplicate :path", fields(":method", "GET", ":scheme", "http", ":path", "/", ":path", "/", ":authority", "a")},
		{"cookies split", get("cookie", "a=1", "cookie", "b=2", "cookie", "c=3; d=4")},
		{"repeated fields interleaved", get("x-a", "1", "x-b", "2", "x-a", "3", "cookie", "c=1", "x-b", "4", "x-c", "5")},
		{"header value with space around", get("x-space", " v ")},
		{"header value with NUL", get("x-nul", "a\x00b")},
		{"header value with CR LF", get("x-crlf", "a\r\nb")},
		{"header name with space", get("x y", "v")},
		{"empty header name", get("", "v")},
		{"te trailers and more", get("te", "trailers, deflate")},
		{"content-length not a number", post("abc", "content-length", "abc")},
		{"two content-lengths", post("abc", "content-length", "3", "content-length", "3")},
		{"content-length on GET with END_STREAM", get("content-length", "0")},
		{"content-length with END_STREAM, nonzero", get("content-length", "5")},
		{"body in several DATA frames", func(c *rawConn) {
			c.headers(1, false, request("POST", "/")...)
			c.fr.WriteData(1, false, []byte("ab"))
			c.fr.WriteData(1, false, nil)
			c.fr.WriteData(1, true, []byte("cd"))
		}},
		{"padded DATA", func(c *rawConn) {
			c.headers(1, false, request("POST", "/", "content-length", "3")...)
			c.fr.WriteDataPadded(1, true, []byte("abc"), make([]byte, 10))
		}},
		{"trailers without DATA", func(c *rawConn) {
			c.headers(1, false, request("POST", "/", "trailer", "x-t")...)
			c.headers(1, true, "x-t", "tv")
		}},
		{"trailers after DATA", func(c *rawConn) {
			c.headers(1, false, request("POST", "/", "trailer", "x-t")...)
			c.fr.WriteData(1, false, []byte("abc"))
			c.headers(1, true, "x-t", "tv", "x-undeclared", "u")
		}},
		{"trailers without END_STREAM", func(c *rawConn) {
			c.headers(1, false, request("POST", "/")...)
			c.headers(1, false, "x-t", "tv")
		}},
		{"pseudo-header in trailers", func(c *rawConn) {
			c.headers(1, false, request("POST", "/")...)
			c.headers(1, true, ":path", "/x")
		}},
		{"HEADERS in CONTINUATION", func(c *rawConn) {
			c.encBuf.Reset()
			for f := range pairs(request("GET", "/cont", "x-a", "1", "x-b", "2")) {
				c.enc.WriteField(f)
			}
			b := c.encBuf.Bytes()
			c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:5], EndStream: true})
			c.fr.WriteContinuation(1, false, b[5:10])
			c.fr.WriteContinuation(1, true, b[10:])
		}},
	}
	// Where the engine differs from net/http on purpose: what it must send
	// instead, and why.
	onPurpose := map[string]struct{ engine, why string }{
		"OPTIONS *": {
			"status 200\nOPTIONS * HTTP/2.0 2.0 host=a.example url=* path=\"*\" rawpath=\"\" query=\"\" cl=0 te=[] close=false tls=false body=\"\" err=<nil>\n",
			"http.Server answers OPTIONS * itself; the engine hands it to the handler",
		},
		"absolute-form path": {
			"RST_STREAM PROTOCOL_ERROR",
			"RFC 9113 8.3.1: :path is origin-form; net/http accepts the absolute form",
		},
		"te trailers and more": {
			"RST_STREAM PROTOCOL_ERROR",
			"RFC 9113 8.2.2: a connection-specific field makes the request malformed, a stream error; net/http answers 400",
		},
		"two content-lengths": {
			"RST_STREAM PROTOCOL_ERROR",
			"a repeated content-length is refused; net/http keeps both",
		},
		"content-length with END_STREAM, nonzero": {
			"RST_STREAM PROTOCOL_ERROR",
			"RFC 9113 8.1.1: content-length must match the DATA; net/http does not check a request without DATA",
		},
	}
	eng := startServer(t, &h2.Server{}, http.HandlerFunc(view), nil)
	std := startStd(t, http.HandlerFunc(view))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := func(addr string) string {
				c := dialRaw(t, addr)
				tt.send(c)
				c.until("the end of stream 1", func() bool { return c.stream(1).ended || c.goaway != nil })
				return renderRaw(c)
			}
			got, want := run(eng.addr), run(strings.TrimPrefix(std, "http://"))
			if p, ok := onPurpose[tt.name]; ok {
				if got != p.engine {
					t.Errorf("engine:\n%s\nwant:\n%s", got, p.engine)
				}
				if got != want {
					t.Logf("differs from net/http on purpose (%s); net/http:\n%s", p.why, want)
				}
				return
			}
			if got != want {
				t.Errorf("engine and net/http differ\nengine:\n%s\nnet/http:\n%s", got, want)
			}
		})
	}
}
