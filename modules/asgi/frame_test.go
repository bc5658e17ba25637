package asgi

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"httpd/registry"
)

func TestFrameRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		typ     byte
		id      uint32
		payload []byte
	}{
		{"empty", frameEnd, 1, nil},
		{"body", frameBody, 7, []byte("\x01hello")},
		{"large id", frameData, 0xfffffffe, []byte("\x00")},
		{"max", frameMessage, 3, bytes.Repeat([]byte{'x'}, maxFrame)},
	}
	var all []byte
	for _, tc := range tests {
		all = appendFrame(all, tc.typ, tc.id, tc.payload)
	}
	br := bufio.NewReader(bytes.NewReader(all))
	var buf []byte
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			typ, id, p, nbuf, err := readFrame(br, buf)
			buf = nbuf
			if err != nil || typ != tc.typ || id != tc.id || !bytes.Equal(p, tc.payload) {
				t.Fatalf("got %q %d %d bytes %v", typ, id, len(p), err)
			}
		})
	}
	if _, _, _, _, err := readFrame(br, buf); err != io.EOF {
		t.Fatalf("after the last frame: %v, want EOF", err)
	}
}

func TestReadFrameErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"truncated header", []byte{'B', 0, 0}, io.ErrUnexpectedEOF},
		{"truncated payload", appendFrameHeader(nil, 'B', 1, 10), io.ErrUnexpectedEOF},
		{"too large", appendFrameHeader(nil, 'B', 1, maxFrame+1), errFrameTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, _, err := readFrame(bufio.NewReader(bytes.NewReader(tc.in)), nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseStart(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		status  int
		header  [][2]string
		wantErr string
	}{
		{"status only", "204", 204, [][2]string{}, ""},
		{"headers", "200\x00content-type\x00text/plain\x00x-a\x00b", 200, [][2]string{{"content-type", "text/plain"}, {"x-a", "b"}}, ""},
		{"latin-1 value", "200\x00x-name\x00caf\xe9", 200, [][2]string{{"x-name", "café"}}, ""},
		{"odd fields", "200\x00x-a", 0, nil, "odd field count"},
		{"bad status", "2x0", 0, nil, "malformed status"},
		{"status too small", "99", 0, nil, "malformed status"},
		{"bad name", "200\x00bad name\x00v", 0, nil, "invalid header name"},
		{"newline in value", "200\x00x-a\x00a\r\nb", 0, nil, "invalid value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseStart([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || r.status != tc.status || !reflect.DeepEqual(r.header, tc.header) {
				t.Fatalf("got %+v %v", r, err)
			}
		})
	}
}

func TestParseAccept(t *testing.T) {
	sub, hdr, err := parseAccept([]byte("chat\x00x-a\x00b"))
	if err != nil || sub != "chat" || !reflect.DeepEqual(hdr, [][2]string{{"x-a", "b"}}) {
		t.Fatalf("got %q %v %v", sub, hdr, err)
	}
	sub, hdr, err = parseAccept(nil)
	if err != nil || sub != "" || hdr != nil {
		t.Fatalf("empty: got %q %v %v", sub, hdr, err)
	}
}

