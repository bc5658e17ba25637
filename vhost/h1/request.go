package h1

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"
)

// exchange is everything one request needs, allocated together.
type exchange struct {
	c    *conn
	url  url.URL
	ctx  reqContext
	body body
	w    response
}

var chunkedTE = []string{"chunked"}

// emptyRequest is copied by WithContext to make each request: the only
// way to set a Request's context without a second allocation.
var emptyRequest = new(http.Request)

// serve runs the handler for the parsed head in c.req and writes the
// answer into c.out. It reports whether the connection can carry another
// request.
func (c *conn) serve() (keep bool) {
	p := c.req
	ex := &exchange{c: c}
	ex.ctx.parent, ex.ctx.ex = c.ctx, ex
	c.cur.Store(&ex.ctx)
	req, err := c.build(ex)
	c.r += p.headLen
	if err != nil {
		c.reject(http.StatusBadRequest, err.Error())
		return false
	}

	if p.contentLength > 0 || p.chunked {
		var want time.Time
		if c.srv.ReadTimeout > 0 {
			want = time.Now().Add(c.srv.ReadTimeout)
		}
		if want != c.rdl {
			c.setReadDeadline(want)
		}
	}
	if c.srv.WriteTimeout > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.WriteTimeout))
	}
	c.closing = p.wantsClose || c.srv.inShutdown.Load()
	c.afterPost = req.Method == "POST"
	if c.srv.H2C != nil && c.tls == nil && !c.closing && p.minor == 1 && req.Body == http.NoBody {
		if settings, ok := h2cUpgrade(req.Header); ok {
			c.out = append(c.out, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"...)
			ex.ctx.cancel(context.Canceled)
			c.handOver(req, settings)
			return false
		}
	}

	w := &ex.w
	w.ex, w.req, w.head, w.http10 = ex, req, req.Method == "HEAD", p.minor == 0
	w.mark, w.flushes = len(c.out), c.flushes
	if !c.runHandler(w, req) {
		return false
	}
	w.finish()
	ex.ctx.cancel(context.Canceled)
	c.unwatch(&ex.ctx)
	if w.hdr != nil && len(w.hdr) <= maxSpareFields {
		// The handler has returned, and with it the use of its writer
		// (as net/http's contract has it): the map serves a later
		// answer.
		clear(w.hdr)
		hdrPool.Put(w.hdr)
		w.hdr = nil
	}
	if w.err != nil {
		return false
	}
	if !c.closing && !ex.body.done() {
		// The answer goes out first: the client may wait for it before
		// sending the rest of the body.
		if err := c.flush(); err != nil || !ex.body.discard() {
			return false
		}
	}
	return !c.closing
}

// maxSpareFields is the most header fields an answer's map may have held
// to be kept for a later answer.
const maxSpareFields = 32

// runHandler calls the handler, turning a panic into a closed connection
// as net/http does. It reports false if the connection is gone (panic or
// hijack).
func (c *conn) runHandler(w *response, req *http.Request) (ok bool) {
	defer func() {
		if c.state.Load() == stateHijacked {
			ok = false
			w.ex.ctx.cancel(context.Canceled)
			return
		}
		if e := recover(); e != nil {
			w.ex.ctx.cancel(context.Canceled)
			c.unwatch(&w.ex.ctx)
			// Answers before this one still go out; this one's bytes do
			// not (if some did, the close cuts it short).
			if w.flushes == c.flushes {
				c.out = c.out[:w.mark]
			} else {
				c.out = c.out[:0]
			}
			ok = false
			if e != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.srv.logger().Error("panic serving request", "remote", c.addr, "method", req.Method,
					"uri", req.RequestURI, "panic", fmt.Sprint(e), "stack", string(buf))
			}
		}
	}()
	c.fair.inHandler.Add(1)
	defer c.fair.inHandler.Add(-1)
	c.srv.Handler.ServeHTTP(w, req)
	return c.state.Load() != stateHijacked
}

