package gateway

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// The options of the two gateways that read CGI header blocks.
var (
	cgiOpts     = ResponseOptions{StatusLine: true, Folding: true}
	fastcgiOpts = ResponseOptions{Bare: true, EmptyLocation: true, RepeatedContentType: true}
)

const testLimit = 64 << 10

func TestReadResponseHeader(t *testing.T) {
	tests := []struct {
		name     string
		opts     ResponseOptions
		in       string
		status   int
		location string
		header   http.Header
		rest     string
		err      string
	}{
		// A CGI script's block.
		{name: "cgi/lf", opts: cgiOpts, in: "Content-Type: text/plain\n\nbody", header: http.Header{"Content-Type": {"text/plain"}}, rest: "body"},
		{name: "cgi/crlf", opts: cgiOpts, in: "Content-Type: text/plain\r\n\r\nbody", header: http.Header{"Content-Type": {"text/plain"}}, rest: "body"},
		{name: "cgi/status", opts: cgiOpts, in: "Status: 404 Not Found\nContent-type:text/html\n\n", status: 404, header: http.Header{"Content-Type": {"text/html"}}},
		{name: "cgi/status only", opts: cgiOpts, in: "Status: 204\n\n", status: 204, header: http.Header{}},
		{name: "cgi/location", opts: cgiOpts, in: "Location: /x?y\n\n", location: "/x?y", header: http.Header{}},
		{name: "cgi/multi", opts: cgiOpts, in: "Content-Type: a/b\nSet-Cookie: a\nset-cookie: b\n\n", header: http.Header{"Content-Type": {"a/b"}, "Set-Cookie": {"a", "b"}}},
		{name: "cgi/fold", opts: cgiOpts, in: "Content-Type: a/b\nX-Long: one\n  two\n\n", header: http.Header{"Content-Type": {"a/b"}, "X-Long": {"one two"}}},
		{name: "cgi/hop", opts: cgiOpts, in: "Content-Type: a/b\nConnection: close\n  more\nTransfer-Encoding: chunked\n\n", header: http.Header{"Content-Type": {"a/b"}}},
		{name: "cgi/nph", opts: cgiOpts, in: "HTTP/1.0 202 Accepted\nContent-Type: a/b\n\n", status: 202, header: http.Header{"Content-Type": {"a/b"}}},
		{name: "cgi/content-length", opts: cgiOpts, in: "Content-Type: a/b\nContent-Length: 4\n\nbody", header: http.Header{"Content-Type": {"a/b"}, "Content-Length": {"4"}}, rest: "body"},
		{name: "cgi/empty", opts: cgiOpts, in: "", err: "no output"},
		{name: "cgi/eof in headers", opts: cgiOpts, in: "Content-Type: a/b\n", err: "output ended before the blank line"},
		{name: "cgi/no colon", opts: cgiOpts, in: "hello world\n\n", err: "malformed header line"},
		{name: "cgi/space in name", opts: cgiOpts, in: "Content Type: a\n\n", err: "malformed header line"},
		{name: "cgi/empty name", opts: cgiOpts, in: ": a\n\n", err: "malformed header line"},
		{name: "cgi/no cgi field", opts: cgiOpts, in: "X-A: 1\n\n", err: "no Status, Content-Type or Location"},
		{name: "cgi/bad status", opts: cgiOpts, in: "Status: 99\n\n", err: "bad Status"},
		{name: "cgi/status 1xx", opts: cgiOpts, in: "Status: 100\n\n", err: "bad Status"},
		{name: "cgi/two statuses", opts: cgiOpts, in: "Status: 200\nStatus: 201\n\n", err: "more than one Status"},
		{name: "cgi/bad length", opts: cgiOpts, in: "Content-Type: a\nContent-Length: -1\n\n", err: "bad Content-Length"},
		{name: "cgi/control char", opts: cgiOpts, in: "Content-Type: a\x01b\n\n", err: "control character"},
		{name: "cgi/leading fold", opts: cgiOpts, in: " x\n\n", err: "continuation line"},
		{name: "cgi/too big", opts: cgiOpts, in: "Content-Type: a\nX: " + strings.Repeat("y", testLimit) + "\n\n", err: "header block larger than 65536 bytes"},
		{name: "cgi/bad status line", opts: cgiOpts, in: "HTTP/1.1 abc\n\n", err: "bad status line"},
		{name: "cgi/empty location", opts: cgiOpts, in: "Location:\n\n", err: "empty Location"},
		{name: "cgi/two content types", opts: cgiOpts, in: "Content-Type: a/b\nContent-Type: c/d\n\n", err: "more than one Content-Type"},
		{name: "cgi/fold of status", opts: cgiOpts, in: "Status: 200\n OK\n\n", err: "continuation of Status"},
		{name: "cgi/fold of location", opts: cgiOpts, in: "Location: /a\n\tb\n\n", location: "/a b", header: http.Header{}},

		// A FastCGI responder's block.
		{name: "fastcgi/php", opts: fastcgiOpts, in: "X-Powered-By: PHP/8.2\r\nContent-type: text/html; charset=UTF-8\r\n\r\n<p>", header: http.Header{"X-Powered-By": {"PHP/8.2"}, "Content-Type": {"text/html; charset=UTF-8"}}, rest: "<p>"},
		{name: "fastcgi/lf", opts: fastcgiOpts, in: "Content-Type: text/plain\n\nbody", header: http.Header{"Content-Type": {"text/plain"}}, rest: "body"},
		{name: "fastcgi/status", opts: fastcgiOpts, in: "Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\n", status: 404, header: http.Header{"Content-Type": {"text/html"}}},
		{name: "fastcgi/redirect", opts: fastcgiOpts, in: "Status: 302 Found\r\nLocation: /wp-admin/\r\n\r\n", status: 302, location: "/wp-admin/", header: http.Header{}},
		{name: "fastcgi/no fields", opts: fastcgiOpts, in: "\r\nbody", header: http.Header{}, rest: "body"},
		{name: "fastcgi/cookies", opts: fastcgiOpts, in: "Set-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n", header: http.Header{"Set-Cookie": {"a=1", "b=2"}}},
		{name: "fastcgi/hop", opts: fastcgiOpts, in: "Connection: close\r\nTransfer-Encoding: chunked\r\nContent-Type: a/b\r\n\r\n", header: http.Header{"Content-Type": {"a/b"}}},
		{name: "fastcgi/content-length", opts: fastcgiOpts, in: "Content-Length: 4\r\n\r\nbody", header: http.Header{"Content-Length": {"4"}}, rest: "body"},
		{name: "fastcgi/empty", opts: fastcgiOpts, in: "", err: "no output"},
		{name: "fastcgi/eof in headers", opts: fastcgiOpts, in: "Content-Type: a/b\r\n", err: "output ended before the blank line"},
		{name: "fastcgi/no colon", opts: fastcgiOpts, in: "hello\r\n\r\n", err: "malformed header line"},
		{name: "fastcgi/space in name", opts: fastcgiOpts, in: "Content Type: a\r\n\r\n", err: "malformed header line"},
		{name: "fastcgi/folded", opts: fastcgiOpts, in: "X: a\r\n b\r\n\r\n", err: "malformed header line"},
		{name: "fastcgi/bad status", opts: fastcgiOpts, in: "Status: 99\r\n\r\n", err: "bad Status"},
		{name: "fastcgi/two statuses", opts: fastcgiOpts, in: "Status: 200\r\nStatus: 201\r\n\r\n", err: "more than one Status"},
		{name: "fastcgi/two locations", opts: fastcgiOpts, in: "Location: /a\r\nLocation: /b\r\n\r\n", err: "more than one Location"},
		{name: "fastcgi/bad length", opts: fastcgiOpts, in: "Content-Length: x\r\n\r\n", err: "bad Content-Length"},
		{name: "fastcgi/control char", opts: fastcgiOpts, in: "X: a\x01b\r\n\r\n", err: "control character"},
		{name: "fastcgi/too big", opts: fastcgiOpts, in: "X: " + strings.Repeat("y", testLimit) + "\r\n\r\n", err: "header block larger"},
		{name: "fastcgi/status line", opts: fastcgiOpts, in: "HTTP/1.1 200 OK\r\n\r\n", err: "malformed header line"},
		{name: "fastcgi/empty location", opts: fastcgiOpts, in: "Location:\r\nLocation: /b\r\n\r\n", location: "/b", header: http.Header{}},
		{name: "fastcgi/two content types", opts: fastcgiOpts, in: "Content-Type: a/b\r\nContent-Type: c/d\r\n\r\n", header: http.Header{"Content-Type": {"a/b", "c/d"}}},

		// The strict reading.
		{name: "strict/no cgi field", in: "X-A: 1\r\n\r\n", err: "no Status, Content-Type or Location"},
		{name: "strict/blank", in: "\r\n", err: "no Status, Content-Type or Location"},
		{name: "strict/status line", in: "HTTP/1.0 200 OK\r\nContent-Type: a/b\r\n\r\n", err: "malformed header line"},
		{name: "strict/folded", in: "Content-Type: a/b\r\n b\r\n\r\n", err: "malformed header line"},
		{name: "strict/ok", in: "Content-Type: a/b\r\nX-A: 1\r\n\r\nbody", header: http.Header{"Content-Type": {"a/b"}, "X-A": {"1"}}, rest: "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tt.in), 4096)
			h, err := ReadResponseHeader(br, testLimit, tt.opts)
			if tt.err != "" {
				if err == nil || !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Status != tt.status || h.Location != tt.location || !reflect.DeepEqual(h.Header, tt.header) {
				t.Errorf("got %d %q %v, want %d %q %v", h.Status, h.Location, h.Header, tt.status, tt.location, tt.header)
			}
			if rest, _ := io.ReadAll(br); string(rest) != tt.rest {
				t.Errorf("rest = %q, want %q", rest, tt.rest)
			}
		})
	}
}

