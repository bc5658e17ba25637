package h1

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
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
		{"TE twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501, nil},
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

// The buffer-based chunked parser below is the reference the streaming
// body reader (body.go) is checked against: same framing rules, whole
// bodies.

var errBodyTooLarge = &httpError{413, "request body too large"}

// bodyLen returns how many bytes after the head the request's body takes
// in buf: for Content-Length, the length; for chunked, the whole chunked
// message (chunks, last chunk, trailers). It returns errIncomplete if buf
// does not yet hold it all and an *httpError if the framing is bad.
// maxBody bounds the decoded body.
//
// For chunked bodies it decodes in place into dst (appended) when dst is
// not nil.
func bodyLen(r *request, buf []byte, maxBody int64, dst *[]byte) (int, error) {
	if r.chunked {
		return parseChunked(buf, maxBody, dst)
	}
	if r.contentLength <= 0 {
		return 0, nil
	}
	if r.contentLength > maxBody {
		return 0, errBodyTooLarge
	}
	if int64(len(buf)) < r.contentLength {
		return 0, errIncomplete
	}
	if dst != nil {
		*dst = append(*dst, buf[:r.contentLength]...)
	}
	return int(r.contentLength), nil
}

// parseChunked walks a chunked body strictly: hex size (at most 16
// digits), optional extensions, CRLF; exactly size bytes then CRLF; a
// zero-size last chunk, trailer fields, and the final CRLF. Bare LF is
// refused inside the chunked framing (unlike in the head), as is any
// size or data not followed by CRLF.
func parseChunked(buf []byte, maxBody int64, dst *[]byte) (int, error) {
	pos := 0
	var total int64
	for {
		line, next, err := chunkLine(buf, pos)
		if err != nil {
			return 0, err
		}
		size, err := chunkSize(line)
		if err != nil {
			return 0, err
		}
		pos = next
		if size == 0 {
			break
		}
		total += size
		if total > maxBody {
			return 0, errBodyTooLarge
		}
		if int64(len(buf)-pos) < size+2 {
			return 0, errIncomplete
		}
		if dst != nil {
			*dst = append(*dst, buf[pos:pos+int(size)]...)
		}
		pos += int(size)
		if buf[pos] != '\r' || buf[pos+1] != '\n' {
			return 0, errBadChunk
		}
		pos += 2
	}
	// Trailer section: fields until an empty line.
	for n := 0; ; n++ {
		line, next, err := chunkLine(buf, pos)
		if err != nil {
			return 0, err
		}
		pos = next
		if len(line) == 0 {
			return pos, nil
		}
		if n >= maxHeaders {
			return 0, errBadChunk
		}
		if !validTrailer(line) {
			return 0, errBadChunk
		}
	}
}

// chunkLine returns the line at buf[pos:] without its CRLF and the offset
// after it. A line must end in CRLF and carry no bare CR or LF.
func chunkLine(buf []byte, pos int) ([]byte, int, error) {
	rem := buf[pos:]
	if len(rem) > maxChunkLine {
		rem = rem[:maxChunkLine]
	}
	i := bytes.IndexByte(rem, '\n')
	if i < 0 {
		if len(buf)-pos > maxChunkLine {
			return nil, 0, errBadChunk
		}
		return nil, 0, errIncomplete
	}
	if i == 0 || rem[i-1] != '\r' {
		return nil, 0, errBadChunk
	}
	line := rem[:i-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, 0, errBadChunk
	}
	return line, pos + i + 1, nil
}