// build makes the *http.Request for c.req. Every string in it is a
// substring of one copy of the head; common header names are interned.
func (c *conn) build(ex *exchange) (*http.Request, error) {
	p := c.req
	s := string(p.raw)
	end := cap(p.raw)
	sub := func(b []byte) string {
		off := end - cap(b)
		return s[off : off+len(b)]
	}
	h := make(http.Header, p.nh)
	vals := make([]string, p.nh)
	for i := 0; i < p.nh; i++ {
		f := &p.headers[i]
		if len(f.name) == 4 && equalFold(f.name, "Host") {
			continue // net/http moves Host out of the map, into req.Host
		}
		if p.chunked && len(f.name) == 17 && equalFold(f.name, "Transfer-Encoding") {
			continue // and Transfer-Encoding into req.TransferEncoding
		}
		k, ok := commonKeys[string(f.name)]
		if !ok {
			k = textproto.CanonicalMIMEHeaderKey(sub(f.name))
		}
		v := sub(f.value)
		if old, dup := h[k]; dup {
			if k == "Content-Length" {
				continue // identical, or the parser would have refused them
			}
			h[k] = append(old, v)
		} else {
			vals[i] = v
			h[k] = vals[i : i+1 : i+1]
		}
	}
	u := &ex.url
	target := sub(p.target)
	method := sub(p.method)
	if target[0] == '/' && plainPath(target) {
		if q := strings.IndexByte(target, '?'); q >= 0 {
			u.Path, u.RawQuery = target[:q], target[q+1:]
			u.ForceQuery = q == len(target)-1
		} else {
			u.Path = target
		}
	} else {
		// As net/http: CONNECT's authority form is parsed as the host of
		// an http URL.
		raw, authority := target, method == "CONNECT" && target[0] != '/'
		if authority {
			raw = "http://" + raw
		}
		pu, err := url.ParseRequestURI(raw)
		if err != nil {
			return nil, errors.New("malformed request URI")
		}
		if authority {
			pu.Scheme = ""
		}
		*u = *pu
	}
	req := emptyRequest.WithContext(&ex.ctx)
	req.Method = method
	req.URL = u
	req.Proto = "HTTP/1.1"
	req.ProtoMajor, req.ProtoMinor = 1, p.minor
	req.Header = h
	req.Body = http.NoBody
	req.Close = p.close
	req.RemoteAddr = c.addr
	req.TLS = c.tls
	req.RequestURI = target
	if p.minor != 1 {
		req.Proto = sub(p.proto)
	}
	// RFC 9111 §5.4, as net/http: Pragma: no-cache without Cache-Control
	// means Cache-Control: no-cache.
	if pr, ok := h["Pragma"]; ok && len(pr) > 0 && pr[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	if u.Host != "" {
		req.Host = u.Host
	} else if p.host != nil {
		req.Host = sub(p.host)
	}
	b := &ex.body
	b.c, b.ctx = c, &ex.ctx
	switch {
	case p.chunked:
		req.TransferEncoding = chunkedTE
		req.ContentLength = -1
		b.chunked, b.left = true, 0
		req.Body = b
		if tr, ok := h["Trailer"]; ok {
			// As net/http: the declared trailer keys, valued when the
			// body has been read.
			delete(h, "Trailer")
			req.Trailer = http.Header{}
			for _, v := range tr {
				for _, k := range strings.Split(v, ",") {
					k = http.CanonicalHeaderKey(strings.TrimSpace(k))
					switch k {
					case "Transfer-Encoding", "Trailer", "Content-Length":
						return nil, errors.New("bad trailer key")
					case "":
						continue
					}
					req.Trailer[k] = nil
				}
			}
			b.trailer = req.Trailer
		}
	case p.contentLength > 0:
		req.ContentLength = p.contentLength
		b.left = p.contentLength
		req.Body = b
	default:
		b.eof = true
		ex.ctx.bodyRead = true // before the handler runs: no lock needed yet
	}
	b.expect = p.expectContinue && req.Body != http.NoBody
	return req, nil
}

// h2cUpgrade reports whether a request asks to upgrade to h2c (RFC 7540
// §3.2: Upgrade: h2c, Connection naming Upgrade and HTTP2-Settings, one
// HTTP2-Settings header in base64url), and returns the settings decoded.
func h2cUpgrade(h http.Header) ([]byte, bool) {
	up, ok := h["Upgrade"]
	if !ok || !listHas(up, "h2c") || !listHas(h["Connection"], "upgrade") || !listHas(h["Connection"], "http2-settings") {
		return nil, false
	}
	v := h["Http2-Settings"]
	if len(v) != 1 {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.TrimSpace(v[0]), "="))
	return b, err == nil
}

