package main

import (
	"bytes"
	"log"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
)

// HandlerAdapter runs an http.Handler on the engine: it builds an
// *http.Request and an http.ResponseWriter for each request. With Reuse,
// the Request, its URL and Header map and the ResponseWriter's Header map
// are reused from request to request, which is only safe for handlers
// that keep none of them after returning.
type HandlerAdapter struct {
	H     http.Handler
	Reuse bool
}

// adapter holds the objects one state reuses.
type adapter struct {
	req  http.Request
	url  url.URL
	hdr  http.Header
	vals []string
	body bodyReader
	rw   respWriter
}

type bodyReader struct{ bytes.Reader }

func (*bodyReader) Close() error { return nil }

var chunkedTE = []string{"chunked"}

func (a *HandlerAdapter) Serve(w *Response, r *request, body []byte) {
	ad := w.ad
	req := ad.build(w.c, r, body, a.Reuse)
	rw := &ad.rw
	rw.w, rw.req, rw.status, rw.wrote = w, r, 0, false
	rw.body = rw.body[:0]
	if a.Reuse && rw.hdr != nil {
		clear(rw.hdr)
	} else {
		rw.hdr = make(http.Header, 4)
	}
	mark := len(w.c.out)
	defer func() {
		// As net/http: a panicking handler loses its connection, and
		// http.ErrAbortHandler is the quiet way to ask for that.
		if e := recover(); e != nil {
			c := w.c
			c.out = c.out[:mark] // answers before this one still go out
			c.closing = true
			if e != http.ErrAbortHandler {
				log.Printf("engine: panic serving %s: %v", c.raddr, e)
			}
		}
	}()
	a.H.ServeHTTP(rw, req)
	rw.finish()
}

// build makes the *http.Request: every string in it is a substring of
// one copy of the head (one allocation), common header names are
// interned.
func (ad *adapter) build(c *conn, r *request, body []byte, reuse bool) *http.Request {
	s := string(r.raw)
	end := cap(r.raw)
	sub := func(b []byte) string {
		off := end - cap(b)
		return s[off : off+len(b)]
	}
	var req *http.Request
	var u *url.URL
	if reuse {
		req, u = &ad.req, &ad.url
		*u = url.URL{}
		if ad.hdr == nil {
			ad.hdr = make(http.Header, 16)
		} else {
			clear(ad.hdr)
		}
		if cap(ad.vals) < r.nh {
			ad.vals = make([]string, maxHeaders)
		}
	} else {
		req, u = new(http.Request), new(url.URL)
		ad.hdr = make(http.Header, r.nh)
		ad.vals = make([]string, r.nh)
	}
	h := ad.hdr
	for i := 0; i < r.nh; i++ {
		f := &r.headers[i]
		if len(f.name) == 4 && equalFold(f.name, "Host") {
			continue // net/http moves Host out of the map, into req.Host
		}
		k, ok := commonKeys[string(f.name)]
		if !ok {
			k = textproto.CanonicalMIMEHeaderKey(sub(f.name))
		}
		v := sub(f.value)
		if old, dup := h[k]; dup {
			h[k] = append(old, v)
		} else {
			ad.vals[i] = v
			h[k] = ad.vals[i : i+1 : i+1]
		}
	}
	target := sub(r.target)
	switch {
	case target[0] == '/' && strings.IndexByte(target, '%') < 0:
		if q := strings.IndexByte(target, '?'); q >= 0 {
			u.Path, u.RawQuery = target[:q], target[q+1:]
		} else {
			u.Path = target
		}
	default:
		pu, err := url.ParseRequestURI(target)
		if err != nil {
			pu = &url.URL{Path: target}
		}
		*u = *pu
	}
	if c.raddrS == "" {
		c.raddrS = c.raddr.String()
	}
	*req = http.Request{
		Method:     sub(r.method),
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: r.minor,
		Header:     h,
		Body:       http.NoBody,
		Close:      r.close,
		RemoteAddr: c.raddrS,
		RequestURI: target,
	}
	if r.minor == 0 {
		req.Proto = "HTTP/1.0"
	}
	if u.Host != "" {
		req.Host = u.Host
	} else if r.host != nil {
		req.Host = sub(r.host)
	}
	if r.chunked {
		req.TransferEncoding = chunkedTE
		req.ContentLength = -1
	} else if r.contentLength > 0 {
		req.ContentLength = r.contentLength
	}
	if len(body) > 0 {
		ad.body.Reset(body)
		req.Body = &ad.body
	}
	return req
}

