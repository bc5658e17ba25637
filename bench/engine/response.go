package main

import (
	"net/http"
	"os"
	"strconv"
)

// Response is the low-level API's writer: one call per request builds the
// whole head in the connection's output buffer.
type Response struct {
	c  *conn
	r  *request
	ad *adapter
}

func (w *Response) reset(c *conn, r *request) { w.c, w.r = c, r }

// bigBody is the size from which a body is sent from where it lies
// (writev) instead of being copied after the head.
const bigBody = 16 << 10

// Static answers with status, the extra header lines hdr (each ending in
// CRLF, e.g. "Content-Type: text/html\r\n", prebuilt by the caller) and
// body, which must stay unchanged until sent (a cached response).
func (w *Response) Static(status int, hdr, body []byte) {
	c := w.c
	b := w.head(c.outBuf(), status, hdr, int64(len(body)))
	if w.r.isHead() || !bodyAllowed(status) {
		c.out = b
		return
	}
	if len(body) < bigBody {
		c.out = append(b, body...)
		return
	}
	c.out = b
	c.segs = append(c.segs, c.out[c.sealed:], body)
	c.sealed = len(c.out)
}

// File answers with status, hdr and size bytes of f sent by sendfile(2);
// f must stay open until sent. Requests pipelined behind it wait.
func (w *Response) File(status int, hdr []byte, f *os.File, size int64) {
	c := w.c
	c.out = w.head(c.outBuf(), status, hdr, size)
	if w.r.isHead() || size == 0 {
		return
	}
	c.file, c.fOff, c.fRem = f, 0, size
}

func (r *request) isHead() bool { return string(r.method) == "HEAD" }

func (w *Response) head(b []byte, status int, hdr []byte, length int64) []byte {
	b = appendStatusLine(b, status)
	b = append(b, *dateLine.Load()...)
	b = append(b, hdr...)
	if bodyAllowed(status) {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, length, 10)
		b = append(b, "\r\n"...)
	}
	b = connectionLine(b, w.c, w.r)
	return append(b, "\r\n"...)
}

func connectionLine(b []byte, c *conn, r *request) []byte {
	if c.closing {
		return append(b, "Connection: close\r\n"...)
	}
	if r.minor == 0 {
		return append(b, "Connection: keep-alive\r\n"...)
	}
	return b
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != 204 && status != 304
}

var statusLines = func() map[int]string {
	m := map[int]string{}
	for code := 100; code < 600; code++ {
		if t := http.StatusText(code); t != "" {
			m[code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + t + "\r\n"
		}
	}
	return m
}()

var status200 = statusLines[200]

func appendStatusLine(b []byte, status int) []byte {
	if status == 200 {
		return append(b, status200...)
	}
	if s, ok := statusLines[status]; ok {
		return append(b, s...)
	}
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	return append(b, " status code\r\n"...)
}

func statusText(code int) string { return http.StatusText(code) }
