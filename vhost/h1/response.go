package h1

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// preSize is how much body the writer holds before committing the head:
// an answer that fits gets an exact Content-Length.
const preSize = 4 << 10

// response is the http.ResponseWriter.
type response struct {
	ex      *exchange
	req     *http.Request
	hdr     http.Header
	head    bool // a HEAD request: no body goes out
	http10  bool
	mark    int // len(c.out) when this answer began
	flushes int // c.flushes then

	status     int
	committed  bool     // the head is in c.out
	chunked    bool     // the body goes out chunked
	length     int64    // the declared Content-Length, -1 if none
	written    int64    // body bytes accepted after the head
	hasDate    bool     // the handler set Date
	hasType    bool     // the handler set Content-Type
	noSniff    bool     // do not sniff a Content-Type
	teChunked  bool     // the handler set Transfer-Encoding
	trailers   []string // declared trailer keys
	fullDuplex bool
	pre        []byte // body held before the head is committed
	prep       *[]byte
	done       bool  // the handler returned
	err        error // the connection failed: it cannot be reused
}

var errWriteAfterEnd = errors.New("h1: write after the handler returned")

func (w *response) Header() http.Header {
	if w.hdr == nil {
		if h, ok := hdrPool.Get().(http.Header); ok {
			w.hdr = h
		} else {
			w.hdr = make(http.Header, 8)
		}
	}
	return w.hdr
}

func (w *response) WriteHeader(code int) {
	if w.status != 0 || w.done {
		return
	}
	if code < 100 || code > 999 {
		panic("h1: invalid WriteHeader code " + strconv.Itoa(code))
	}
	c := w.ex.c
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// Informational answers (103 Early Hints) go out at once.
		c.out = appendStatusLine(c.out, code, w.http10)
		c.out = appendHeader(c.out, w.hdr, nil)
		c.out = append(c.out, "\r\n"...)
		w.setErr(c.flush())
		w.mark, w.flushes = len(c.out), c.flushes
		return
	}
	w.status = code
	w.snapshot()
}

// WriteHeaderBlock is WriteHeader for an answer whose header fields are
// fixed in advance, such as an error page or a cached file: block and
// then more hold them as lines "Name: value\r\n", sorted by name, valid,
// with a Content-Length line for length bytes and a Content-Type line,
// and without the fields the engine writes itself (Date, Connection,
// Transfer-Encoding). The header map is not read. What goes out is what
// WriteHeader would send for a map holding those fields, less the work
// of reading and sorting it. closing asks to close the connection after
// the answer. code must allow a body (not 1xx, 204 or 304).
func (w *response) WriteHeaderBlock(code int, block, more []byte, length int64, closing bool) {
	if w.status != 0 || w.done {
		return
	}
	if code > 999 || !bodyAllowed(code) {
		panic("h1: invalid WriteHeaderBlock code " + strconv.Itoa(code))
	}
	c := w.ex.c
	w.status, w.length = code, length
	w.hasType, w.noSniff = true, true
	if closing {
		c.closing = true
	}
	c.out = appendStatusLine(c.out, code, w.http10)
	c.out = append(c.out, block...)
	c.out = append(c.out, more...)
}

// snapshot writes the status line and the handler's header fields into
// c.out when the status is set, as net/http fixes the header at that
// point: changes made later are not sent (except declared trailers).
// commit adds the fields the engine decides (Date, framing,
// Content-Type, Connection) and ends the head.
func (w *response) snapshot() {
	c := w.ex.c
	allowed := bodyAllowed(w.status)
	w.length = -1
	// One walk over the map gathers the fields and what the engine
	// needs to know of them.
	var small [24]field
	fs := small[:0]
	encoded := false
	for k, v := range w.hdr {
		fs = append(fs, field{k, v})
		switch k {
		case "Content-Length":
			if len(v) > 0 && allowed {
				if n, err := strconv.ParseInt(strings.TrimSpace(v[0]), 10, 64); err == nil && n >= 0 {
					w.length = n
				}
			}
		case "Date":
			w.hasDate = true
		case "Content-Type":
			w.hasType = true
		case "Content-Encoding":
			encoded = len(v) > 0 && v[0] != ""
		case "Connection":
			for _, v := range v {
				if tokenListHas([]byte(v), "close") {
					c.closing = true
				}
			}
		case "Transfer-Encoding":
			// The handler asks for chunked framing.
			w.teChunked = len(v) > 0 && allowed
		case "Trailer":
			if allowed {
				for _, v := range v {
					for _, k := range strings.Split(v, ",") {
						if k = http.CanonicalHeaderKey(strings.TrimSpace(k)); k != "" {
							w.trailers = append(w.trailers, k)
						}
					}
				}
			}
		}
	}
	w.noSniff = w.hasType || encoded || w.teChunked
	upgrade := w.status == http.StatusSwitchingProtocols
	if upgrade {
		// The connection speaks another protocol after this answer:
		// it is the handler's to take over (Hijack), or it closes.
		c.closing = true
	}
	c.out = appendStatusLine(c.out, w.status, w.http10)
	c.out = appendFields(c.out, fs, &skip{
		cl:       !allowed || w.length < 0,
		noType:   w.status == http.StatusNotModified,
		keepConn: upgrade,
	})
}

