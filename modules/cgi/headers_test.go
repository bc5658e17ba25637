package cgi

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestParseHeaders(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		status   int
		location string
		header   http.Header
		rest     string
		err      string
	}{
		{name: "lf", in: "Content-Type: text/plain\n\nbody", header: http.Header{"Content-Type": {"text/plain"}}, rest: "body"},
		{name: "crlf", in: "Content-Type: text/plain\r\n\r\nbody", header: http.Header{"Content-Type": {"text/plain"}}, rest: "body"},
		{name: "status", in: "Status: 404 Not Found\nContent-type:text/html\n\n", status: 404, header: http.Header{"Content-Type": {"text/html"}}},
		{name: "status only", in: "Status: 204\n\n", status: 204, header: http.Header{}},
		{name: "location", in: "Location: /x?y\n\n", location: "/x?y", header: http.Header{}},
		{name: "multi", in: "Content-Type: a/b\nSet-Cookie: a\nset-cookie: b\n\n", header: http.Header{"Content-Type": {"a/b"}, "Set-Cookie": {"a", "b"}}},
		{name: "fold", in: "Content-Type: a/b\nX-Long: one\n  two\n\n", header: http.Header{"Content-Type": {"a/b"}, "X-Long": {"one two"}}},
		{name: "hop", in: "Content-Type: a/b\nConnection: close\n  more\nTransfer-Encoding: chunked\n\n", header: http.Header{"Content-Type": {"a/b"}}},
		{name: "nph", in: "HTTP/1.0 202 Accepted\nContent-Type: a/b\n\n", status: 202, header: http.Header{"Content-Type": {"a/b"}}},
		{name: "content-length", in: "Content-Type: a/b\nContent-Length: 4\n\nbody", header: http.Header{"Content-Type": {"a/b"}, "Content-Length": {"4"}}, rest: "body"},
		{name: "empty", in: "", err: "no output"},
		{name: "eof in headers", in: "Content-Type: a/b\n", err: "output ended before the blank line"},
		{name: "no colon", in: "hello world\n\n", err: "malformed header line"},
		{name: "space in name", in: "Content Type: a\n\n", err: "malformed header line"},
		{name: "empty name", in: ": a\n\n", err: "malformed header line"},
		{name: "no cgi field", in: "X-A: 1\n\n", err: "no Status, Content-Type or Location"},
		{name: "bad status", in: "Status: 99\n\n", err: "bad Status"},
		{name: "status 1xx", in: "Status: 100\n\n", err: "bad Status"},
		{name: "two statuses", in: "Status: 200\nStatus: 201\n\n", err: "more than one Status"},
		{name: "bad length", in: "Content-Type: a\nContent-Length: -1\n\n", err: "bad Content-Length"},
		{name: "control char", in: "Content-Type: a\x01b\n\n", err: "control character"},
		{name: "leading fold", in: " x\n\n", err: "continuation line"},
		{name: "too big", in: "Content-Type: a\nX: " + strings.Repeat("y", MaxHeaderBytes) + "\n\n", err: "header block larger"},
		{name: "bad status line", in: "HTTP/1.1 abc\n\n", err: "bad status line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tt.in), 4096)
			h, err := parseHeaders(br, MaxHeaderBytes)
			if tt.err != "" {
				if err == nil || !errors.Is(err, errBadOutput) || !strings.Contains(err.Error(), tt.err) {
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
			rest, _ := io.ReadAll(br)
			if string(rest) != tt.rest {
				t.Errorf("rest = %q, want %q", rest, tt.rest)
			}
		})
	}
}

func FuzzParseHeaders(f *testing.F) {
	for _, s := range []string{
		"Content-Type: text/plain\n\nbody",
		"Status: 302 Found\r\nLocation: http://x/\r\n\r\n",
		"Location: /local\n\n",
		"HTTP/1.1 200 OK\nContent-Type: a\n\n",
		"X: 1\n  2\nContent-Type: a\n\n",
		"",
		"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReaderSize(strings.NewReader(string(in)), 16)
		h, err := parseHeaders(br, 1024)
		if err != nil {
			if !errors.Is(err, errBadOutput) {
				t.Fatalf("error does not mark bad output: %v", err)
			}
			return
		}
		if h.Status != 0 && (h.Status < 200 || h.Status > 599) {
			t.Fatalf("status %d", h.Status)
		}
		if h.Status == 0 && h.Location == "" && h.Header.Get("Content-Type") == "" {
			t.Fatal("accepted a block without a CGI field")
		}
		for k, vs := range h.Header {
			if !validName([]byte(k)) || hopHeaders[k] {
				t.Fatalf("bad field name %q", k)
			}
			for _, v := range vs {
				if !validValue(v) {
					t.Fatalf("bad value %q", v)
				}
			}
		}
		if !validValue(h.Location) {
			t.Fatalf("bad location %q", h.Location)
		}
	})
}
