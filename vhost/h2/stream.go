package h2

import (
	"context"
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
)

// stream is one request and its response.
type stream struct {
	c      *conn
	id     uint32
	ctx    context.Context
	cancel context.CancelFunc
	body   *pipe // nil when the request has no body

	// Owned by the reader.
	declared int64 // Content-Length of the request, or -1
	got      int64 // request body bytes received

	// Guarded by c.mu.
	sendWin    int64
	recvWin    int64
	recvUnsent int64
	remoteDone bool // the request has ended
	localDone  bool // the response has ended
	reset      bool // the stream was reset or the connection closed: writes fail
	// linger ends the reading side of a stream whose answer ended before
	// its request (see endLocal); lingered counts the body bytes that
	// came meanwhile.
	linger   *time.Timer
	lingered int64

	rw responseWriter
}

// newStream builds the stream and request a HEADERS frame opens. A
// malformed request is a stream error of type PROTOCOL_ERROR.
func (c *conn) newStream(f *http2.MetaHeadersFrame) (*stream, *http.Request, error) {
	protoErr := func(why string) error {
		return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeProtocol, Cause: errors.New(why)}
	}
	var method, scheme, authority, path string
	for _, hf := range f.PseudoFields() {
		switch hf.Name {
		case ":method":
			method = hf.Value
		case ":scheme":
			scheme = hf.Value
		case ":authority":
			authority = hf.Value
		case ":path":
			path = hf.Value
		default: // :protocol (extended CONNECT) is not offered
			return nil, nil, protoErr("unknown pseudo-header " + hf.Name)
		}
	}
	st := &stream{c: c, id: f.StreamID, declared: -1}
	st.rw.st = st
	req := &http.Request{
		Method:     method,
		Proto:      "HTTP/2.0",
		ProtoMajor: 2,
		RemoteAddr: c.remote,
		RequestURI: path,
		Host:       authority,
	}
	if method == "CONNECT" {
		if path != "" || scheme != "" || authority == "" {
			return nil, nil, protoErr("malformed CONNECT request")
		}
		req.URL = &url.URL{Host: authority}
		req.RequestURI = authority
	} else {
		if method == "" || path == "" || scheme != "https" && scheme != "http" {
			return nil, nil, protoErr("missing or invalid :method, :scheme or :path")
		}
		if path == "*" && method == "OPTIONS" {
			req.URL = &url.URL{Path: "*"}
		} else {
			u, err := url.ParseRequestURI(path)
			if err != nil || path[0] != '/' {
				return nil, nil, protoErr("invalid :path")
			}
			req.URL = u
		}
	}
	if scheme == "https" {
		req.TLS = c.tls
	}

	// The values share one backing array, a slice of capacity one each
	// (a repeated field's append copies out): one allocation, not one a
	// field.
	regular := f.RegularFields()
	h := make(http.Header, len(regular))
	vals := make([]string, len(regular))
	var cookies []string
	for i, hf := range regular {
		k := c.canonical(hf.Name)
		if k == "Cookie" {
			cookies = append(cookies, hf.Value)
			continue
		}
		if old, ok := h[k]; ok {
			h[k] = append(old, hf.Value)
			continue
		}
		vals[i] = hf.Value
		h[k] = vals[i : i+1 : i+1]
	}
	if len(cookies) > 0 {
		h["Cookie"] = []string{strings.Join(cookies, "; ")}
	}
	req.Header = h
	if req.Host == "" {
		req.Host = h.Get("Host")
	}
	if !httpguts.ValidHostHeader(req.Host) {
		return nil, nil, protoErr("invalid :authority")
	}
	if why := checkRequestHeaders(h); why != "" {
		return nil, nil, protoErr(why)
	}

	if f.StreamEnded() {
		st.remoteDone = true
		req.Body = http.NoBody
	} else {
		req.ContentLength = -1
		if v, ok := h["Content-Length"]; ok {
			n, err := strconv.ParseUint(v[0], 10, 63)
			if err != nil || len(v) > 1 {
				return nil, nil, protoErr("invalid content-length")
			}
			req.ContentLength = int64(n)
			st.declared = int64(n)
		}
		st.body = &pipe{st: st}
		st.body.cond.L = &st.body.mu
		st.body.continue100 = strings.EqualFold(h.Get("Expect"), "100-continue")
		req.Body = st.body
		if v := h["Trailer"]; len(v) > 0 {
			req.Trailer = http.Header{}
			for _, line := range v {
				for _, k := range strings.Split(line, ",") {
					k = textproto.CanonicalMIMEHeaderKey(textproto.TrimString(k))
					if httpguts.ValidTrailerHeader(k) {
						req.Trailer[k] = nil
					}
				}
			}
			st.body.trailer = req.Trailer
			delete(h, "Trailer")
		}
		st.recvWin = streamRecvWindow
	}
	if f.StreamEnded() && h["Content-Length"] != nil {
		if v := h["Content-Length"][0]; v != "0" {
			return nil, nil, protoErr("content-length with an empty body")
		}
	}
	st.ctx, st.cancel = context.WithCancel(c.ctx)
	req = req.WithContext(st.ctx)
	if c.srv.ReadTimeout > 0 && st.body != nil {
		st.body.setDeadline(time.Now().Add(c.srv.ReadTimeout))
	}
	return st, req, nil
}

