package asgi

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"httpd/internal/gateway"
	"httpd/registry"
)

// Frame types on the data socket. Every frame is a 1-byte type, a 4-byte
// big-endian stream id, a 4-byte big-endian payload length and the
// payload; doc.go describes the exchange.
const (
	// Server to worker.
	frameRequest    = 'Q' // a new stream: the scope (see appendScope)
	frameData       = 'D' // request body: 1 byte more_body, then the bytes
	frameDisconnect = 'C' // the client went away; websocket: 2-byte close code
	frameCancel     = 'K' // request_timeout: cancel the task, log its stack

	// Worker to server.
	frameStart  = 'H' // http.response.start: "status\0name\0value\0..."
	frameBody   = 'B' // http.response.body: 1 byte more_body, then the bytes
	frameRead   = 'R' // receive() wants body: 4-byte count
	frameEnd    = 'E' // the application returned; payload: "" or an error summary
	frameLog    = 'L' // text for the error log
	frameAccept = 'A' // websocket.accept: "subprotocol\0name\0value\0..."
	frameClose  = 'X' // websocket.close: 2-byte code, then the reason

	// Both ways.
	frameMessage = 'W' // a WebSocket message: 1 byte (0 text, 1 binary), then the data
	frameAck     = 'a' // flow control: 4-byte count of bytes (or messages) consumed

	// Control socket, server to worker.
	ctrlConfig = 'C' // what to run: "key\0value\0..."

	// Control socket, worker to server.
	ctrlHello  = 'V' // "version\0executable", before loading
	ctrlReady  = 'R' // the application loaded and started; payload is the pid
	ctrlFailed = 'I' // loading or lifespan startup failed; payload is the message
)

const (
	frameHeaderLen = 9
	// maxFrame bounds a frame's payload; both sides split larger data.
	maxFrame = 4 << 20
	// window is how many bytes of response body (or WebSocket messages
	// to the client) a stream may have sent and not yet had
	// acknowledged; the worker's send() waits beyond it.
	window = 256 << 10
	// ackBatch is how many bytes the server writes to the client before
	// it acknowledges them. The worker waits only past window, and the
	// server acknowledges before a window's worth is pending, so the
	// stream never stalls; batching saves a frame per small write
	// (server-sent events, WebSocket messages).
	ackBatch = window / 4
	// msgWindow is how many WebSocket messages from the client may wait
	// in a worker for the application's receive().
	msgWindow = 16
	// readChunk bounds one request body frame.
	readChunk = 64 << 10
	// pushLimit is the largest request body sent with the request
	// itself; larger ones and bodies of unknown length are pulled.
	pushLimit = 64 << 10
)

var errFrameTooLarge = errors.New("asgi: frame larger than 4 MiB")

