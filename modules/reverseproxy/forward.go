package reverseproxy

import (
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// forward proxies a request that does not ask to switch protocols. It
// takes the steps httputil.ReverseProxy takes, in its order (hop-by-hop
// headers, Te: trailers, the forwarding headers, rewrite, 1xx answers,
// trailers, a flush after each piece of body), less two costs that
// ReverseProxy cannot avoid: it never asks for the request context's
// Done channel, which on httpd's HTTP/1.1 engine starts a goroutine
// watching the client's connection for every request, and it makes one
// shallow copy of the request rather than several. Requests that ask to
// switch protocols go through ReverseProxy (serve). aborted reports that
// the answer broke off after it began.
func (m *Module) forward(w http.ResponseWriter, r *http.Request, st *state) (aborted bool) {
	o := *r
	out := &o
	if r.ContentLength == 0 {
		out.Body = nil
	}
	if out.Body != nil {
		defer out.Body.Close()
	}
	out.Header = r.Header.Clone()
	if out.Header == nil {
		out.Header = make(http.Header)
	}
	u := *r.URL
	out.URL = &u
	out.Close = false
	removeHopByHop(out.Header)
	if httpguts.HeaderValuesContainsToken(r.Header["Te"], "trailers") {
		out.Header.Set("Te", "trailers")
	}
	for _, k := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		delete(out.Header, k)
	}
	out.URL.RawQuery = cleanQueryParams(out.URL.RawQuery)
	m.rewrite(&httputil.ProxyRequest{In: r, Out: out})
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header.Set("User-Agent", "") // none rather than Go's
	}
	st.w = w

	res, err := roundTripper{m}.RoundTrip(out)
	if err != nil {
		st.err = err
		return false
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		res.Body.Close()
		st.err = errors.New("the upstream switched protocols, which the request did not ask for")
		return false
	}
	removeHopByHop(res.Header)
	delete(res.Header, "Server")
	h := w.Header()
	for k, vv := range res.Header {
		h[k] = append(h[k], vv...)
	}
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(res.StatusCode)
	if err := copyBody(w, res.Body); err != nil {
		res.Body.Close()
		return true
	}
	res.Body.Close()
	if len(res.Trailer) > 0 {
		_ = http.NewResponseController(w).Flush()
	}
	if len(res.Trailer) == announced {
		for k, vv := range res.Trailer {
			h[k] = append(h[k], vv...)
		}
		return false
	}
	for k, vv := range res.Trailer {
		k = http.TrailerPrefix + k
		for _, v := range vv {
			h.Add(k, v)
		}
	}
	return false
}

// copyBody copies an upstream's body to the client. Each piece goes out
// as soon as it came (server-sent events), except the last, which the end
// of the handler sends with the head when the answer is short.
func copyBody(w http.ResponseWriter, src io.Reader) error {
	rc := http.NewResponseController(w)
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	buf := *bp
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
			if rerr == nil {
				_ = rc.Flush()
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// got1xx passes an upstream's informational answer (103 Early Hints) to
// the client, as ReverseProxy does.
func (st *state) got1xx(code int, header textproto.MIMEHeader) error {
	if st.w == nil {
		return nil
	}
	h := st.w.Header()
	for k, vv := range header {
		h[k] = append(h[k], vv...)
	}
	st.w.WriteHeader(code)
	clear(h)
	return nil
}

// hopHeaders are the hop-by-hop fields (RFC 9110 §7.6.1), as ReverseProxy
// lists them.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// removeHopByHop removes the hop-by-hop fields and those Connection names.
func removeHopByHop(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = textproto.TrimString(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, f := range hopHeaders {
		delete(h, f)
	}
}

// upgradeType is the protocol a request asks to switch to, or "".
func upgradeType(h http.Header) string {
	if !httpguts.HeaderValuesContainsToken(h["Connection"], "Upgrade") {
		return ""
	}
	return h.Get("Upgrade")
}

// cleanQueryParams re-encodes a query holding a semicolon or a bad
// escape, as ReverseProxy does, so that the upstream cannot read it
// differently from this server.
func cleanQueryParams(s string) string {
	reencode := func(s string) string {
		v, _ := url.ParseQuery(s)
		return v.Encode()
	}
	for i := 0; i < len(s); {
		switch s[i] {
		case ';':
			return reencode(s)
		case '%':
			if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
				return reencode(s)
			}
			i += 3
		default:
			i++
		}
	}
	return s
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
