package h1

import (
	"bytes"
	"errors"

	"golang.org/x/net/http/httpguts"
)

// maxHeaders bounds the header fields of one request (net/http has no
// count limit, only the byte limit; 100 fields of a few bytes each would
// fit in any sane byte limit, and a fixed array keeps the parse allocation
// free).
const maxHeaders = 100

// header is one field of a parsed request: slices of the read buffer.
type header struct {
	name, value []byte
}

// request is a parsed request head, reused from request to request. Every
// slice points into the buffer it was parsed from and is valid only until
// that buffer is reused.
type request struct {
	method, target, proto []byte
	minor                 int // HTTP/1.minor
	headers               [maxHeaders]header
	nh                    int
	host                  []byte
	contentLength         int64 // -1 when absent
	chunked               bool
	close                 bool // Connection: close, or HTTP/1.0 without keep-alive
	// wantsClose decides, as in net/http, whether the connection closes
	// after the answer: on HTTP/1.1, close or "close" found in the first
	// Connection value by net/http's looser test (hasToken); on HTTP/1.0,
	// "keep-alive" not found there by that test.
	wantsClose     bool
	expectContinue bool
	headLen        int    // bytes of the head, request line to the blank line
	raw            []byte // the head itself; every slice above is inside it
}

// httpError is a parse failure that maps to a status code; the connection
// is answered with it and closed.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

var (
	errIncomplete = errors.New("incomplete")

	errBadRequestLine = &httpError{400, "malformed request line"}
	errBadMethod      = &httpError{400, "invalid method"}
	errBadTarget      = &httpError{400, "invalid request target"}
	errBadVersion     = &httpError{400, "malformed HTTP version"}
	errVersion        = &httpError{505, "unsupported HTTP version"}
	errBadHeader      = &httpError{400, "malformed header line"}
	errBadHeaderName  = &httpError{400, "invalid header name"}
	errBadHeaderValue = &httpError{400, "invalid header value"}
	errObsFold        = &httpError{400, "obsolete line folding"}
	errTooManyHeaders = &httpError{431, "too many header fields"}
	errHeaderTooLarge = &httpError{431, "request header fields too large"}
	errNoHost         = &httpError{400, "missing required Host header"}
	errManyHosts      = &httpError{400, "too many Host headers"}
	errBadHost        = &httpError{400, "malformed Host header"}
	errBadLength      = &httpError{400, "bad Content-Length"}
	errManyLengths    = &httpError{400, "multiple differing Content-Length headers"}
	errCLAndTE        = &httpError{400, "both Content-Length and Transfer-Encoding"}
	errBadTE          = &httpError{501, "unsupported transfer encoding"}
	errManyTE         = &httpError{501, "too many transfer encodings"}
	errExpect         = &httpError{417, "unsupported Expect"}
	errBadChunk       = &httpError{400, "malformed chunked encoding"}
)

// parseRequest parses one request head from the start of buf. It returns
// errIncomplete when buf holds no full head yet (the caller reads more, up
// to its header limit), an *httpError for a request to refuse, or nil with
// r filled and r.headLen set. maxHeader bounds the head in bytes; a head
// that is incomplete and already longer than maxHeader is refused too, so
// the caller never buffers more than that.
func parseRequest(buf []byte, r *request, maxHeader int) error {
	r.nh = 0
	r.host = nil
	r.contentLength = -1
	r.chunked = false
	r.close = false
	r.wantsClose = false
	r.expectContinue = false

	limit := buf
	if len(limit) > maxHeader {
		limit = limit[:maxHeader]
	}
	// Request line. Like net/http, a bare LF ends a line as well as CRLF.
	i := bytes.IndexByte(limit, '\n')
	if i < 0 {
		if len(buf) > maxHeader {
			return errHeaderTooLarge
		}
		return errIncomplete
	}
	line := trimCR(limit[:i])
	pos := i + 1

	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return errBadRequestLine
	}
	r.method = line[:sp1]
	for _, c := range r.method {
		if !httpguts.IsTokenRune(rune(c)) {
			return errBadMethod
		}
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return errBadRequestLine
	}
	r.target = rest[:sp2]
	r.proto = rest[sp2+1:]
	for _, c := range r.target {
		if c <= ' ' || c == 0x7f {
			return errBadTarget
		}
	}
	// Origin form, "*", absolute form and CONNECT's authority form are
	// told apart, and checked, when the URL is parsed (request.go).
	switch {
	case string(r.proto) == "HTTP/1.1":
		r.minor = 1
	case string(r.proto) == "HTTP/1.0":
		r.minor = 0
	default:
		p := r.proto
		if len(p) != 8 || string(p[:5]) != "HTTP/" || p[6] != '.' || p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9' {
			return errBadVersion
		}
		if p[5] != '1' {
			return errVersion
		}
		r.minor = int(p[7] - '0')
	}
	// Header fields.
	hosts, lengths, tes := 0, 0, 0
	closeTok, keepAlive, keep10, sawConn := false, false, false, false
	for {
		rem := limit[pos:]
		i := bytes.IndexByte(rem, '\n')
		if i < 0 {
			if len(buf) > maxHeader {
				return errHeaderTooLarge
			}
			return errIncomplete
		}
		line := trimCR(rem[:i])
		pos += i + 1
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return errObsFold
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return errBadHeader
		}
		name := line[:colon]
		for _, c := range name {
			if !httpguts.IsTokenRune(rune(c)) {
				return errBadHeaderName
			}
		}
		value := trimOWS(line[colon+1:])
		for _, c := range value {
			if (c < ' ' && c != '\t') || c == 0x7f {
				return errBadHeaderValue
			}
		}
		if r.nh == maxHeaders {
			return errTooManyHeaders
		}
		r.headers[r.nh] = header{name, value}
		r.nh++

		switch len(name) {
		case 4:
			if equalFold(name, "Host") {
				hosts++
				if hosts > 1 {
					return errManyHosts
				}
				if !validHost(value) {
					return errBadHost
				}
				r.host = value
			}
		case 6:
			if equalFold(name, "Expect") && len(value) > 0 {
				// As net/http: a list with 100-continue asks for it,
				// anything else cannot be met.
				if !tokenListHas(value, "100-continue") {
					return errExpect
				}
				r.expectContinue = true
			}
		case 10:
			if equalFold(name, "Connection") {
				if tokenListHas(value, "close") {
					closeTok = true
				}
				if !sawConn && hasToken(value, "close") {
					r.wantsClose = true
				}
				if !sawConn && hasToken(value, "keep-alive") {
					keep10 = true
				}
				sawConn = true
				if tokenListHas(value, "keep-alive") {
					keepAlive = true
				}
			}
		case 14:
			if equalFold(name, "Content-Length") {
				n, ok := parseLength(value)
				if !ok {
					return errBadLength
				}
				if lengths > 0 && n != r.contentLength {
					return errManyLengths
				}
				lengths++
				r.contentLength = n
			}
		case 17:
			if equalFold(name, "Transfer-Encoding") {
				tes++
				if tes > 1 {
					return errManyTE
				}
				if !equalFold(value, "chunked") {
					return errBadTE
				}
				r.chunked = true
			}
		}
	}
	if r.chunked && lengths > 0 {
		return errCLAndTE
	}
	if r.chunked && r.minor == 0 {
		// RFC 9112 §6.1: chunked is not defined for HTTP/1.0.
		return errBadTE
	}
	if r.minor >= 1 && hosts == 0 && string(r.method) != "CONNECT" {
		return errNoHost
	}
	// HTTP/1.1 stays open unless told to close; HTTP/1.0 closes unless
	// asked to keep alive.
	r.close = closeTok || (r.minor == 0 && !keepAlive)
	if r.minor == 0 {
		// As net/http: an HTTP/1.0 connection stays open when the first
		// Connection value has "keep-alive" by the loose test, whatever
		// else the field says; Request.Close follows the strict one.
		r.wantsClose = !keep10
	} else {
		r.wantsClose = r.wantsClose || r.close
	}
	r.expectContinue = r.expectContinue && r.minor >= 1
	r.headLen = pos
	r.raw = buf[:pos]
	return nil
}

