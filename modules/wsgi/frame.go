package wsgi

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"httpd/internal/gateway"
)

// Frame types. Every frame is a 1-byte type, a 4-byte big-endian payload
// length and the payload; doc.go describes the exchange.
const (
	// Server to worker.
	frameRequest       = 'Q' // environ; the request has no body
	frameRequestPush   = 'P' // environ; one frameData with the whole body follows
	frameRequestStream = 'S' // environ; the body is pulled with frameRead
	frameData          = 'D' // body data answering frameRead; empty means end of body
	frameReadError     = 'X' // answering frameRead: the body could not be read
	frameFileOK        = 'K' // answering frameFile: the server sends the file
	frameFileNo        = 'N' // answering frameFile: iterate the file instead

	// Worker to server.
	frameHeaders = 'H' // "status\0name\0value\0..." (latin-1)
	frameBody    = 'B' // a chunk of the response body
	frameFile    = 'F' // "path\0offset\0length": send this file's bytes
	frameEnd     = 'E' // the response is complete
	frameError   = 'X' // the application failed; payload is a one-line summary
	frameLog     = 'L' // text written to wsgi.errors
	frameRead    = 'R' // 4-byte big-endian count: send up to this many body bytes

	// Control socket, server to worker.
	ctrlConfig = 'C' // what to run: "key\0value\0..." (see workerConfig)
	// ctrlStack asks for the Python stack of one thread (its number,
	// in decimal); the worker answers with ctrlStack holding the text.
	ctrlStack = 'T'

	// Control socket, worker to server.
	ctrlHello       = 'V' // the interpreter: "version\0executable", before loading
	ctrlReady       = 'R' // the application loaded; payload is the pid
	ctrlImportError = 'I' // the application failed to load; payload is the traceback
)

const (
	frameHeaderLen = 5
	// maxFrame bounds a frame's payload; the worker splits larger body
	// chunks.
	maxFrame = 4 << 20
	// maxRead bounds one frameRead answer.
	maxRead = 1 << 20
)

var errFrameTooLarge = errors.New("wsgi: frame larger than 4 MiB")

// readFrame reads one frame. The payload aliases buf when it fits, so it is
// valid only until the next call with the same buf; the returned buf is the
// (possibly grown) buffer to use next time.
func readFrame(br *bufio.Reader, buf []byte) (typ byte, payload, nbuf []byte, err error) {
	h, err := br.Peek(frameHeaderLen)
	if err != nil {
		if err == io.EOF && len(h) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, buf, err
	}
	typ = h[0]
	n := binary.BigEndian.Uint32(h[1:])
	if _, err := br.Discard(frameHeaderLen); err != nil {
		return 0, nil, buf, err
	}
	if n > maxFrame {
		return 0, nil, buf, errFrameTooLarge
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	payload = buf[:n]
	if _, err := io.ReadFull(br, payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, buf, err
	}
	return typ, payload, buf, nil
}

// appendFrameHeader appends a frame header for a payload of n bytes.
func appendFrameHeader(b []byte, typ byte, n int) []byte {
	return append(b, typ, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// setFrameLength patches the length of the frame whose header starts at
// b[start:].
func setFrameLength(b []byte, start int) {
	binary.BigEndian.PutUint32(b[start+1:], uint32(len(b)-start-frameHeaderLen))
}

// appendPair appends one environ entry, "key\0value\0"; the worker splits
// the payload on NUL, so neither may hold one.
func appendPair(b []byte, key, value string) []byte {
	b = append(b, key...)
	b = append(b, 0)
	b = append(b, value...)
	return append(b, 0)
}

// response is a decoded frameHeaders payload.
type response struct {
	status int
	header [][2]string
}

// parseHeaders decodes a frameHeaders payload: a status line such as
// "200 OK" and header name/value pairs, all NUL-separated. Names must be
// HTTP tokens and values free of control characters other than tab.
func parseHeaders(p []byte) (response, error) {
	var r response
	fields := bytes.Split(p, []byte{0})
	if len(fields)%2 != 1 {
		return r, errors.New("wsgi: header block has an odd field count")
	}
	st := fields[0]
	if len(st) < 3 {
		return r, fmt.Errorf("wsgi: malformed status %q", st)
	}
	code, err := strconv.Atoi(string(st[:3]))
	if err != nil || code < 100 || code > 999 || (len(st) > 3 && st[3] != ' ') {
		return r, fmt.Errorf("wsgi: malformed status %q", st)
	}
	r.status = code
	r.header = make([][2]string, 0, (len(fields)-1)/2)
	for i := 1; i < len(fields); i += 2 {
		name, value := fields[i], fields[i+1]
		if !gateway.ValidFieldName(name) {
			return r, fmt.Errorf("wsgi: invalid header name %q", name)
		}
		if !gateway.ValidFieldValue(value) {
			return r, fmt.Errorf("wsgi: invalid value for header %q", name)
		}
		r.header = append(r.header, [2]string{latin1(name), latin1(value)})
	}
	return r, nil
}

// latin1 turns a latin-1 byte string (as PEP 3333 headers are) into UTF-8.
func latin1(b []byte) string {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// fileOffer is a decoded frameFile payload.
type fileOffer struct {
	path   string
	offset int64
	length int64
}

func parseFileOffer(p []byte) (fileOffer, error) {
	parts := bytes.Split(p, []byte{0})
	if len(parts) != 3 {
		return fileOffer{}, errors.New("wsgi: malformed file frame")
	}
	off, err1 := strconv.ParseInt(string(parts[1]), 10, 64)
	n, err2 := strconv.ParseInt(string(parts[2]), 10, 64)
	if err1 != nil || err2 != nil || off < 0 || n < 0 || len(parts[0]) == 0 {
		return fileOffer{}, errors.New("wsgi: malformed file frame")
	}
	return fileOffer{path: string(parts[0]), offset: off, length: n}, nil
}