// readFrame reads one frame. The payload aliases buf when it fits, so it
// is valid only until the next call with the same buf; the returned buf is
// the (possibly grown) buffer to use next time.
func readFrame(br *bufio.Reader, buf []byte) (typ byte, id uint32, payload, nbuf []byte, err error) {
	h, err := br.Peek(frameHeaderLen)
	if err != nil {
		if err == io.EOF && len(h) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return 0, 0, nil, buf, err
	}
	typ = h[0]
	id = binary.BigEndian.Uint32(h[1:])
	n := binary.BigEndian.Uint32(h[5:])
	if _, err := br.Discard(frameHeaderLen); err != nil {
		return 0, 0, nil, buf, err
	}
	if n > maxFrame {
		return 0, 0, nil, buf, errFrameTooLarge
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	payload = buf[:n]
	if _, err := io.ReadFull(br, payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, 0, nil, buf, err
	}
	return typ, id, payload, buf, nil
}

// appendFrame appends a whole frame.
func appendFrame(b []byte, typ byte, id uint32, payload ...[]byte) []byte {
	n := 0
	for _, p := range payload {
		n += len(p)
	}
	b = appendFrameHeader(b, typ, id, n)
	for _, p := range payload {
		b = append(b, p...)
	}
	return b
}

// appendFrameHeader appends a frame header for a payload of n bytes.
func appendFrameHeader(b []byte, typ byte, id uint32, n int) []byte {
	return append(b, typ, byte(id>>24), byte(id>>16), byte(id>>8), byte(id),
		byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// setFrameLength patches the length of the frame whose header starts at
// b[start:].
func setFrameLength(b []byte, start int) {
	binary.BigEndian.PutUint32(b[start+5:], uint32(len(b)-start-frameHeaderLen))
}

func u32(n int) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(n))
}

// Body modes of a request frame: how the worker gets the body.
const (
	bodyNone   = '0' // no body: receive() gives one empty http.request
	bodyPulled = '1' // the worker asks for it with frameRead
	bodyPushed = '2' // one frameData with the whole body follows the request
)

// scope is what the server knows of a request, in the order of a
// frameRequest payload.
type scope struct {
	Type        string // "http" or "websocket"
	Body        byte   // bodyNone, bodyPulled or bodyPushed
	HTTPVersion string // "1.0", "1.1", "2"
	Method      string
	Scheme      string // http, https, ws, wss
	Path        string // decoded, below the mount
	RawPath     string // as sent, below the mount
	Query       string
	RootPath    string // the mount, without its trailing slash
	ClientHost  string
	ClientPort  string
	ServerHost  string
	ServerPort  string
	Headers     [][2]string // lower-case names
}

// newScope builds the scope of r under the mount m.
func newScope(r *http.Request, m registry.Mount, websocket bool) scope {
	s := scope{
		Type:     "http",
		Body:     bodyNone,
		Method:   r.Method,
		Scheme:   "http",
		RootPath: m.ScriptName,
		Query:    r.URL.RawQuery,
	}
	switch {
	case r.ProtoMajor == 2:
		s.HTTPVersion = "2"
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		s.HTTPVersion = "1.0"
	default:
		s.HTTPVersion = "1.1"
	}
	if r.TLS != nil {
		s.Scheme = "https"
	}
	if websocket {
		s.Type = "websocket"
		s.Scheme = strings.Replace(s.Scheme, "http", "ws", 1)
	}
	s.Path = m.Path
	raw := r.URL.EscapedPath()
	if len(raw) >= len(m.ScriptName) && raw[:len(m.ScriptName)] == m.ScriptName {
		s.RawPath = raw[len(m.ScriptName):]
	} else {
		s.RawPath = raw
	}
	if s.Path == "" {
		s.Path = "/"
	}
	if s.RawPath == "" {
		s.RawPath = "/"
	}
	s.ClientHost, s.ClientPort = gateway.RemoteAddrPort(r)
	_, port, addr := gateway.ServerNamePort(r)
	s.ServerHost, s.ServerPort = addr, port
	s.Headers = make([][2]string, 0, len(r.Header)+2)
	if r.Host != "" {
		s.Headers = append(s.Headers, [2]string{"host", r.Host})
	}
	if len(r.TransferEncoding) > 0 {
		s.Headers = append(s.Headers, [2]string{"transfer-encoding", strings.Join(r.TransferEncoding, ", ")})
	}
	for k, vv := range r.Header {
		name := lowerName(k)
		for _, v := range vv {
			s.Headers = append(s.Headers, [2]string{name, v})
		}
	}
	return s
}

// commonLower holds the lower-case forms of frequent header keys, so that
// building a scope does not allocate them; read-only.
var commonLower = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Cache-Control",
		"Connection", "Content-Length", "Content-Type", "Cookie", "Origin", "Referer",
		"User-Agent", "Upgrade", "Sec-Websocket-Key", "Sec-Websocket-Version",
		"Sec-Websocket-Protocol", "Sec-Websocket-Extensions", "X-Forwarded-For",
		"X-Forwarded-Proto", "X-Request-Id", "Authorization", "If-None-Match",
		"If-Modified-Since"} {
		m[k] = strings.ToLower(k)
	}
	return m
}()

func lowerName(k string) string {
	if l, ok := commonLower[k]; ok {
		return l
	}
	return strings.ToLower(k)
}

// errNUL reports a request that cannot be passed: the frame format
// separates fields with NUL bytes.
var errNUL = errors.New("request holds a NUL byte")