func (w *response) Write(p []byte) (int, error) {
	return w.write(p, "")
}

func (w *response) WriteString(s string) (int, error) {
	return w.write(nil, s)
}

// write takes p, or s when p is nil.
func (w *response) write(p []byte, s string) (int, error) {
	n := len(p)
	if p == nil {
		n = len(s)
	}
	if w.done {
		return 0, errWriteAfterEnd
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.err != nil {
		return 0, w.err
	}
	if n == 0 {
		return 0, nil
	}
	if w.length >= 0 && w.written+int64(len(w.pre)+n) > w.length {
		return 0, http.ErrContentLength // as net/http: nothing of it goes out
	}
	if !w.committed {
		if len(w.pre)+n <= preSize {
			if w.pre == nil {
				w.prep = prePool.Get().(*[]byte)
				w.pre = (*w.prep)[:0]
			}
			if p == nil {
				w.pre = append(w.pre, s...)
			} else {
				w.pre = append(w.pre, p...)
			}
			return n, nil
		}
		if p == nil {
			p = []byte(s)
		}
		w.commitSniff(false, p)
	}
	if p == nil {
		p = []byte(s)
	}
	return w.send(p)
}

// send writes body bytes after the head.
func (w *response) send(p []byte) (int, error) {
	c := w.ex.c
	n := len(p)
	var err error
	if w.length >= 0 && w.written+int64(n) > w.length {
		p = p[:w.length-w.written]
		err = http.ErrContentLength
	}
	w.written += int64(len(p))
	if w.head || len(p) == 0 {
		if err != nil {
			return len(p), err
		}
		return n, nil
	}
	if w.chunked {
		c.out = strconv.AppendInt(c.out, int64(len(p)), 16)
		c.out = append(c.out, "\r\n"...)
		if len(p) >= bigWrite {
			w.setErr(c.writeBig(p, crlf))
		} else {
			c.out = append(c.out, p...)
			c.out = append(c.out, "\r\n"...)
		}
	} else if len(p) >= bigWrite {
		w.setErr(c.writeBig(p, nil))
	} else {
		c.out = append(c.out, p...)
	}
	if len(c.out) >= flushSize {
		w.setErr(c.flush())
	}
	if w.err != nil {
		return 0, w.err
	}
	if err != nil {
		return len(p), err
	}
	return n, nil
}

var crlf = []byte("\r\n")

func (w *response) setErr(err error) {
	if err != nil && w.err == nil {
		w.err = err
	}
}

// commit ends the head begun by snapshot. final means the handler has
// returned, so the whole body is in w.pre and its length is known.
func (w *response) commit(final bool) { w.commitSniff(final, nil) }

// commitSniff is commit with first, the start of the body when it is not
// in w.pre, for sniffing the Content-Type.
func (w *response) commitSniff(final bool, first []byte) {
	if w.committed {
		return
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.committed = true
	c := w.ex.c
	allowed := bodyAllowed(w.status)
	w.settleBody()

	b := c.out
	if !w.hasDate {
		b = append(b, dateLine()...)
	}
	switch {
	case !allowed:
	case w.length >= 0: // declared: written by snapshot
	case final && len(w.trailers) == 0 && !w.teChunked && (!w.head || len(w.pre) > 0):
		w.length = int64(len(w.pre))
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, w.length, 10)
		b = append(b, "\r\n"...)
	case w.head:
	case !w.http10:
		w.chunked = true
	default:
		c.closing = true // HTTP/1.0: the end of the body is the end of the connection
	}
	if c.srv.inShutdown.Load() {
		c.closing = true
	}
	if len(w.pre) > 0 && len(w.pre) < 512 && len(first) > 0 {
		first = append(w.pre[:len(w.pre):len(w.pre)], first[:min(len(first), 512)]...)
	} else if len(w.pre) > 0 {
		first = w.pre
	}
	if allowed && !w.noSniff && len(first) > 0 {
		b = append(b, "Content-Type: "...)
		b = append(b, http.DetectContentType(first)...)
		b = append(b, "\r\n"...)
	}
	switch {
	case w.status == http.StatusSwitchingProtocols:
		// The handler's Connection field (upgrade) went out as it is.
	case c.closing && !w.http10:
		b = append(b, "Connection: close\r\n"...)
	case !c.closing && w.http10:
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	if w.chunked {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	c.out = append(b, "\r\n"...)
	if w.pre != nil {
		pre := w.pre
		w.pre = nil
		_, _ = w.send(pre)
		*w.prep = pre[:0]
		prePool.Put(w.prep)
		w.prep = nil
	}
}

// settleBody decides, before the head goes out, what becomes of a request
// body the handler has not read, as net/http does, so that the head can
// say Connection: close when the connection cannot go on: a client not
// yet told to continue, or more than discardLimit left, closes; a
// smaller rest is read and dropped now. A handler that asked for full
// duplex keeps its body.
func (w *response) settleBody() {
	b := &w.ex.body
	c := w.ex.c
	if w.fullDuplex || c.closing || b.done() || b.closed && b.eof {
		return
	}
	switch {
	case b.err != nil, b.expect, !b.chunked && b.left > discardLimit:
		c.closing = true
	default:
		if !b.discard() {
			c.closing = true
		}
	}
}

var prePool = sync.Pool{New: func() any { b := make([]byte, 0, preSize); return &b }}

// finish completes the answer once the handler has returned.
func (w *response) finish() {
	if w.done {
		return
	}
	w.commit(true)
	w.done = true
	c := w.ex.c
	if w.chunked {
		c.out = append(c.out, "0\r\n"...)
		c.out = w.appendTrailers(c.out)
		c.out = append(c.out, "\r\n"...)
	}
	if w.length >= 0 && w.written < w.length && !w.head {
		c.closing = true // short body: the client must not wait for more on this connection
	}
}

// appendTrailers writes the declared trailer fields and those named with
// http.TrailerPrefix, as they are when the handler returns.
func (w *response) appendTrailers(b []byte) []byte {
	var t http.Header
	for _, k := range w.trailers {
		if v, ok := w.hdr[k]; ok {
			if t == nil {
				t = http.Header{}
			}
			t[k] = v
		}
	}
	for k, v := range w.hdr {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			if t == nil {
				t = http.Header{}
			}
			t[strings.TrimPrefix(k, http.TrailerPrefix)] = v
		}
	}
	if t == nil {
		return b
	}
	return appendHeader(b, t, nil)
}

// Flush sends what is buffered, committing the head.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush for http.ResponseController.
func (w *response) FlushError() error {
	if w.done {
		return errWriteAfterEnd
	}
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	w.commit(false)
	w.setErr(w.ex.c.flush())
	return w.err
}

// ReadFrom sends a file with sendfile(2) when the answer's length is
// declared, as http.ServeContent does; otherwise it copies.
func (w *response) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	c := w.ex.c
	rf, ok := c.nc.(io.ReaderFrom)
	if !ok || w.done || w.head || !bodyAllowed(w.status) || w.err != nil {
		return io.Copy(writerOnly{w}, src)
	}
	if !w.committed {
		if w.length < 0 || !w.noSniff || len(w.pre) > 0 {
			return io.Copy(writerOnly{w}, src) // framing or sniffing needs the bytes
		}
		w.commit(false)
	}
	if w.chunked || w.length < 0 {
		return io.Copy(writerOnly{w}, src)
	}
	corked := false
	if sendsFile(src) {
		if w.length-w.written > notSentLowat {
			c.setLowat()
		}
		corked = c.cork(true)
	}
	if err := c.flush(); err != nil {
		if corked {
			c.cork(false)
		}
		w.setErr(err)
		return 0, err
	}
	remain := w.length - w.written
	inner := src
	outer, isLR := src.(*io.LimitedReader)
	if isLR {
		inner, remain = outer.R, min(outer.N, remain)
	}
	n, err := w.sendFile(rf, inner, remain, corked)
	if isLR {
		outer.N -= n
	}
	w.written += n
	if err != nil {
		w.setErr(err)
		return n, err
	}
	return n, nil
}

// corkedBytes is how much of a file goes out under TCP_CORK, with the
// head: enough for the head to share full segments with the file's first
// bytes. The rest goes out uncorked. Held for the whole file, the cork
// cost wrk 45% of its throughput on 1 MiB files (2.5–2.7 GB/s against
// 4.6–4.8 uncorked after the first 256 KiB, as lighttpd does).
var corkedBytes int64 = 256 << 10

// sendFile sends up to n bytes of src through rf (sendfile(2) for a
// file). When corked, the first corkedBytes go out under the cork, which
// is then cleared, and the rest follows.
func (w *response) sendFile(rf io.ReaderFrom, src io.Reader, n int64, corked bool) (int64, error) {
	if !corked {
		return rf.ReadFrom(&io.LimitedReader{R: src, N: n})
	}
	first := min(n, corkedBytes)
	sent, err := rf.ReadFrom(&io.LimitedReader{R: src, N: first})
	w.ex.c.cork(false)
	if err != nil || sent < first || n == first {
		return sent, err
	}
	rest, err := rf.ReadFrom(&io.LimitedReader{R: src, N: n - first})
	return sent + rest, err
}

// sendsFile reports whether src is a file, alone or limited as
// http.ServeContent passes it: what sendfile(2) sends, and what may go
// out corked. A reader that produces a little at a time (a pipe from a
// program) is not corked, or each short piece would wait for the cork's
// 200 ms ceiling.
func sendsFile(src io.Reader) bool {
	if lr, ok := src.(*io.LimitedReader); ok {
		src = lr.R
	}
	// A type that embeds *os.File counts too: io.Copy from a file goes
	// through the file's WriteTo, which hands the writer the file wrapped
	// so (os.fileWithoutWriteTo), and sendfile(2) still takes it.
	_, ok := src.(interface {
		Fd() uintptr
		Stat() (os.FileInfo, error)
	})
	return ok
}

// writerOnly hides ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

// SetReadDeadline and the methods below serve http.ResponseController.
func (w *response) SetReadDeadline(t time.Time) error {
	return w.ex.c.nc.SetReadDeadline(t)
}

func (w *response) SetWriteDeadline(t time.Time) error {
	return w.ex.c.nc.SetWriteDeadline(t)
}

// EnableFullDuplex: reading the body while writing the answer always
// works here.
func (w *response) EnableFullDuplex() error {
	w.fullDuplex = true
	return nil
}

func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.done {
		return nil, nil, errWriteAfterEnd
	}
	if w.status != 0 {
		w.commit(false)
		// What the handler wrote so far goes out first.
		if err := w.ex.c.flush(); err != nil {
			return nil, nil, err
		}
	}
	return w.ex.c.hijack(&w.ex.ctx)
}

