package h2

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// bufSize is how much of a body is held before the header goes out. A
// response that fits is sent whole when the handler returns, with its
// Content-Length, in one DATA frame.
const bufSize = 8 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, bufSize); return &b }}

// responseWriter is the http.ResponseWriter of a stream. Its header is
// snapshotted as HPACK fields at WriteHeader; they are encoded when the
// header is sent, under the connection's lock, since HPACK's state is
// the connection's.
type responseWriter struct {
	st   *stream
	req  *http.Request
	head bool

	handlerHeader http.Header
	wroteHeader   bool
	status        int
	bodyAllowed   bool
	fields        []hpack.HeaderField
	fieldsArr     [12]hpack.HeaderField
	sniff         bool  // Content-Type is to be detected from the body
	declared      int64 // Content-Length the handler set, or -1
	trailers      []string
	written       int64
	length        bool // finish: send the buffered body's length if the header is still to go
	buf           *[]byte

	// Guarded by the connection's mu.
	sentHeader bool
	wdeadline  deadline // SetWriteDeadline
}

func (rw *responseWriter) Header() http.Header {
	if rw.handlerHeader == nil {
		rw.handlerHeader = make(http.Header)
	}
	return rw.handlerHeader
}

func (rw *responseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if rw.wroteHeader {
		return
	}
	if code < 200 {
		if code != http.StatusSwitchingProtocols {
			rw.informational(code)
		}
		return
	}
	rw.wroteHeader = true
	rw.status = code
	rw.bodyAllowed = code != http.StatusNoContent && code != http.StatusNotModified
	rw.declared = -1
	rw.fields = rw.appendHeader(rw.fieldsArr[:0], rw.handlerHeader, true)
}

// appendHeader appends h as HTTP/2 fields, leaving out what HTTP/2
// forbids and what cannot be encoded. For a final response it notes
// Content-Length, Content-Type and Trailer, and adds Date.
func (rw *responseWriter) appendHeader(fs []hpack.HeaderField, h http.Header, final bool) []hpack.HeaderField {
	hasDate, hasType := false, false
	for k, vv := range h {
		switch k {
		case "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade":
			continue
		case "Date":
			hasDate = true
		case "Content-Type":
			hasType = true
		case "Content-Length":
			if final && len(vv) > 0 {
				if n, err := strconv.ParseInt(vv[0], 10, 64); err == nil && n >= 0 {
					rw.declared = n
				}
			}
		case "Trailer":
			if final {
				for _, v := range vv {
					for _, t := range strings.Split(v, ",") {
						if t = http.CanonicalHeaderKey(strings.TrimSpace(t)); t != "" {
							rw.trailers = append(rw.trailers, t)
						}
					}
				}
			}
		}
		if strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		name, ok := commonLower[k]
		if !ok {
			if !httpguts.ValidHeaderFieldName(k) {
				continue
			}
			name = strings.ToLower(k)
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				continue
			}
			fs = append(fs, hpack.HeaderField{Name: name, Value: v})
		}
	}
	if final {
		if !hasDate {
			fs = append(fs, hpack.HeaderField{Name: "date", Value: dateValue()})
		}
		rw.sniff = !hasType && rw.bodyAllowed && h.Get("Content-Encoding") == ""
	}
	return fs
}

var commonLower = map[string]string{}

// informational sends a 1xx response with the current header.
func (rw *responseWriter) informational(code int) {
	c := rw.st.c
	fs := rw.appendHeader(nil, rw.handlerHeader, false)
	c.mu.Lock()
	defer c.mu.Unlock()
	if rw.st.reset || c.closed {
		return
	}
	c.queueHeaders(rw.st.id, code, fs, false)
}

// sendContinue answers Expect: 100-continue when the handler first
// reads the body.
func (rw *responseWriter) sendContinue() {
	c := rw.st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if rw.sentHeader || rw.st.reset || c.closed {
		return
	}
	c.queueHeaders(rw.st.id, http.StatusContinue, nil, false)
}