// appendRequest appends the frameRequest of stream id: the scope's fields
// in order, then the header names and values, all NUL-terminated.
func appendRequest(b []byte, id uint32, s *scope) ([]byte, error) {
	start := len(b)
	b = appendFrameHeader(b, frameRequest, id, 0)
	fields := 0
	add := func(v string) {
		b = append(b, v...)
		b = append(b, 0)
		fields++
	}
	add(s.Type)
	b = append(b, s.Body, 0)
	fields++
	add(s.HTTPVersion)
	add(s.Method)
	add(s.Scheme)
	add(s.Path)
	add(s.RawPath)
	add(s.Query)
	add(s.RootPath)
	add(s.ClientHost)
	add(s.ClientPort)
	add(s.ServerHost)
	add(s.ServerPort)
	for _, h := range s.Headers {
		add(h[0])
		add(h[1])
	}
	if bytes.Count(b[start+frameHeaderLen:], []byte{0}) != fields {
		return b[:start], errNUL
	}
	setFrameLength(b, start)
	return b, nil
}

// parseScope decodes a frameRequest payload; the inverse of appendRequest,
// for tests.
func parseScope(p []byte) (scope, error) {
	var s scope
	if len(p) == 0 || p[len(p)-1] != 0 {
		return s, errors.New("asgi: request frame does not end in NUL")
	}
	f := strings.Split(string(p[:len(p)-1]), "\x00")
	if len(f) < 13 || (len(f)-13)%2 != 0 || len(f[1]) != 1 {
		return s, fmt.Errorf("asgi: request frame has %d fields", len(f))
	}
	s = scope{Type: f[0], Body: f[1][0], HTTPVersion: f[2], Method: f[3], Scheme: f[4],
		Path: f[5], RawPath: f[6], Query: f[7], RootPath: f[8], ClientHost: f[9],
		ClientPort: f[10], ServerHost: f[11], ServerPort: f[12]}
	for i := 13; i < len(f); i += 2 {
		s.Headers = append(s.Headers, [2]string{f[i], f[i+1]})
	}
	return s, nil
}

// response is a decoded frameStart payload.
type response struct {
	status int
	header [][2]string
}

// parseStart decodes a frameStart payload: the status as decimal digits
// and header name/value pairs, all NUL-separated. Names must be HTTP
// tokens and values free of control characters other than tab.
func parseStart(p []byte) (response, error) {
	var r response
	fields := bytes.Split(p, []byte{0})
	if len(fields)%2 != 1 {
		return r, errors.New("asgi: header block has an odd field count")
	}
	code, err := strconv.Atoi(string(fields[0]))
	if err != nil || code < 100 || code > 999 {
		return r, fmt.Errorf("asgi: malformed status %q", fields[0])
	}
	r.status = code
	r.header = make([][2]string, 0, (len(fields)-1)/2)
	for i := 1; i < len(fields); i += 2 {
		name, value := fields[i], fields[i+1]
		if !gateway.ValidFieldName(name) {
			return r, fmt.Errorf("asgi: invalid header name %q", name)
		}
		if !gateway.ValidFieldValue(value) {
			return r, fmt.Errorf("asgi: invalid value for header %q", name)
		}
		r.header = append(r.header, [2]string{latin1(name), latin1(value)})
	}
	return r, nil
}

// parseAccept decodes a frameAccept payload: the subprotocol and header
// pairs.
func parseAccept(p []byte) (subprotocol string, header [][2]string, err error) {
	sub, rest, _ := bytes.Cut(p, []byte{0})
	if len(rest) == 0 {
		return string(sub), nil, nil
	}
	r, err := parseStart(append([]byte("101\x00"), rest...))
	if err != nil {
		return "", nil, err
	}
	return string(sub), r.header, nil
}

// latin1 turns a latin-1 byte string into UTF-8.
func latin1(b []byte) string {
	for _, c := range b {
		if c >= 0x80 {
			r := make([]rune, len(b))
			for i, c := range b {
				r[i] = rune(c)
			}
			return string(r)
		}
	}
	return string(b)
}
