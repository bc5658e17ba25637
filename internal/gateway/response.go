package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// ResponseHeader is the header block of a CGI response (RFC 3875 §6), as
// a script or a FastCGI responder writes it before the body.
type ResponseHeader struct {
	Status   int         // from Status (or an NPH status line); 0 when absent
	Location string      // "" when absent
	Header   http.Header // every other field, Content-Type included
}

// ErrBadResponse marks output that is not a valid CGI response.
var ErrBadResponse = errors.New("invalid CGI response")

// ResponseOptions are the liberties a gateway's peer may take with the
// header block. The zero value is RFC 3875 read strictly: LF or CRLF
// lines of "Name: value", one of them a Status, Content-Type or
// Location, none of those three repeated or empty.
type ResponseOptions struct {
	// StatusLine takes an initial "HTTP/1.x NNN reason" line, as
	// non-parsed-header scripts write, for a Status field.
	StatusLine bool
	// Folding takes a line starting with a space or tab for the
	// continuation of the previous field.
	Folding bool
	// Bare lets the block hold none of Status, Content-Type and
	// Location: it is then a 200 with the fields it has, as nginx takes
	// a FastCGI responder's.
	Bare bool
	// EmptyLocation ignores a Location field with an empty value
	// instead of failing the block.
	EmptyLocation bool
	// RepeatedContentType keeps every Content-Type field instead of
	// failing a block with more than one.
	RepeatedContentType bool
}

// hopHeaders are dropped from a response: the server frames it itself.
var hopHeaders = map[string]bool{
	"Connection":        true,
	"Keep-Alive":        true,
	"Proxy-Connection":  true,
	"Transfer-Encoding": true,
	"Upgrade":           true,
	"Te":                true,
	"Trailer":           true,
}

// ReadResponseHeader reads the header block from br: lines ending in LF
// or CRLF, up to an empty line, at most limit bytes in all, taking the
// liberties opts allows. Status must be "NNN" or "NNN reason" with NNN
// in 200–599, Content-Length a decimal number, names RFC 9110 tokens and
// values free of control characters but tab. Hop-by-hop fields
// (Connection, Transfer-Encoding and the like) are dropped. br's reads
// stop at the end of the block: what it has buffered beyond is the
// body's start.
//
// Errors wrap ErrBadResponse, except read errors other than io.EOF,
// which are returned as they are.
//
// It allocates the ResponseHeader, its map and the fields' strings, and
// nothing else for a block whose lines fit in br's buffer.
func ReadResponseHeader(br *bufio.Reader, limit int, opts ResponseOptions) (*ResponseHeader, error) {
	h := &ResponseHeader{Header: http.Header{}}
	total := 0
	var last string // canonical name of the previous field, for continuations
	cgiFields := 0
	for n := 0; ; n++ {
		line, err := readLine(br, limit-total, limit)
		total += len(line)
		if err != nil {
			if errors.Is(err, io.EOF) {
				if total == 0 {
					return nil, fmt.Errorf("%w: no output", ErrBadResponse)
				}
				return nil, fmt.Errorf("%w: output ended before the blank line that ends the headers", ErrBadResponse)
			}
			return nil, err
		}
		line = trimEOL(line)
		if len(line) == 0 {
			break
		}
		if n == 0 && opts.StatusLine && bytes.HasPrefix(line, []byte("HTTP/")) {
			code, ok := parseStatusLine(line)
			if !ok {
				return nil, fmt.Errorf("%w: bad status line %q", ErrBadResponse, clip(line))
			}
			h.Status = code
			cgiFields++
			continue
		}
		if opts.Folding && (line[0] == ' ' || line[0] == '\t') {
			if last == "" {
				return nil, fmt.Errorf("%w: continuation line %q without a field", ErrBadResponse, clip(line))
			}
			v := string(bytes.Trim(line, " \t"))
			if !ValidFieldValue(v) {
				return nil, fmt.Errorf("%w: control character in field %s", ErrBadResponse, last)
			}
			if err := h.extend(last, v); err != nil {
				return nil, err
			}
			continue
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 || !ValidFieldName(line[:i]) {
			return nil, fmt.Errorf("%w: malformed header line %q", ErrBadResponse, clip(line))
		}
		name := http.CanonicalHeaderKey(string(line[:i]))
		value := string(bytes.Trim(line[i+1:], " \t"))
		if !ValidFieldValue(value) {
			return nil, fmt.Errorf("%w: control character in field %s", ErrBadResponse, name)
		}
		last = name
		switch name {
		case "Status":
			if h.Status != 0 {
				return nil, fmt.Errorf("%w: more than one Status field", ErrBadResponse)
			}
			code, ok := parseStatus(value)
			if !ok {
				return nil, fmt.Errorf("%w: bad Status %q", ErrBadResponse, clip([]byte(value)))
			}
			h.Status = code
			cgiFields++
		case "Location":
			if h.Location != "" {
				return nil, fmt.Errorf("%w: more than one Location field", ErrBadResponse)
			}
			if value == "" {
				if opts.EmptyLocation {
					continue
				}
				return nil, fmt.Errorf("%w: empty Location", ErrBadResponse)
			}
			h.Location = value
			cgiFields++
		case "Content-Type":
			if _, dup := h.Header["Content-Type"]; dup {
				if !opts.RepeatedContentType {
					return nil, fmt.Errorf("%w: more than one Content-Type field", ErrBadResponse)
				}
				h.Header.Add(name, value)
				continue
			}
			h.Header.Set(name, value)
			cgiFields++
		case "Content-Length":
			if _, err := strconv.ParseUint(value, 10, 63); err != nil || h.Header.Get(name) != "" {
				return nil, fmt.Errorf("%w: bad Content-Length %q", ErrBadResponse, clip([]byte(value)))
			}
			h.Header.Set(name, value)
		default:
			if hopHeaders[name] {
				continue
			}
			h.Header.Add(name, value)
		}
	}
	if cgiFields == 0 && !opts.Bare {
		return nil, fmt.Errorf("%w: no Status, Content-Type or Location field", ErrBadResponse)
	}
	return h, nil
}

// extend appends a continuation to the last value of field name.
func (h *ResponseHeader) extend(name, v string) error {
	switch name {
	case "Status", "Content-Length":
		return fmt.Errorf("%w: continuation of %s", ErrBadResponse, name)
	case "Location":
		h.Location += " " + v
		return nil
	}
	vs := h.Header[name]
	if len(vs) == 0 { // a dropped hop-by-hop field
		return nil
	}
	vs[len(vs)-1] += " " + v
	return nil
}

// readLine reads one line including its LF, failing with ErrBadResponse
// when it would take more than max bytes; limit is the whole block's
// bound, for the message.
func readLine(br *bufio.Reader, max, limit int) ([]byte, error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)+len(frag) > max {
			return nil, fmt.Errorf("%w: header block larger than %d bytes", ErrBadResponse, limit)
		}
		if err == nil {
			if buf == nil {
				return frag, nil
			}
			return append(buf, frag...), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return append(buf, frag...), err
		}
		buf = append(buf, frag...)
	}
}