func (rw *responseWriter) Write(p []byte) (int, error) { return rw.write(p, "") }

func (rw *responseWriter) WriteString(s string) (int, error) { return rw.write(nil, s) }

// write writes p or s: small writes gather in the buffer, and a write
// that does not fit sends the buffer and itself.
func (rw *responseWriter) write(p []byte, s string) (int, error) {
	n := len(p) + len(s)
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	if !rw.bodyAllowed {
		return 0, http.ErrBodyNotAllowed
	}
	if rw.declared >= 0 && rw.written+int64(n) > rw.declared {
		return 0, http.ErrContentLength
	}
	rw.written += int64(n)
	if rw.buf == nil {
		rw.buf = bufPool.Get().(*[]byte)
	}
	b := *rw.buf
	if len(b)+n <= cap(b) {
		b = append(b, p...)
		*rw.buf = append(b, s...)
		return n, nil
	}
	if rw.head {
		// The header goes out now, and the body is never sent; its
		// start may still be needed to sniff the Content-Type.
		if s != "" {
			p = []byte(s[:min(len(s), 512)])
		}
		return n, rw.send(b, p, true)
	}
	if s != "" {
		p = []byte(s)
	}
	if err := rw.send(b, p, false); err != nil {
		return 0, err
	}
	*rw.buf = b[:0]
	return n, nil
}