// connectionHeaders may not appear in an HTTP/2 message (RFC 9113
// section 8.2.2): a request with one is malformed, a stream error.
var connectionHeaders = [...]string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade"}

func checkRequestHeaders(h http.Header) string {
	for _, k := range connectionHeaders {
		if _, ok := h[k]; ok {
			return "request header " + strings.ToLower(k) + " is not allowed in HTTP/2"
		}
	}
	if te := h["Te"]; len(te) > 0 && (len(te) > 1 || te[0] != "trailers") {
		return `request header te may only be "trailers" in HTTP/2`
	}
	return ""
}

// canonical turns a lowercase HTTP/2 field name into http.Header's form,
// remembering the names this connection uses.
func (c *conn) canonical(name string) string {
	if k, ok := commonCanonical[name]; ok {
		return k
	}
	if k, ok := c.canon[name]; ok {
		return k
	}
	k := textproto.CanonicalMIMEHeaderKey(name)
	if c.canon == nil {
		c.canon = map[string]string{}
	}
	if len(c.canon) < 64 {
		c.canon[name] = k
	}
	return k
}

var commonCanonical = map[string]string{}

func init() {
	for _, k := range []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Accept-Ranges",
		"Authorization", "Cache-Control", "Content-Disposition", "Content-Encoding",
		"Content-Language", "Content-Length", "Content-Range", "Content-Type", "Cookie", "Date",
		"Dnt", "Etag", "Expect", "Expires", "Forwarded", "From", "Host", "If-Match",
		"If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since", "Last-Modified",
		"Link", "Location", "Origin", "Pragma", "Priority", "Range", "Referer", "Sec-Fetch-Dest",
		"Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-User", "Server", "Set-Cookie", "Te",
		"Trailer", "Upgrade-Insecure-Requests", "User-Agent", "Vary", "Via", "X-Forwarded-For",
		"X-Forwarded-Proto", "X-Requested-With", "Connection", "Keep-Alive", "Proxy-Connection",
		"Transfer-Encoding", "Upgrade", "Www-Authenticate", "Allow", "Retry-After",
		"Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options", "Age",
	} {
		commonCanonical[strings.ToLower(k)] = k
		commonLower[k] = strings.ToLower(k)
	}
}

// run calls the handler and ends the stream after it.
func (st *stream) run(h http.Handler, req *http.Request) {
	c := st.c
	defer c.handlers.Add(-1)
	rw := &st.rw
	rw.req = req
	rw.head = req.Method == "HEAD"
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				c.srv.log().Error("h2: handler panic", "remote", c.remote, "uri", req.RequestURI, "panic", p)
			}
			rw.abort(http2.ErrCodeInternal)
		}
		if st.body != nil {
			st.body.closeRead()
		}
		st.cancel()
		rw.release()
	}()
	h.ServeHTTP(rw, req)
	rw.finish()
}

// pipe is a request body: the reader writes DATA into it, the handler
// reads it and gives the flow-control window back as it goes.
type pipe struct {
	st          *stream
	mu          sync.Mutex
	cond        sync.Cond
	buf         []byte
	err         error    // io.EOF, or why the body broke off; read once buf is empty
	closed      bool     // the handler has closed the body or returned
	deadline    deadline // SetReadDeadline
	trailer     http.Header
	continue100 bool // a 100 Continue is owed before the first read
}

// write adds data; it reports false when the handler no longer reads.
func (p *pipe) write(b []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.err != nil {
		return false
	}
	p.buf = append(p.buf, b...)
	p.cond.Signal()
	return true
}

func (p *pipe) addTrailer(k, v string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.trailer[k]; ok {
		p.trailer[k] = append(p.trailer[k], v)
	}
}

func (p *pipe) closeWithError(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
	p.cond.Broadcast()
}

func (p *pipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	if p.continue100 {
		p.continue100 = false
		p.mu.Unlock()
		p.st.rw.sendContinue()
		p.mu.Lock()
	}
	for len(p.buf) == 0 && p.err == nil && !p.closed && !p.deadline.expired {
		p.cond.Wait()
	}
	switch {
	case p.closed:
		p.mu.Unlock()
		return 0, errHandlerDone
	case len(p.buf) > 0:
	case p.err != nil:
		err := p.err
		p.mu.Unlock()
		return 0, err
	default:
		p.mu.Unlock()
		return 0, os.ErrDeadlineExceeded
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	if len(p.buf) == 0 {
		p.buf = p.buf[:0:0]
	}
	p.mu.Unlock()

	c := p.st.c
	c.mu.Lock()
	c.refundConn(int64(n))
	p.st.refund(int64(n))
	c.mu.Unlock()
	return n, nil
}

// Close stops the handler's reading; data that still comes is dropped.
func (p *pipe) Close() error {
	p.closeRead()
	return nil
}

func (p *pipe) closeRead() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	n := len(p.buf)
	p.buf = nil
	p.deadline.stop()
	p.cond.Broadcast()
	p.mu.Unlock()
	if n > 0 {
		c := p.st.c
		c.mu.Lock()
		c.refundConn(int64(n))
		c.mu.Unlock()
	}
}

// setDeadline makes reads fail after t; the zero time removes it.
func (p *pipe) setDeadline(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deadline.set(t, &p.mu, p.cond.Broadcast)
}
