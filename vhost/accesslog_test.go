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