// header returns the first value of the named field (case-insensitive).
func (r *request) header(name string) ([]byte, bool) {
	for i := 0; i < r.nh; i++ {
		if equalFold(r.headers[i].name, name) {
			return r.headers[i].value, true
		}
	}
	return nil, false
}

// parseLength parses a Content-Length value as net/http does: decimal
// digits only, no sign, at most 19 digits (no overflow).
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// validHost is httpguts.ValidHostHeader's test: bytes allowed in a
// reg-name, IPv6 literal, or port.
func validHost(h []byte) bool {
	for _, c := range h {
		if !validHostByte[c] {
			return false
		}
	}
	return true
}

var validHostByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!$%&'()*+,-.:;=[]_~" {
		t[c] = true
	}
	return
}()

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// hasToken is net/http's loose token test: t, in any case, bounded by
// the start or end of v, a space, a tab or a comma.
func hasToken(v []byte, t string) bool {
	bound := func(c byte) bool { return c == ' ' || c == ',' || c == '\t' }
	for sp := 0; sp+len(t) <= len(v); sp++ {
		if sp > 0 && !bound(v[sp-1]) {
			continue
		}
		if end := sp + len(t); end != len(v) && !bound(v[end]) {
			continue
		}
		if equalFold(v[sp:sp+len(t)], t) {
			return true
		}
	}
	return false
}

// tokenListHas reports whether the comma-separated list v has token t.
func tokenListHas(v []byte, t string) bool {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		var item []byte
		if i < 0 {
			item, v = v, nil
		} else {
			item, v = v[:i], v[i+1:]
		}
		if equalFold(trimOWS(item), t) {
			return true
		}
	}
	return false
}

// maxChunkLine bounds a chunk-size line with its extensions and one
// trailer line; net/http allows 4 KiB per line.
const maxChunkLine = 4096

// chunkSize parses a chunk-size line: hex digits (at most 16), then
// optionally BWS and extensions after ';' without control bytes.
func chunkSize(line []byte) (int64, error) {
	var size int64
	digits := 0
	j := 0
loop:
	for ; j < len(line); j++ {
		c := line[j]
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			break loop
		}
		digits++
		if digits > 16 {
			return 0, errBadChunk
		}
		size = size<<4 | int64(v)
	}
	if digits == 0 || size < 0 {
		return 0, errBadChunk
	}
	if j < len(line) {
		// Extensions follow the size at once, as net/http requires.
		e := line[j:]
		if e[0] != ';' {
			return 0, errBadChunk
		}
		for _, c := range e {
			if (c < ' ' && c != '\t') || c == 0x7f {
				return 0, errBadChunk
			}
		}
	}
	return size, nil
}

// validTrailer reports whether line is a well-formed trailer field.
func validTrailer(line []byte) bool {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return false
	}
	for _, c := range line[:colon] {
		if !httpguts.IsTokenRune(rune(c)) {
			return false
		}
	}
	for _, c := range line[colon+1:] {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
