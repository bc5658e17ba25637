package fastcgi

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestFastCGIParseHeader(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		status   int
		location string
		header   http.Header
		rest     string
		err      string
	}{
		{name: "php", in: "X-Powered-By: PHP/8.2\r\nContent-type: text/html; charset=UTF-8\r\n\r\n<p>", header: http.Header{"X-Powered-By": {"PHP/8.2"}, "Content-Type": {"text/html; charset=UTF-8"}}, rest: "<p>"},
		{name: "lf", in: "Content-Type: text/plain\n\nbody", header: http.Header{"Content-Type": {"text/plain"}}, rest: "body"},
		{name: "status", in: "Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\n", status: 404, header: http.Header{"Content-Type": {"text/html"}}},
		{name: "redirect", in: "Status: 302 Found\r\nLocation: /wp-admin/\r\n\r\n", status: 302, location: "/wp-admin/", header: http.Header{}},
		{name: "no fields", in: "\r\nbody", header: http.Header{}, rest: "body"},
		{name: "cookies", in: "Set-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n", header: http.Header{"Set-Cookie": {"a=1", "b=2"}}},
		{name: "hop", in: "Connection: close\r\nTransfer-Encoding: chunked\r\nContent-Type: a/b\r\n\r\n", header: http.Header{"Content-Type": {"a/b"}}},
		{name: "content-length", in: "Content-Length: 4\r\n\r\nbody", header: http.Header{"Content-Length": {"4"}}, rest: "body"},
		{name: "empty", in: "", err: "no output"},
		{name: "eof in headers", in: "Content-Type: a/b\r\n", err: "output ended before the blank line"},
		{name: "no colon", in: "hello\r\n\r\n", err: "malformed header line"},
		{name: "space in name", in: "Content Type: a\r\n\r\n", err: "malformed header line"},
		{name: "folded", in: "X: a\r\n b\r\n\r\n", err: "malformed header line"},
		{name: "bad status", in: "Status: 99\r\n\r\n", err: "bad Status"},
		{name: "two statuses", in: "Status: 200\r\nStatus: 201\r\n\r\n", err: "more than one Status"},
		{name: "two locations", in: "Location: /a\r\nLocation: /b\r\n\r\n", err: "more than one Location"},
		{name: "bad length", in: "Content-Length: x\r\n\r\n", err: "bad Content-Length"},
		{name: "control char", in: "X: a\x01b\r\n\r\n", err: "control character"},
		{name: "too big", in: "X: " + strings.Repeat("y", MaxHeaderBytes) + "\r\n\r\n", err: "header block larger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tt.in), 4096)
			h, err := parseHeader(br, MaxHeaderBytes)
			if tt.err != "" {
				if err == nil || !errors.Is(err, errBadResponse) || !strings.Contains(err.Error(), tt.err) {
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

// FuzzParseHeader: no panic, and an accepted block yields only valid
// header names and values.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		"Content-Type: text/plain\r\n\r\nbody",
		"Status: 302 Found\r\nLocation: /x\r\n\r\n",
		"\r\n",
		"X: a\r\n b\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		h, err := parseHeader(bufio.NewReaderSize(strings.NewReader(in), 4096), MaxHeaderBytes)
		if err != nil {
			return
		}
		for k, vs := range h.Header {
			if !validName([]byte(k)) || hopHeaders[k] || k == "Status" || k == "Location" {
				t.Fatalf("field %q passed", k)
			}
			for _, v := range vs {
				if !validValue(v) {
					t.Fatalf("value %q of %s passed", v, k)
				}
			}
		}
		if h.Status != 0 && (h.Status < 200 || h.Status > 599) {
			t.Fatalf("status %d", h.Status)
		}
	})
}
