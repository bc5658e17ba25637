package fastcgi

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

// respHeader is the CGI header block of a response (RFC 3875 §6).
type respHeader struct {
	Status   int         // from Status; 0 when absent
	Location string      // "" when absent
	Header   http.Header // every other field
}

// errBadResponse marks a STDOUT stream that is not a CGI response.
var errBadResponse = errors.New("invalid CGI response")

// hopHeaders are dropped from a response: the server frames it itself.
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Transfer-Encoding": true, "Upgrade": true, "Te": true, "Trailer": true,
}

// parseHeader reads the header block from br: lines ending in LF or CRLF
// up to an empty line, at most limit bytes in all. Unlike a CGI script's,
// a responder's block may hold no Status, Content-Type or Location: that
// is a 200 with the fields it has (as nginx takes it). Errors wrap
// errBadResponse, except read errors other than io.EOF, which are
// returned as they are.
func parseHeader(br *bufio.Reader, limit int) (*respHeader, error) {
	h := &respHeader{Header: http.Header{}}
	total := 0
	for {
		line, err := readLine(br, limit-total)
		total += len(line)
		if err != nil {
			if errors.Is(err, io.EOF) {
				if total == 0 {
					return nil, fmt.Errorf("%w: no output", errBadResponse)
				}
				return nil, fmt.Errorf("%w: output ended before the blank line that ends the headers", errBadResponse)
			}
			return nil, err
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if len(line) == 0 {
			return h, nil
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 || !validName(line[:i]) {
			return nil, fmt.Errorf("%w: malformed header line %q", errBadResponse, clip(line))
		}
		name := http.CanonicalHeaderKey(string(line[:i]))
		value := string(bytes.Trim(line[i+1:], " \t"))
		if !validValue(value) {
			return nil, fmt.Errorf("%w: control character in field %s", errBadResponse, name)
		}
		switch name {
		case "Status":
			if h.Status != 0 {
				return nil, fmt.Errorf("%w: more than one Status field", errBadResponse)
			}
			code, ok := parseStatus(value)
			if !ok {
				return nil, fmt.Errorf("%w: bad Status %q", errBadResponse, clip([]byte(value)))
			}
			h.Status = code
		case "Location":
			if h.Location != "" {
				return nil, fmt.Errorf("%w: more than one Location field", errBadResponse)
			}
			h.Location = value
		case "Content-Length":
			if _, err := strconv.ParseUint(value, 10, 63); err != nil || h.Header.Get(name) != "" {
				return nil, fmt.Errorf("%w: bad Content-Length %q", errBadResponse, clip([]byte(value)))
			}
			h.Header.Set(name, value)
		default:
			if !hopHeaders[name] {
				h.Header.Add(name, value)
			}
		}
	}
}

// readLine reads one line including its LF, failing with errBadResponse
// when it would take more than max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)+len(frag) > max {
			return nil, fmt.Errorf("%w: header block larger than %d bytes", errBadResponse, MaxHeaderBytes)
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

// isLocal reports whether a Location is a local path (RFC 3875 §6.2.2)
// rather than a URL or a network-path reference.
func isLocal(loc string) bool {
	return strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") && !strings.HasPrefix(loc, "/\\")
}