// listHas reports whether a comma-separated list header holds token,
// in any case.
func listHas(vals []string, token string) bool {
	for _, v := range vals {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// plainPath reports whether an origin-form target needs no URL parsing:
// no escapes, no fragment, no byte that url.URL would escape (so RawPath
// stays empty, as url.Parse leaves it).
func plainPath(t string) bool {
	for i := 0; i < len(t); i++ {
		if !plainByte[t[i]] {
			return false
		}
	}
	return true
}

var plainByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "-._~/$&+,;=:@?" { // what url.URL leaves unescaped in a path
		t[c] = true
	}
	return
}()

var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Authorization",
		"Cache-Control", "Connection", "Content-Length", "Content-Type", "Cookie", "Expect",
		"If-Modified-Since", "If-None-Match", "If-Range", "If-Match", "If-Unmodified-Since",
		"Origin", "Pragma", "Range", "Referer", "Transfer-Encoding", "Upgrade", "User-Agent",
		"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-Ip", "X-Requested-With",
		"Sec-Fetch-Mode", "Sec-Fetch-Site", "Sec-Fetch-Dest", "Sec-Fetch-User", "Sec-Ch-Ua",
		"Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform", "Upgrade-Insecure-Requests", "Dnt", "Te", "Priority"} {
		m[k] = k
		m[strings.ToLower(k)] = k
	}
	return m
}()

// reqContext is a request's context. Done is made on demand: asking for
// it starts watching the connection for the client going away.
type reqContext struct {
	parent context.Context
	ex     *exchange

	mu       sync.Mutex // guards the fields below
	done     chan struct{}
	err      error
	want     bool          // Done was asked for before the body was read
	bodyRead bool          // the body has been read to its end (Done may be asked on any goroutine, so not body.eof)
	watching chan struct{} // closed when the watcher has stopped; nil if none ran
	hijacked bool          // the handler took the connection: no watcher starts
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (x *reqContext) Deadline() (time.Time, bool) { return x.parent.Deadline() }
func (x *reqContext) Value(key any) any           { return x.parent.Value(key) }

func (x *reqContext) Err() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.err
}

func (x *reqContext) Done() <-chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done == nil {
		if x.err != nil {
			x.done = closedChan
			return x.done
		}
		x.done = make(chan struct{})
		x.startWatchLocked()
	}
	return x.done
}

func (x *reqContext) String() string { return "h1.requestContext" }

// startWatchLocked starts the watcher if the body has been read; else it
// starts when the body reaches its end.
func (x *reqContext) startWatchLocked() {
	c := x.ex.c
	if x.err != nil || x.watching != nil || x.hijacked || c.wrc == nil {
		return
	}
	if !x.bodyRead {
		x.want = true
		return
	}
	x.watching = make(chan struct{})
	// Cleared here, not in the watcher: unwatch must find its deadline
	// set after this one.
	_ = c.nc.SetReadDeadline(time.Time{})
	go c.watch(x)
}

// bodyDone is called by the body reader at its end.
func (x *reqContext) bodyDone() {
	x.mu.Lock()
	x.bodyRead = true
	if x.want {
		x.startWatchLocked()
	}
	x.mu.Unlock()
}

func (x *reqContext) cancel(err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.err != nil {
		return
	}
	x.err = err
	if x.done != nil && x.done != closedChan {
		close(x.done)
	}
}

// unwatch stops the request's watcher, if one runs, and waits for it.
func (c *conn) unwatch(x *reqContext) {
	x.mu.Lock()
	ch := x.watching
	x.mu.Unlock()
	if ch == nil {
		return
	}
	_ = c.nc.SetReadDeadline(aLongTimeAgo)
	<-ch
	if d := c.idleTimeout(); d > 0 {
		c.setReadDeadline(time.Now().Add(d))
	} else {
		c.setReadDeadline(time.Time{})
	}
}