var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Authorization",
		"Cache-Control", "Connection", "Content-Length", "Content-Type", "Cookie", "Expect",
		"If-Modified-Since", "If-None-Match", "If-Range", "Origin", "Pragma", "Range", "Referer",
		"Transfer-Encoding", "Upgrade", "User-Agent", "X-Forwarded-For", "X-Forwarded-Proto",
		"X-Real-Ip", "Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-Dest", "Upgrade-Insecure-Requests"} {
		m[k] = k
		m[strings.ToLower(k)] = k
	}
	return m
}()

// respWriter is the http.ResponseWriter: the body is buffered whole and
// the head written at the end with the exact Content-Length.
type respWriter struct {
	w      *Response
	req    *request
	hdr    http.Header
	status int
	wrote  bool
	body   []byte
}

func (rw *respWriter) Header() http.Header { return rw.hdr }

func (rw *respWriter) WriteHeader(code int) {
	if rw.wrote {
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code >= 100 && code < 200 && code != 101 {
		// Informational answers (103 Early Hints) go out at once.
		c := rw.w.c
		b := appendStatusLine(c.outBuf(), code)
		b = appendHeader(b, rw.hdr)
		c.out = append(b, "\r\n"...)
		return
	}
	rw.status, rw.wrote = code, true
}

func (rw *respWriter) Write(p []byte) (int, error) {
	if !rw.wrote {
		rw.WriteHeader(200)
	}
	if !bodyAllowed(rw.status) {
		return 0, http.ErrBodyNotAllowed
	}
	rw.body = append(rw.body, p...)
	return len(p), nil
}

func (rw *respWriter) WriteString(p string) (int, error) {
	if !rw.wrote {
		rw.WriteHeader(200)
	}
	if !bodyAllowed(rw.status) {
		return 0, http.ErrBodyNotAllowed
	}
	rw.body = append(rw.body, p...)
	return len(p), nil
}

func (rw *respWriter) finish() {
	if !rw.wrote {
		rw.WriteHeader(200)
	}
	c, h := rw.w.c, rw.hdr
	body := rw.body
	allowed := bodyAllowed(rw.status)
	if cv, ok := h["Connection"]; ok {
		for _, v := range cv {
			if tokenListHas([]byte(v), "close") {
				c.closing = true
			}
		}
		delete(h, "Connection")
	}
	delete(h, "Transfer-Encoding")
	if allowed {
		if _, ok := h["Content-Type"]; !ok && len(body) > 0 {
			h["Content-Type"] = []string{http.DetectContentType(body)}
		}
		if cl, ok := h["Content-Length"]; ok && len(cl) == 1 {
			if n, err := strconv.ParseInt(cl[0], 10, 64); err == nil && !rw.req.isHead() {
				if n < int64(len(body)) {
					body = body[:n] // net/http refuses writes past it
				} else if n > int64(len(body)) {
					c.closing = true // short body: the client must not reuse the connection
				}
			}
		} else if !rw.req.isHead() || len(body) > 0 {
			delete(h, "Content-Length")
			c.out = appendStatusLine(c.outBuf(), rw.status)
			c.out = append(c.out, "Content-Length: "...)
			c.out = strconv.AppendInt(c.out, int64(len(body)), 10)
			c.out = append(c.out, "\r\n"...)
			rw.rest(h, body, allowed)
			return
		}
	} else {
		delete(h, "Content-Length")
	}
	c.out = appendStatusLine(c.outBuf(), rw.status)
	rw.rest(h, body, allowed)
}

func (rw *respWriter) rest(h http.Header, body []byte, allowed bool) {
	c := rw.w.c
	b := c.out
	if _, ok := h["Date"]; !ok {
		b = append(b, *dateLine.Load()...)
	}
	b = appendHeader(b, h)
	b = connectionLine(b, c, rw.req)
	b = append(b, "\r\n"...)
	if allowed && !rw.req.isHead() {
		b = append(b, body...)
	}
	c.out = b
}

// appendHeader writes the fields, as net/http does: invalid names are
// dropped, CR and LF in values become spaces.
func appendHeader(b []byte, h http.Header) []byte {
	for k, vv := range h {
		if !validFieldName(k) {
			continue
		}
		for _, v := range vv {
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

func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !tokenTable[k[i]] {
			return false
		}
	}
	return true
}
