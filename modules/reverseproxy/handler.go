package reverseproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"

	"httpd/internal/forwarded"
	"httpd/internal/gateway"
	"httpd/registry"
)

// state is what one request's passes through ReverseProxy's callbacks
// share; it travels in the request's context.
type state struct {
	mount    registry.Mount
	clientIP string    // REMOTE_ADDR, for ip_hash and header_up
	upstream *upstream // the last one tried
	err      error     // from the ErrorHandler
	bodyErr  error     // reading the upstream's body failed
	// switching is set once the upstream agreed to switch protocols
	// (101): the connection then belongs to the two ends.
	switching bool
	// w is the client's writer when forward serves the request: 1xx
	// answers go to it.
	w http.ResponseWriter
}

type stateKey struct{}

func stateOf(ctx context.Context) *state {
	st, _ := ctx.Value(stateKey{}).(*state)
	if st == nil {
		st = new(state) // a request that did not come through serveMount
	}
	return st
}

// serveMount proxies a request under the mount's prefix.
func (m *Module) serveMount(w http.ResponseWriter, r *http.Request, mt registry.Mount) error {
	st := &state{mount: mt}
	st.clientIP, _ = gateway.RemoteAddrPort(r)
	r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
	_ = http.NewResponseController(w).EnableFullDuplex()
	var aborted bool
	if upgradeType(r.Header) == "" {
		aborted = m.forward(w, r, st)
	} else {
		aborted = m.serve(w, r)
	}
	if aborted && st.bodyErr == nil {
		st.bodyErr = errors.New("copy to the client failed")
	}
	switch {
	case st.switching:
		// The connection was handed over (or the handover failed
		// after the upstream's 101): nothing is left to answer.
		if st.err != nil {
			m.log.Info("switched connection ended", "upstream", st.upstream.to, "err", st.err)
		}
		return nil
	case st.err != nil:
		return m.failure(r, st, st.err)
	case st.bodyErr != nil:
		if r.Context().Err() != nil {
			return registry.Error(registry.StatusClientClosed, fmt.Errorf("reverse_proxy %s: client went away", m.Prefix))
		}
		return fmt.Errorf("reverse_proxy %s: upstream %s: response body: %w", m.Prefix, st.upstream.to, st.bodyErr)
	}
	return nil
}

// serve runs ReverseProxy, for requests that ask to switch protocols;
// forward serves the others. Under a server that sets
// http.ServerContextKey (net/http's), ReverseProxy panics with
// http.ErrAbortHandler when a body breaks off; that is caught here, so
// that the vhost still logs the request, and reported as aborted.
func (m *Module) serve(w http.ResponseWriter, r *http.Request) (aborted bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			aborted = true
		}
	}()
	m.proxy.ServeHTTP(w, r)
	return false
}

// failure maps the error of a request that got no response to its
// status: 499 when the client went away, 413 for a body over the limit,
// 504 when no response header came in time, else 502. The error names
// the upstream and the reason.
func (m *Module) failure(r *http.Request, st *state, err error) error {
	to := "(none)"
	if st.upstream != nil {
		to = st.upstream.to
	}
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case r.Context().Err() != nil:
		return registry.Error(registry.StatusClientClosed, fmt.Errorf("reverse_proxy %s: client went away while waiting for %s", m.Prefix, to))
	case errors.As(err, &mbe):
		return fmt.Errorf("reverse_proxy %s: request body: %w", m.Prefix, err)
	case errors.Is(err, errNoUpstream):
		return registry.Errorf(http.StatusBadGateway, "reverse_proxy %s: %v (%d listed)", m.Prefix, err, len(m.upstreams))
	case errors.As(err, &ne) && ne.Timeout() && !isDial(err):
		return registry.Errorf(http.StatusGatewayTimeout, "reverse_proxy %s: upstream %s: no response header within %s: %v",
			m.Prefix, to, m.ResponseHeaderTimeout, err)
	}
	return registry.Errorf(http.StatusBadGateway, "reverse_proxy %s: upstream %s: %v", m.Prefix, to, err)
}

func isDial(err error) bool {
	var de *dialError
	return errors.As(err, &de)
}

// rewrite makes the upstream request: the path (stripped of the prefix
// when strip_prefix is on), the forwarding headers, header_up. The
// upstream's scheme and host are set when one is picked (roundTripper).
func (m *Module) rewrite(pr *httputil.ProxyRequest) {
	st := stateOf(pr.In.Context())
	if m.StripPrefix {
		p := st.mount.Path
		if p == "" {
			p = "/"
		}
		raw := pr.In.URL.EscapedPath()
		if script := st.mount.ScriptName; strings.HasPrefix(raw, script) {
			raw = raw[len(script):]
		} else {
			raw = ""
		}
		if raw == "" {
			raw = "/"
		}
		pr.Out.URL.Path, pr.Out.URL.RawPath = p, ""
		if raw != pr.Out.URL.EscapedPath() {
			pr.Out.URL.RawPath = raw
		}
	}
	forwarded.SetHeaders(pr.Out.Header, pr.In)
	for k, v := range m.HeaderUp {
		if v == "" {
			pr.Out.Header.Del(k)
			continue
		}
		pr.Out.Header.Set(k, expand(v, pr.In, st))
	}
}

// expand replaces the placeholders of a header_up value.
func expand(v string, r *http.Request, st *state) string {
	if !strings.Contains(v, "{") {
		return v
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return strings.NewReplacer(
		"{remote_addr}", st.clientIP,
		"{host}", r.Host,
		"{scheme}", scheme,
		"{uri}", gateway.RequestURI(r),
	).Replace(v)
}

// placeholders are those expand knows, for the README and decoding.
var placeholders = []string{"{remote_addr}", "{host}", "{scheme}", "{uri}"}

// errorHandler keeps the error for serveMount, which answers it.
func (m *Module) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	stateOf(r.Context()).err = err
}

// modifyResponse drops the upstream's Server field, as nginx does: the
// client talks to this server, which names itself. It notes a protocol
// switch; over HTTP/2 a connection cannot be handed over, so the switch
// is refused (a 502, as ReverseProxy answers it).
func (m *Module) modifyResponse(resp *http.Response) error {
	resp.Header.Del("Server")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil
	}
	if resp.Request != nil && resp.Request.ProtoMajor != 1 {
		return errors.New("the upstream switched protocols, which an HTTP/2 request cannot")
	}
	stateOf(resp.Request.Context()).switching = true
	return nil
}

// track wraps an upstream response's body so that the upstream's count
// of requests drops when it is closed, and a read error is kept for
// serveMount. A switched connection's body stays writable.
func track(resp *http.Response, st *state, u *upstream) io.ReadCloser {
	b := &trackedBody{ReadCloser: resp.Body, st: st, u: u}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if w, ok := resp.Body.(io.Writer); ok {
			return &trackedConn{trackedBody: b, w: w}
		}
	}
	return b
}

type trackedBody struct {
	io.ReadCloser
	st   *state
	u    *upstream
	once sync.Once
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && !b.st.switching {
		b.st.bodyErr = err
	}
	return n, err
}

func (b *trackedBody) Close() error {
	b.once.Do(func() { b.u.inflight.Add(-1) })
	return b.ReadCloser.Close()
}

// trackedConn is a switched connection's body: ReverseProxy writes the
// client's bytes to it.
type trackedConn struct {
	*trackedBody
	w io.Writer
}

func (c *trackedConn) Write(p []byte) (int, error) { return c.w.Write(p) }