// errReader fails every read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestReadResponseHeaderReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := ReadResponseHeader(bufio.NewReader(io.MultiReader(strings.NewReader("Content-Type: a/b\n"), errReader{boom})), testLimit, cgiOpts)
	if !errors.Is(err, boom) || errors.Is(err, ErrBadResponse) {
		t.Fatalf("err = %v, want the read error as it is", err)
	}
}

func TestResponseHeaderStatus(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		location string
		code     int
		local    bool
	}{
		{name: "plain", code: 200},
		{name: "status", status: 404, code: 404},
		{name: "local path", location: "/x?y", code: 302, local: true},
		{name: "url", location: "https://example.com/", code: 302},
		{name: "network path", location: "//evil.example/", code: 302},
		{name: "backslash network path", location: "/\\evil.example/", code: 302},
		{name: "relative", location: "x", code: 302},
		{name: "local with status", status: 301, location: "/x", code: 301},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &ResponseHeader{Status: tt.status, Location: tt.location, Header: http.Header{"X-A": {"1"}}}
			if got := h.StatusCode(); got != tt.code {
				t.Errorf("StatusCode() = %d, want %d", got, tt.code)
			}
			if got := h.LocalRedirect(); got != tt.local {
				t.Errorf("LocalRedirect() = %v, want %v", got, tt.local)
			}
			w := httptest.NewRecorder()
			w.Header().Set("X-Kept", "yes")
			h.WriteHeader(w)
			if w.Code != tt.code || w.Header().Get("Location") != tt.location || w.Header().Get("X-A") != "1" || w.Header().Get("X-Kept") != "yes" {
				t.Errorf("wrote %d %v", w.Code, w.Header())
			}
		})
	}
}