func TestScope(t *testing.T) {
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	tests := []struct {
		name   string
		method string
		target string
		prefix string
		ws     bool
		tls    bool
		proto  int // minor version of HTTP/1
		header map[string]string
		check  func(t *testing.T, s scope)
	}{
		{name: "below the mount", method: "GET", target: "/api/items/1?x=1&y=%20", prefix: "/api",
			check: func(t *testing.T, s scope) {
				want := scope{Type: "http", Body: bodyNone, HTTPVersion: "1.1", Method: "GET", Scheme: "http",
					Path: "/items/1", RawPath: "/items/1", Query: "x=1&y=%20", RootPath: "/api",
					ClientHost: "192.0.2.1", ClientPort: "1234", ServerHost: "127.0.0.1", ServerPort: "8080"}
				got := s
				got.Headers = nil
				if !reflect.DeepEqual(got, want) {
					t.Errorf("got  %+v\nwant %+v", got, want)
				}
			}},
		{name: "the mount itself", method: "GET", target: "/api", prefix: "/api",
			check: func(t *testing.T, s scope) {
				if s.Path != "/" || s.RawPath != "/" || s.RootPath != "/api" {
					t.Errorf("path %q raw %q root %q", s.Path, s.RawPath, s.RootPath)
				}
			}},
		{name: "root mount", method: "GET", target: "/a%2Fb/c%20d", prefix: "/",
			check: func(t *testing.T, s scope) {
				if s.Path != "/a/b/c d" || s.RawPath != "/a%2Fb/c%20d" || s.RootPath != "" {
					t.Errorf("path %q raw %q root %q", s.Path, s.RawPath, s.RootPath)
				}
			}},
		{name: "prefix with slash", method: "POST", target: "/app/x", prefix: "/app/",
			check: func(t *testing.T, s scope) {
				if s.Path != "/x" || s.RootPath != "/app" || s.Method != "POST" {
					t.Errorf("path %q root %q method %q", s.Path, s.RootPath, s.Method)
				}
			}},
		{name: "headers lower case, host first", method: "GET", target: "/", prefix: "/",
			header: map[string]string{"X-Custom-Thing": "1", "Content-Type": "text/plain"},
			check: func(t *testing.T, s scope) {
				if s.Headers[0] != [2]string{"host", "example.com"} {
					t.Errorf("first header %v", s.Headers[0])
				}
				for _, h := range s.Headers {
					if h[0] != strings.ToLower(h[0]) {
						t.Errorf("header %q not lower case", h[0])
					}
				}
				if !hasPair(s.Headers, "x-custom-thing", "1") || !hasPair(s.Headers, "content-type", "text/plain") {
					t.Errorf("headers %v", s.Headers)
				}
			}},
		{name: "HTTP/1.0", method: "GET", target: "/", prefix: "/", proto: 0,
			check: func(t *testing.T, s scope) {
				if s.HTTPVersion != "1.0" {
					t.Errorf("http_version %q", s.HTTPVersion)
				}
			}},
		{name: "https", method: "GET", target: "/", prefix: "/", tls: true,
			check: func(t *testing.T, s scope) {
				if s.Scheme != "https" {
					t.Errorf("scheme %q", s.Scheme)
				}
			}},
		{name: "websocket", method: "GET", target: "/ws", prefix: "/", ws: true, tls: true,
			check: func(t *testing.T, s scope) {
				if s.Type != "websocket" || s.Scheme != "wss" {
					t.Errorf("type %q scheme %q", s.Type, s.Scheme)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, nil)
			r.Host = "example.com"
			r.RemoteAddr = "192.0.2.1:1234"
			r.ProtoMinor = 1
			if tc.name == "HTTP/1.0" {
				r.ProtoMinor = tc.proto
			}
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, local))
			m, ok := registry.MatchMount(tc.prefix, r.URL.Path)
			if !ok {
				t.Fatalf("%s does not match %s", tc.prefix, r.URL.Path)
			}
			s := newScope(r, m, tc.ws)
			tc.check(t, s)
			// The frame carries the scope whole.
			b, err := appendRequest(nil, 9, &s)
			if err != nil {
				t.Fatal(err)
			}
			typ, id, p, _, err := readFrame(bufio.NewReader(bytes.NewReader(b)), nil)
			if err != nil || typ != frameRequest || id != 9 {
				t.Fatalf("frame %q %d %v", typ, id, err)
			}
			back, err := parseScope(p)
			if err != nil || !reflect.DeepEqual(back, s) {
				t.Fatalf("round trip: %+v %v\nwant %+v", back, err, s)
			}
		})
	}
}

func TestRequestNUL(t *testing.T) {
	s := scope{Type: "http", Body: bodyNone, Path: "/a\x00b"}
	if _, err := appendRequest(nil, 1, &s); !errors.Is(err, errNUL) {
		t.Fatalf("err %v, want errNUL", err)
	}
}

func TestIsWebSocket(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		connection string
		upgrade    string
		want       bool
	}{
		{"upgrade", "GET", "Upgrade", "websocket", true},
		{"token list", "GET", "keep-alive, Upgrade", "WebSocket", true},
		{"no upgrade", "GET", "keep-alive", "websocket", false},
		{"other protocol", "GET", "Upgrade", "h2c", false},
		{"post", "POST", "Upgrade", "websocket", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/", nil)
			r.Header.Set("Connection", tc.connection)
			r.Header.Set("Upgrade", tc.upgrade)
			if got := isWebSocket(r); got != tc.want {
				t.Fatalf("got %v", got)
			}
		})
	}
}

func hasPair(h [][2]string, k, v string) bool {
	for _, kv := range h {
		if kv[0] == k && kv[1] == v {
			return true
		}
	}
	return false
}

// FuzzFrames feeds the frame reader and the payload parsers arbitrary
// bytes: they must return errors, never panic, and what parses must
// survive a round trip.
func FuzzFrames(f *testing.F) {
	f.Add(appendFrame(nil, frameStart, 1, []byte("200\x00content-type\x00text/plain")))
	f.Add(appendFrame(nil, frameBody, 2, []byte("\x01data")))
	f.Add(appendFrame(nil, frameAccept, 3, []byte("chat\x00x-a\x00b")))
	s := scope{Type: "http", Body: bodyNone, HTTPVersion: "1.1", Method: "GET", Path: "/", Headers: [][2]string{{"host", "x"}}}
	b, _ := appendRequest(nil, 4, &s)
	f.Add(b)
	f.Add([]byte{'B', 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReader(bytes.NewReader(in))
		var buf []byte
		for {
			typ, id, p, nbuf, err := readFrame(br, buf)
			buf = nbuf
			if err != nil {
				return
			}
			if len(p) > maxFrame {
				t.Fatalf("payload of %d bytes", len(p))
			}
			switch typ {
			case frameStart:
				if r, err := parseStart(p); err == nil && (r.status < 100 || r.status > 999) {
					t.Fatalf("status %d accepted", r.status)
				}
			case frameAccept:
				_, _, _ = parseAccept(p)
			case frameRequest:
				sc, err := parseScope(p)
				if err != nil {
					continue
				}
				again, err := appendRequest(nil, id, &sc)
				if err != nil {
					t.Fatalf("parsed scope does not encode: %v", err)
				}
				if !bytes.Equal(again[frameHeaderLen:], p) {
					t.Fatalf("round trip changed the payload:\n%q\n%q", p, again[frameHeaderLen:])
				}
			}
		}
	})
}