func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}

// parseStatus reads "NNN" or "NNN reason" with NNN in 200–599.
func parseStatus(v string) (int, bool) {
	code, _, _ := strings.Cut(v, " ")
	if len(code) != 3 {
		return 0, false
	}
	n, err := strconv.Atoi(code)
	if err != nil || n < 200 || n > 599 {
		return 0, false
	}
	return n, true
}

// parseStatusLine reads "HTTP/1.x NNN reason".
func parseStatusLine(line []byte) (int, bool) {
	_, rest, ok := strings.Cut(string(line), " ")
	if !ok {
		return 0, false
	}
	return parseStatus(strings.TrimLeft(rest, " "))
}

// ValidFieldName reports whether b is a header field name: a non-empty
// RFC 9110 token.
func ValidFieldName[T ~string | ~[]byte](b T) bool {
	for i := 0; i < len(b); i++ {
		if !httpguts.IsTokenRune(rune(b[i])) {
			return false
		}
	}
	return len(b) > 0
}

// ValidFieldValue reports whether v may be a header field value: no
// control characters but tab. Bytes from 0x80 up are allowed.
func ValidFieldValue[T ~string | ~[]byte](v T) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// clip shortens b for an error message.
func clip(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

// IsLocal reports whether a Location is a local path (RFC 3875 §6.2.2)
// rather than a URL or a network-path reference ("//host/..." or
// "/\host/...", which browsers take for one).
func IsLocal(loc string) bool {
	return strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") && !strings.HasPrefix(loc, "/\\")
}

// LocalRedirect reports whether h asks for an internal redirect (RFC 3875
// §6.2.2): a Location that is a local path, and no Status. The gateway
// then discards the rest of the output and serves a GET for h.Location
// instead (see Redirect).
func (h *ResponseHeader) LocalRedirect() bool {
	return h.Status == 0 && IsLocal(h.Location)
}

// StatusCode is the status to send for h: its Status; without one, 302
// when it has a Location (a client redirect, RFC 3875 §6.2.3), else 200.
func (h *ResponseHeader) StatusCode() int {
	switch {
	case h.Status != 0:
		return h.Status
	case h.Location != "":
		return http.StatusFound
	}
	return http.StatusOK
}

// WriteHeader sends h as the response's status and header on w, keeping
// the fields w's header already holds but those h sets. h's value slices
// are shared with w's header, not copied.
func (h *ResponseHeader) WriteHeader(w http.ResponseWriter) {
	wh := w.Header()
	for k, vs := range h.Header {
		wh[k] = vs
	}
	if h.Location != "" {
		wh.Set("Location", h.Location)
	}
	w.WriteHeader(h.StatusCode())
}