func TestValidField(t *testing.T) {
	for _, tt := range []struct {
		in          string
		name, value bool
	}{
		{"", false, true},
		{"Content-Type", true, true},
		{"X_Y!#$%&'*+-.^`|~", true, true},
		{"a b", false, true},
		{"a:b", false, true},
		{"a\tb", false, true},
		{"a\x01", false, false},
		{"a\x7f", false, false},
		{"a\r\n", false, false},
		{"caf\xe9", false, true},
	} {
		if got := ValidFieldName(tt.in); got != tt.name {
			t.Errorf("ValidFieldName(%q) = %v", tt.in, got)
		}
		if got := ValidFieldName([]byte(tt.in)); got != tt.name {
			t.Errorf("ValidFieldName([]byte(%q)) = %v", tt.in, got)
		}
		if got := ValidFieldValue(tt.in); got != tt.value {
			t.Errorf("ValidFieldValue(%q) = %v", tt.in, got)
		}
		if got := ValidFieldValue([]byte(tt.in)); got != tt.value {
			t.Errorf("ValidFieldValue([]byte(%q)) = %v", tt.in, got)
		}
	}
}

// FuzzReadResponseHeader: no panic, every error marks bad output (the
// reader never fails), and an accepted block holds only what the options
// allow, with valid names and values.
func FuzzReadResponseHeader(f *testing.F) {
	for _, s := range []string{
		"Content-Type: text/plain\n\nbody",
		"Content-Type: text/plain\r\n\r\nbody",
		"Status: 302 Found\r\nLocation: http://x/\r\n\r\n",
		"Status: 302 Found\r\nLocation: /x\r\n\r\n",
		"Location: /local\n\n",
		"HTTP/1.1 200 OK\nContent-Type: a\n\n",
		"X: 1\n  2\nContent-Type: a\n\n",
		"X: a\r\n b\r\n\r\n",
		"Location:\r\nContent-Type: a\r\nContent-Type: b\r\n\r\n",
		"",
		"\n",
		"\r\n",
	} {
		for _, flags := range []uint8{0, 0b00011, 0b11100, 0b11111} {
			f.Add([]byte(s), flags)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, flags uint8) {
		opts := ResponseOptions{
			StatusLine:          flags&1 != 0,
			Folding:             flags&2 != 0,
			Bare:                flags&4 != 0,
			EmptyLocation:       flags&8 != 0,
			RepeatedContentType: flags&16 != 0,
		}
		br := bufio.NewReaderSize(strings.NewReader(string(in)), 16)
		h, err := ReadResponseHeader(br, 1024, opts)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error does not mark bad output: %v", err)
			}
			return
		}
		if h.Status != 0 && (h.Status < 200 || h.Status > 599) {
			t.Fatalf("status %d", h.Status)
		}
		if _, ct := h.Header["Content-Type"]; !opts.Bare && h.Status == 0 && h.Location == "" && !ct {
			t.Fatal("accepted a block without a CGI field")
		}
		if !opts.RepeatedContentType && len(h.Header["Content-Type"]) > 1 {
			t.Fatal("accepted a repeated Content-Type")
		}
		for k, vs := range h.Header {
			if !ValidFieldName(k) || hopHeaders[k] || k == "Status" || k == "Location" {
				t.Fatalf("field %q passed", k)
			}
			for _, v := range vs {
				if !ValidFieldValue(v) {
					t.Fatalf("value %q of %s passed", v, k)
				}
			}
		}
		if !ValidFieldValue(h.Location) {
			t.Fatalf("bad location %q", h.Location)
		}
	})
}

func BenchmarkReadResponseHeader(b *testing.B) {
	const block = "Status: 200 OK\r\nContent-Type: text/html; charset=UTF-8\r\nX-Powered-By: PHP/8.2\r\n" +
		"Set-Cookie: a=1; Path=/\r\nCache-Control: no-cache\r\nContent-Length: 5\r\n\r\nhello"
	sr := strings.NewReader(block)
	br := bufio.NewReaderSize(sr, 4096)
	b.ReportAllocs()
	for b.Loop() {
		sr.Reset(block)
		br.Reset(sr)
		if _, err := ReadResponseHeader(br, testLimit, cgiOpts); err != nil {
			b.Fatal(err)
		}
	}
}