// skip says which handler header fields appendHeader leaves out.
type skip struct {
	cl       bool // leave out Content-Length
	noType   bool // leave out Content-Type (304)
	keepConn bool // keep the handler's Connection field (101: "upgrade")
}

// appendHeader writes the fields sorted by name, as net/http does:
// invalid names are dropped, values are trimmed and CR or LF in them
// become spaces. Transfer-Encoding is always the engine's to write.
func appendHeader(b []byte, h http.Header, sk *skip) []byte {
	var small [24]field
	fs := small[:0]
	for k, v := range h {
		fs = append(fs, field{k, v})
	}
	return appendFields(b, fs, sk)
}

// field is one header field with all its values.
type field struct {
	k string
	v []string
}

// appendFields is appendHeader on fields gathered from the map; it sorts
// them in place.
func appendFields(b []byte, fs []field, sk *skip) []byte {
	// Insertion sort: a handful of keys.
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].k < fs[j-1].k; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
	for _, f := range fs {
		k := f.k
		if k == "Transfer-Encoding" || !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		if sk != nil {
			switch {
			case k == "Connection" && !sk.keepConn:
				continue // the engine writes its own
			case k == "Content-Length" && sk.cl:
				continue
			case k == "Content-Type" && sk.noType:
				continue
			}
		}
		for _, v := range f.v {
			b = append(b, k...)
			b = append(b, ": "...)
			start := len(b)
			b = append(b, strings.TrimSpace(v)...)
			for i := start; i < len(b); i++ {
				if b[i] == '\r' || b[i] == '\n' {
					b[i] = ' '
				}
			}
			b = append(b, "\r\n"...)
		}
	}
	return b
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// statusLines holds the status line of every code net/http has a text
// for, indexed by code; "" for the others.
var statusLines = func() (l [600]string) {
	for code := 100; code < len(l); code++ {
		if t := http.StatusText(code); t != "" {
			l[code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + t + "\r\n"
		}
	}
	return l
}()

// appendStatusLine writes the status line; HTTP/1.0 requests get an
// HTTP/1.0 one, as from net/http.
func appendStatusLine(b []byte, status int, http10 bool) []byte {
	start := len(b)
	if status >= 0 && status < len(statusLines) && statusLines[status] != "" {
		b = append(b, statusLines[status]...)
	} else {
		b = append(b, "HTTP/1.1 "...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, " status code "...) // as net/http words an unknown code
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, "\r\n"...)
	}
	if http10 {
		b[start+7] = '0'
	}
	return b
}

// date is the Date line, formatted once a second.
type date struct {
	sec  int64
	line []byte
}

var dateCache atomic.Pointer[date]

func dateLine() []byte {
	now := time.Now()
	d := dateCache.Load()
	if d == nil || d.sec != now.Unix() {
		d = &date{sec: now.Unix()}
		d.line = append([]byte("Date: "), now.UTC().AppendFormat(nil, http.TimeFormat)...)
		d.line = append(d.line, "\r\n"...)
		dateCache.Store(d)
	}
	return d.line
}