// ReadFrom copies src through a pooled buffer.
func (rw *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	buf := *bp
	var n int64
	for {
		m, err := src.Read(buf)
		if m > 0 {
			if _, werr := rw.Write(buf[:m]); werr != nil {
				return n, werr
			}
			n += int64(m)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

var copyPool = sync.Pool{New: func() any { b := make([]byte, maxFrameSize); return &b }}

func (rw *responseWriter) Flush() { _ = rw.FlushError() }

// FlushError sends the header and what the body holds so far.
func (rw *responseWriter) FlushError() error {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	var b []byte
	if rw.buf != nil {
		b = *rw.buf
	}
	if err := rw.send(b, nil, rw.head); err != nil {
		return err
	}
	if rw.buf != nil {
		*rw.buf = b[:0]
	}
	return nil
}

// EnableFullDuplex has nothing to do: HTTP/2 streams are full duplex.
func (rw *responseWriter) EnableFullDuplex() error { return nil }

// SetReadDeadline bounds the reading of the request body.
func (rw *responseWriter) SetReadDeadline(t time.Time) error {
	if rw.st.body != nil {
		rw.st.body.setDeadline(t)
	}
	return nil
}

// SetWriteDeadline resets the stream if the response is not written by
// t, as net/http's HTTP/2 server does.
func (rw *responseWriter) SetWriteDeadline(t time.Time) error {
	st := rw.st
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.localDone || st.reset {
		return nil
	}
	rw.wdeadline.set(t, &c.mu, func() {
		if st.localDone || st.reset {
			return
		}
		c.queueReset(st.id, http2.ErrCodeInternal)
		c.closeStream(st)
		st.reset = true
		go st.cancel()
	})
	return nil
}

// finish ends the response after the handler returns. A body that was
// never flushed is all in the buffer, so its length is known.
func (rw *responseWriter) finish() {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	var b []byte
	if rw.buf != nil {
		b = *rw.buf
	}
	rw.length = rw.declared < 0 && rw.bodyAllowed && (len(b) > 0 || !rw.head)
	_ = rw.send(b, nil, true)
}

// abort resets the stream after a handler panic.
func (rw *responseWriter) abort(code http2.ErrCode) {
	st := rw.st
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !st.localDone && !st.reset {
		c.queueReset(st.id, code)
	}
	st.localDone = true
	c.closeStream(st)
}

func (rw *responseWriter) release() {
	if rw.buf != nil {
		*rw.buf = (*rw.buf)[:0]
		bufPool.Put(rw.buf)
		rw.buf = nil
	}
	if rw.wdeadline.timer != nil {
		c := rw.st.c
		c.mu.Lock()
		rw.wdeadline.stop()
		c.mu.Unlock()
	}
}

// trailerFields collects the trailers the handler set: declared names,
// and names with http.TrailerPrefix.
func (rw *responseWriter) trailerFields() []hpack.HeaderField {
	var fs []hpack.HeaderField
	add := func(k string, vv []string) {
		if !httpguts.ValidTrailerHeader(k) {
			return
		}
		name := strings.ToLower(k)
		for _, v := range vv {
			if httpguts.ValidHeaderFieldValue(v) {
				fs = append(fs, hpack.HeaderField{Name: name, Value: v})
			}
		}
	}
	for _, k := range rw.trailers {
		add(k, rw.handlerHeader[k])
	}
	for k, vv := range rw.handlerHeader {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			add(http.CanonicalHeaderKey(k[len(http.TrailerPrefix):]), vv)
		}
	}
	return fs
}

// send queues the header (if not sent yet), a then b as DATA, and, when
// end is set, the end of the stream: trailers or END_STREAM. It waits
// for flow-control windows and for the output buffer to drain.
func (rw *responseWriter) send(a, b []byte, end bool) error {
	st := rw.st
	c := st.c
	var trailers []hpack.HeaderField
	if end && !rw.head && (len(rw.trailers) > 0 || len(rw.handlerHeader) > 0) {
		trailers = rw.trailerFields()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.localDone { // a HEAD answer ended by an earlier write
		return nil
	}
	if err := rw.writable(); err != nil {
		return err
	}
	if !rw.sentHeader {
		if rw.length {
			rw.fields = append(rw.fields, hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(len(a) + len(b))})
		}
		if rw.sniff && len(a)+len(b) > 0 {
			first := a
			if len(a) == 0 {
				first = b
			}
			rw.fields = append(rw.fields, hpack.HeaderField{Name: "content-type", Value: http.DetectContentType(first)})
		}
		rw.sentHeader = true
		bodyless := rw.head || !rw.bodyAllowed || len(a)+len(b) == 0 && trailers == nil
		c.queueHeaders(st.id, rw.status, rw.fields, end && bodyless)
		if rw.head || !rw.bodyAllowed {
			if end || rw.head {
				rw.endLocal()
			}
			return nil
		}
		if end && bodyless {
			rw.endLocal()
			return nil
		}
	}
	if err := rw.sendData(a, end && len(b) == 0 && trailers == nil); err != nil {
		return err
	}
	if err := rw.sendData(b, end && trailers == nil && len(b) > 0); err != nil {
		return err
	}
	if !end {
		return nil
	}
	if trailers != nil {
		c.queueHeaderBlock(st.id, trailers, true)
	} else if len(a)+len(b) == 0 {
		c.out = appendFrameHeader(c.out, 0, http2.FrameData, http2.FlagDataEndStream, st.id)
		c.signalWriter()
	}
	rw.endLocal()
	return nil
}

// writable reports why the stream cannot be written to; mu is held.
func (rw *responseWriter) writable() error {
	switch {
	case rw.wdeadline.expired:
		return os.ErrDeadlineExceeded
	case rw.st.reset, rw.st.c.closed:
		return errStreamClosed
	}
	return nil
}

// sendData queues d as DATA frames within the flow-control windows; mu
// is held, and released while it waits.
func (rw *responseWriter) sendData(d []byte, end bool) error {
	st := rw.st
	c := st.c
	for len(d) > 0 {
		n := int64(len(d))
		n = min(n, st.sendWin, c.sendWin, int64(c.maxFrame))
		if n <= 0 || len(c.out) > maxOutBuffer {
			c.cond.Wait()
			if err := rw.writable(); err != nil {
				return err
			}
			continue
		}
		st.sendWin -= n
		c.sendWin -= n
		var flags http2.Flags
		if end && n == int64(len(d)) {
			flags = http2.FlagDataEndStream
		}
		c.out = appendFrameHeader(c.out, int(n), http2.FrameData, flags, st.id)
		c.out = append(c.out, d[:n]...)
		d = d[n:]
		c.signalWriter()
	}
	return nil
}

// endLocal marks the response ended. mu is held.
//
// A request still sending its body stays open on the reading side for a
// moment (lingerTime, or until lingerBytes more arrive): what the client
// sent before it saw the answer is still checked against Content-Length
// and flow control, and an error there still resets the stream with its
// own code, whether the answer went out first or not. Then, unless the
// request has ended meanwhile, the client is told to stop with
// RST_STREAM(NO_ERROR) (RFC 9113 section 8.1).
func (rw *responseWriter) endLocal() {
	st := rw.st
	c := st.c
	st.localDone = true
	if !st.remoteDone && !st.reset && !c.closed {
		st.linger = time.AfterFunc(lingerTime, func() {
			c.mu.Lock()
			c.stopLingering(st)
			c.mu.Unlock()
		})
		return
	}
	c.closeStream(st)
}

// Bounds of the reading side of a stream whose answer has ended before
// its request (see endLocal).
const (
	lingerTime  = time.Second
	lingerBytes = 64 << 10
)

// stopLingering tells the client to stop sending the body of a request
// whose answer has ended, and closes the stream. mu is held.
func (c *conn) stopLingering(st *stream) {
	if c.streams[st.id] != st || st.remoteDone {
		return
	}
	c.queueReset(st.id, http2.ErrCodeNo)
	st.remoteDone = true
	c.closeStream(st)
}

// queueHeaders queues a response header block with its :status; mu is
// held.
func (c *conn) queueHeaders(id uint32, status int, fs []hpack.HeaderField, end bool) {
	c.hbuf.Reset()
	_ = c.enc.WriteField(hpack.HeaderField{Name: ":status", Value: statusValue(status)})
	for _, f := range fs {
		_ = c.enc.WriteField(f)
	}
	c.appendHeaderBlock(id, end)
}

// queueHeaderBlock queues a trailer block; mu is held.
func (c *conn) queueHeaderBlock(id uint32, fs []hpack.HeaderField, end bool) {
	c.hbuf.Reset()
	for _, f := range fs {
		_ = c.enc.WriteField(f)
	}
	c.appendHeaderBlock(id, end)
}

// appendHeaderBlock queues hbuf as HEADERS and CONTINUATION frames.
func (c *conn) appendHeaderBlock(id uint32, end bool) {
	block := c.hbuf.Bytes()
	typ := http2.FrameHeaders
	for first := true; first || len(block) > 0; first = false {
		n := min(len(block), c.maxFrame)
		var flags http2.Flags
		if n == len(block) {
			flags |= http2.FlagHeadersEndHeaders
		}
		if first && end {
			flags |= http2.FlagHeadersEndStream
		}
		c.out = appendFrameHeader(c.out, n, typ, flags, id)
		c.out = append(c.out, block[:n]...)
		block = block[n:]
		typ = http2.FrameContinuation
	}
	c.signalWriter()
}

var statusValues [1000]string

func statusValue(code int) string {
	if code >= 0 && code < len(statusValues) {
		if s := statusValues[code]; s != "" {
			return s
		}
	}
	return strconv.Itoa(code)
}

func init() {
	for i := 100; i < len(statusValues); i++ {
		statusValues[i] = strconv.Itoa(i)
	}
}

type dateCache struct {
	sec int64
	s   string
}

var cachedDate atomic.Pointer[dateCache]

// dateValue is the Date field for now, formatted once a second.
func dateValue() string {
	now := time.Now()
	if d := cachedDate.Load(); d != nil && d.sec == now.Unix() {
		return d.s
	}
	d := &dateCache{sec: now.Unix(), s: now.UTC().Format(http.TimeFormat)}
	cachedDate.Store(d)
	return d.s
}
