package wsgi

import (
	"bufio"
	"bytes"
	"testing"
)

func TestReadFrame(t *testing.T) {
	var b []byte
	b = appendFrameHeader(b, frameBody, 3)
	b = append(b, "abc"...)
	b = appendFrameHeader(b, frameEnd, 0)
	br := bufio.NewReader(bytes.NewReader(b))
	typ, p, buf, err := readFrame(br, nil)
	if err != nil || typ != frameBody || string(p) != "abc" {
		t.Fatalf("first frame %q %q %v", typ, p, err)
	}
	typ, p, _, err = readFrame(br, buf)
	if err != nil || typ != frameEnd || len(p) != 0 {
		t.Fatalf("second frame %q %q %v", typ, p, err)
	}
	if _, _, _, err = readFrame(br, buf); err == nil {
		t.Fatal("no error at EOF")
	}
	huge := appendFrameHeader(nil, frameBody, maxFrame+1)
	if _, _, _, err := readFrame(bufio.NewReader(bytes.NewReader(huge)), nil); err != errFrameTooLarge {
		t.Fatalf("oversized frame: %v", err)
	}
}

func TestParseHeaders(t *testing.T) {
	for _, tc := range []struct {
		in     string
		status int
		n      int
		bad    bool
	}{
		{in: "200 OK", status: 200},
		{in: "404 Not Found\x00Content-Type\x00text/plain", status: 404, n: 1},
		{in: "201 Created\x00A\x00\x00B\x00caf\xe9", status: 201, n: 2},
		{in: "200", status: 200},
		{in: "20 OK", bad: true},
		{in: "abc OK", bad: true},
		{in: "200 OK\x00A", bad: true},
		{in: "200 OK\x00Bad Name\x00v", bad: true},
		{in: "200 OK\x00X\x00a\rb", bad: true},
		{in: "200OK", bad: true},
	} {
		r, err := parseHeaders([]byte(tc.in))
		if (err != nil) != tc.bad {
			t.Errorf("%q: err %v", tc.in, err)
			continue
		}
		if !tc.bad && (r.status != tc.status || len(r.header) != tc.n) {
			t.Errorf("%q: got %+v", tc.in, r)
		}
	}
	r, _ := parseHeaders([]byte("200 OK\x00X\x00caf\xe9"))
	if r.header[0][1] != "café" {
		t.Errorf("latin-1 value decoded as %q", r.header[0][1])
	}
}

// FuzzReadFrame feeds arbitrary worker output to the frame decoder and the
// payload parsers: they must return errors, never panic or over-allocate.
func FuzzReadFrame(f *testing.F) {
	seed := appendFrameHeader(nil, frameHeaders, 6)
	seed = append(seed, "200 OK"...)
	seed = appendFrameHeader(seed, frameBody, 2)
	seed = append(seed, "hi"...)
	seed = appendFrameHeader(seed, frameEnd, 0)
	f.Add(seed)
	f.Add([]byte("F\x00\x00\x00\x0b/x\x0012\x00345"))
	f.Add([]byte{'B', 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		var buf []byte
		for {
			typ, p, nbuf, err := readFrame(br, buf)
			if err != nil {
				return
			}
			if len(p) > maxFrame {
				t.Fatalf("payload of %d bytes", len(p))
			}
			buf = nbuf
			switch typ {
			case frameHeaders:
				if r, err := parseHeaders(p); err == nil && (r.status < 100 || r.status > 999) {
					t.Fatalf("status %d accepted", r.status)
				}
			case frameFile:
				if o, err := parseFileOffer(p); err == nil && (o.offset < 0 || o.length < 0) {
					t.Fatalf("negative offer %+v", o)
				}
			}
		}
	})
}

func TestIsWorkerFD(t *testing.T) {
	tests := []struct {
		name string
		path string
		want bool
	}{
		{"own descriptor", "/proc/42/fd/7", true},
		{"another process", "/proc/43/fd/7", false},
		{"pid prefix", "/proc/421/fd/7", false},
		{"no descriptor", "/proc/42/fd/", false},
		{"traversal", "/proc/42/fd/../../1/environ", false},
		{"plain file", "/etc/passwd", false},
		{"self", "/proc/self/fd/7", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isWorkerFD(tt.path, 42); got != tt.want {
				t.Errorf("isWorkerFD(%q) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}
