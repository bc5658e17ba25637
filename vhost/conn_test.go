package vhost

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"httpd/internal/testutil"
)

func TestVHostFramer(t *testing.T) {
	type claim struct {
		method, target string
		want           bool
	}
	tests := []struct {
		name   string
		chunks []string // fed in order
		claims []claim
	}{
		{"plain get", []string{"GET / HTTP/1.1\r\nHost: a\r\n\r\n"}, []claim{{"GET", "/", false}}},
		{"conflict", []string{"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
			[]claim{{"POST", "/x", true}}},
		{"conflict, header case and order", []string{"POST /x HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-LENGTH: 3\r\n\r\n"},
			[]claim{{"POST", "/x", true}}},
		{"chunked only", []string{"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
			[]claim{{"POST", "/x", false}}},
		{"body that looks like a request is skipped", []string{
			"POST /a HTTP/1.1\r\nContent-Length: 61\r\n\r\n",
			"POST /a HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: x\r\n\r\n",
			"GET /b HTTP/1.1\r\n\r\n"},
			[]claim{{"POST", "/a", false}, {"GET", "/b", false}}},
		{"chunked body with a fake request", []string{
			"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
			"2c;ext=1\r\nGET /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer",
			"-Enc\r\n0\r\nTrailer: t\r\n\r\n",
			"GET /b HTTP/1.1\r\nContent-Length: 0\r\n\r\n"},
			[]claim{{"POST", "/a", false}, {"GET", "/b", false}}},
		{"pipelined, split anywhere", []string{"GET /1 HTTP/1.1\r", "\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Le", "ngth: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /3 HTTP/1.1\n\n"},
			[]claim{{"GET", "/1", false}, {"POST", "/2", true}, {"GET", "/3", false}}},
		{"unclaimed blocks are skipped", []string{"OPTIONS * HTTP/1.1\r\n\r\nGET /a HTTP/1.1\r\n\r\n"},
			[]claim{{"GET", "/a", false}}},
		{"long request line", []string{"GET /" + strings.Repeat("a", 20<<10) + " HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n"},
			[]claim{{"GET", "/" + strings.Repeat("a", 20<<10), true}, {"GET", "/b", false}}},
		{"long header line", []string{"GET /a HTTP/1.1\r\nX-Big: " + strings.Repeat("b", 20<<10) + "\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"},
			[]claim{{"GET", "/a", true}}},
		{"prior-knowledge h2 turns it off", []string{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00"}, []claim{{"GET", "/", false}}},
		{"bad chunk size turns it off", []string{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nPOST /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"},
			[]claim{{"POST", "/", false}, {"POST", "/x", false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := new(framer)
			for _, c := range tt.chunks {
				f.feed([]byte(c))
			}
			for _, c := range tt.claims {
				if got := f.claim(c.method, c.target); got != c.want {
					t.Errorf("claim(%s %s) = %v, want %v", c.method, c.target, got, c.want)
				}
			}
		})
	}
}

// FuzzFramer checks that no byte stream makes the framer panic or grow
// without bound.
func FuzzFramer(f *testing.F) {
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), 7)
	f.Add([]byte("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 3)
	f.Fuzz(func(t *testing.T, b []byte, split int) {
		fr := new(framer)
		if split < 0 || split > len(b) {
			split = len(b) / 2
		}
		fr.feed(b[:split])
		fr.feed(b[split:])
		if fr.pending > maxFrameQueue || len(fr.line) > maxFrameLine {
			t.Errorf("queue %d, line %d", fr.pending, len(fr.line))
		}
		fr.claim("GET", "/")
	})
}

// nopWriteCloser collects the access log.
type nopWriteCloser struct{ strings.Builder }

func (*nopWriteCloser) Close() error { return nil }

func TestVHostAccessLog(t *testing.T) {
	newReq := func() *http.Request {
		r := httptest.NewRequest("GET", "/a%20b?q=\"x\"", nil)
		r.RemoteAddr = "192.0.2.7:51234"
		r.Host = "www.example.com"
		r.Header.Set("Referer", "http://ref.example/")
		r.Header.Set("User-Agent", "tester/1.0 \"quoted\"")
		r.SetBasicAuth("alice", "secret")
		return r
	}
	date := `\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [-+]\d{4}\]`
	tests := []struct {
		format string
		status int
		bytes  int64
		want   string // a regexp for the whole line
	}{
		{"common", 200, 1234, `^192\.0\.2\.7 - alice ` + date + ` "GET /a%20b\?q=\\x22x\\x22 HTTP/1\.1" 200 1234$`},
		{"common", 304, 0, `^192\.0\.2\.7 - alice ` + date + ` "GET /a%20b\?q=\\x22x\\x22 HTTP/1\.1" 304 -$`},
		{"combined", 404, 10, `^192\.0\.2\.7 - alice ` + date + ` "GET /a%20b\?q=\\x22x\\x22 HTTP/1\.1" 404 10 "http://ref\.example/" "tester/1\.0 \\x22quoted\\x22"$`},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			out := &nopWriteCloser{}
			a := newAccessLog(out, tt.format)
			rw := &responseWriter{status: tt.status, bytes: tt.bytes, start: time.Now()}
			a.log(rw, newReq(), "example.com")
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			line := strings.TrimSuffix(out.String(), "\n")
			if !matchString(tt.want, line) {
				t.Errorf("line\n%s\ndoes not match\n%s", line, tt.want)
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		out := &nopWriteCloser{}
		a := newAccessLog(out, "json")
		rw := &responseWriter{status: 206, bytes: 99, start: time.Now().Add(-1500 * time.Microsecond)}
		a.log(rw, newReq(), "example.com")
		a.log(rw, newReq(), "example.com")
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("%d lines: %q", len(lines), out.String())
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
			t.Fatalf("not JSON: %v: %s", err, lines[0])
		}
		want := map[string]any{"remote": "192.0.2.7", "vhost": "example.com", "host": "www.example.com", "method": "GET",
			"uri": `/a%20b?q="x"`, "proto": "HTTP/1.1", "status": 206.0, "bytes": 99.0, "referer": "http://ref.example/",
			"user_agent": `tester/1.0 "quoted"`}
		for k, v := range want {
			if rec[k] != v {
				t.Errorf("%s = %#v, want %#v", k, rec[k], v)
			}
		}
		if d, _ := rec["duration_ms"].(float64); d < 1.5 {
			t.Errorf("duration_ms = %v, want at least 1.5", rec["duration_ms"])
		}
		if _, err := time.Parse(time.RFC3339Nano, rec["time"].(string)); err != nil {
			t.Errorf("time: %v", err)
		}
	})

	t.Run("off and closed", func(t *testing.T) {
		var a *accessLog = newAccessLog(nil, "common") // off
		a.log(&responseWriter{}, newReq(), "x")
		if err := a.Close(); err != nil {
			t.Error(err)
		}
		out := &nopWriteCloser{}
		a = newAccessLog(out, "common")
		_ = a.Close()
		a.log(&responseWriter{status: 200}, newReq(), "x") // after Close: dropped, no panic
		if err := a.Close(); err != nil {
			t.Error(err)
		}
		if out.Len() != 0 {
			t.Errorf("logged after Close: %q", out.String())
		}
	})

	t.Run("flushed without Close", func(t *testing.T) {
		out := &testutil.SyncBuffer{}
		a := newAccessLog(out, "common")
		defer a.Close()
		a.log(&responseWriter{status: 200}, newReq(), "x")
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(out.String(), `"GET /a%20b`) {
			if time.Now().After(deadline) {
				t.Fatal("the line was not flushed within 5s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

func TestVHostAppendEscaped(t *testing.T) {
	for in, want := range map[string]string{
		"plain /x?y=1": "plain /x?y=1",
		"a\"b\\c":      `a\x22b\x5cc`,
		"line\nbreak":  `line\x0abreak`,
		"\x7f\xff":     `\x7f\xff`,
	} {
		if got := string(appendEscaped(nil, in)); got != want {
			t.Errorf("appendEscaped(%q) = %q, want %q", in, got, want)
		}
	}
}

func matchString(pattern, s string) bool {
	ok, err := regexp.MatchString(pattern, s)
	return err == nil && ok
}

func TestVHostFramerInHeader(t *testing.T) {
	f := new(framer)
	steps := []struct {
		feed string
		want bool
	}{
		{"", false},
		{"GET / HT", true},
		{"TP/1.1\r\nHost: a\r\n", true},
		{"\r\n", false},
		{"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n", false},
		{"12345", false}, // body, not header
		{"67890", false},
		{"\r\n", false}, // a stray line break between requests
	}
	for i, s := range steps {
		f.feed([]byte(s.feed))
		if got := f.inHeader(); got != s.want {
			t.Errorf("step %d (%q): inHeader = %v, want %v", i, s.feed, got, s.want)
		}
	}
}

// TestVHostFramerAllocs pins that following a keep-alive connection costs
// no allocation per request.
func TestVHostFramerAllocs(t *testing.T) {
	var f framer
	req := []byte("GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\n\r\n")
	f.feed(req) // the line buffer grows once
	f.claim("GET", "/index.html")
	allocs := testing.AllocsPerRun(1000, func() {
		f.feed(req)
		if f.claim("GET", "/index.html") {
			t.Fatal("conflict reported for a plain GET")
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per request, want 0", allocs)
	}
}

// appendFile stands for one file opened twice with O_APPEND: each out
// appends its writes to the same text, one write at a time.
type appendFile struct {
	mu     sync.Mutex
	text   []byte
	writes int
	torn   int // writes that did not end a line
}

type appendOut struct{ f *appendFile }

func (o appendOut) Write(p []byte) (int, error) {
	o.f.mu.Lock()
	defer o.f.mu.Unlock()
	o.f.text = append(o.f.text, p...)
	o.f.writes++
	if len(p) > 0 && p[len(p)-1] != '\n' {
		o.f.torn++
	}
	return len(p), nil
}

func (appendOut) Close() error { return nil }

// TestVHostAccessLogWholeLines: two generations log at once, as after a
// reload, each with its own out on the same file and a buffer smaller
// than a few lines: every write carries whole lines, and every line is
// whole.
func TestVHostAccessLogWholeLines(t *testing.T) {
	f := &appendFile{}
	w := &accessWriter{size: 300}
	const perWriter, writers = 2000, 4
	old := w.newLog(appendOut{f}, "combined")
	var cur atomic.Pointer[accessLog] // the generation requests start on
	cur.Store(old)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			for n := range perWriter {
				if i == 0 && n == perWriter/2 {
					// A reload: the file is opened again for a new
					// generation; requests of the old one go on.
					cur.Store(w.newLog(appendOut{f}, "combined"))
				}
				a := cur.Load()
				if i%2 == 0 {
					a = old
				}
				r := httptest.NewRequest("GET", fmt.Sprintf("/w%d/%d/%s", i, n, strings.Repeat("x", n%97)), nil)
				r.RemoteAddr = "192.0.2.1:1000"
				a.log(&responseWriter{status: 200, bytes: int64(n)}, r, "x")
			}
		})
	}
	wg.Wait()
	for _, a := range []*accessLog{old, cur.Load()} {
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if f.torn > 0 {
		t.Errorf("%d of %d writes ended inside a line", f.torn, f.writes)
	}
	line := regexp.MustCompile(`^192\.0\.2\.1 - - \[[^]]+\] "GET /w\d/\d+/x* HTTP/1\.1" 200 (\d+|-) "-" "-"$`)
	lines := strings.Split(strings.TrimSuffix(string(f.text), "\n"), "\n")
	if len(lines) != perWriter*writers {
		t.Errorf("%d lines, want %d", len(lines), perWriter*writers)
	}
	for _, l := range lines {
		if !line.MatchString(l) {
			t.Fatalf("torn line %q", l)
		}
	}
	if f.writes < 100 {
		t.Errorf("only %d writes: the tiny buffer was not used", f.writes)
	}
}
