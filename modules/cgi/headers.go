package cgi

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

// cgiHeader is the header block of a script's response (RFC 3875 §6).
type cgiHeader struct {
	Status   int         // from Status (or an NPH status line); 0 when absent
	Location string      // "" when absent
	Header   http.Header // every other field, Content-Type included
}

// errBadOutput marks output that is not a valid CGI response.
var errBadOutput = errors.New("invalid CGI response")

// hopHeaders are dropped from a script's response: the server frames the
// response itself.
var hopHeaders = map[string]bool{
	"Connection":        true,
	"Keep-Alive":        true,
	"Proxy-Connection":  true,
	"Transfer-Encoding": true,
	"Upgrade":           true,
	"Te":                true,
	"Trailer":           true,
}

// parseHeaders reads the header block from br: lines ending in LF or
// CRLF, up to an empty line, at most limit bytes in all. Continuation
// lines (starting with a space or tab) extend the previous field. An
// initial "HTTP/1.x NNN reason" line, as non-parsed-header scripts write,
// counts as a Status field. The block must hold at least one of Status,
// Content-Type and Location. Errors wrap errBadOutput, except read errors
// other than io.EOF, which are returned as they are.
func parseHeaders(br *bufio.Reader, limit int) (*cgiHeader, error) {
	h := &cgiHeader{Header: http.Header{}}
	total := 0
	var last string // canonical name of the previous field, for continuations
	cgiFields := 0
	for n := 0; ; n++ {
		line, err := readLine(br, limit-total)
		total += len(line)
		if err != nil {
			if errors.Is(err, io.EOF) {
				if total == 0 {
					return nil, fmt.Errorf("%w: no output", errBadOutput)
				}
				return nil, fmt.Errorf("%w: output ended before the blank line that ends the headers", errBadOutput)
			}
			return nil, err
		}
		line = trimEOL(line)
		if len(line) == 0 {
			break
		}
		if n == 0 && bytes.HasPrefix(line, []byte("HTTP/")) {
			code, ok := parseStatusLine(line)
			if !ok {
				return nil, fmt.Errorf("%w: bad status line %q", errBadOutput, clip(line))
			}
			h.Status = code
			cgiFields++
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last == "" {
				return nil, fmt.Errorf("%w: continuation line %q without a field", errBadOutput, clip(line))
			}
			v := string(bytes.Trim(line, " \t"))
			if !validValue(v) {
				return nil, fmt.Errorf("%w: control character in field %s", errBadOutput, last)
			}
			if err := h.extend(last, v); err != nil {
				return nil, err
			}
			continue
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 || !validName(line[:i]) {
			return nil, fmt.Errorf("%w: malformed header line %q", errBadOutput, clip(line))
		}
		name := http.CanonicalHeaderKey(string(line[:i]))
		value := string(bytes.Trim(line[i+1:], " \t"))
		if !validValue(value) {
			return nil, fmt.Errorf("%w: control character in field %s", errBadOutput, name)
		}
		last = name
		switch name {
		case "Status":
			if h.Status != 0 {
				return nil, fmt.Errorf("%w: more than one Status field", errBadOutput)
			}
			code, ok := parseStatus(value)
			if !ok {
				return nil, fmt.Errorf("%w: bad Status %q", errBadOutput, clip([]byte(value)))
			}
			h.Status = code
			cgiFields++
		case "Location":
			if h.Location != "" {
				return nil, fmt.Errorf("%w: more than one Location field", errBadOutput)
			}
			if value == "" {
				return nil, fmt.Errorf("%w: empty Location", errBadOutput)
			}
			h.Location = value
			cgiFields++
		case "Content-Type":
			if _, dup := h.Header["Content-Type"]; dup {
				return nil, fmt.Errorf("%w: more than one Content-Type field", errBadOutput)
			}
			h.Header.Set(name, value)
			cgiFields++
		case "Content-Length":
			if _, err := strconv.ParseUint(value, 10, 63); err != nil || h.Header.Get(name) != "" {
				return nil, fmt.Errorf("%w: bad Content-Length %q", errBadOutput, clip([]byte(value)))
			}
			h.Header.Set(name, value)
		default:
			if hopHeaders[name] {
				continue
			}
			h.Header.Add(name, value)
		}
	}
	if cgiFields == 0 {
		return nil, fmt.Errorf("%w: no Status, Content-Type or Location field", errBadOutput)
	}
	return h, nil
}

// extend appends a continuation to the last value of field name.
func (h *cgiHeader) extend(name, v string) error {
	switch name {
	case "Status", "Content-Length":
		return fmt.Errorf("%w: continuation of %s", errBadOutput, name)
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

// readLine reads one line including its LF, failing with errBadOutput
// when it would take more than max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)+len(frag) > max {
			return nil, fmt.Errorf("%w: header block larger than %d bytes", errBadOutput, MaxHeaderBytes)
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

// validName reports whether b is an RFC 9110 token.
func validName(b []byte) bool {
	for _, c := range b {
		if !httpguts.IsTokenRune(rune(c)) {
			return false
		}
	}
	return len(b) > 0
}

// validValue reports whether v holds no control characters but tab.
func validValue(v string) bool {
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
