package gateway

import (
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Interface is the value of GATEWAY_INTERFACE.
const Interface = "CGI/1.1"

// Options are a gateway's settings for the request-derived variables.
type Options struct {
	// Software is SERVER_SOFTWARE, "name/version".
	Software string
	// PassAuth passes the Authorization header as HTTP_AUTHORIZATION
	// (Apache's CGIPassAuth, mod_wsgi's WSGIPassAuthorization).
	PassAuth bool
}

// RequestVars calls set once for each meta-variable derived from r:
//
//	GATEWAY_INTERFACE  CGI/1.1
//	SERVER_SOFTWARE    opts.Software
//	SERVER_PROTOCOL    r.Proto
//	REQUEST_METHOD     r.Method
//	REQUEST_URI        see RequestURI
//	QUERY_STRING       the raw query; always set, maybe empty
//	REQUEST_SCHEME     "http" or "https"
//	HTTPS              "on", only over TLS
//	SERVER_NAME        see ServerNamePort; never empty
//	SERVER_PORT        see ServerNamePort; never empty
//	SERVER_ADDR        the local address, when known
//	REMOTE_ADDR        the client's address; always set
//	REMOTE_PORT        the client's port, when known
//	REMOTE_USER        the user a stage authenticated (WithUser), if any
//	AUTH_TYPE          how it did ("Basic"), with REMOTE_USER when known
//	CONTENT_TYPE       the Content-Type header, when not empty
//	HTTP_HOST          r.Host, when not empty
//	HTTP_*             one per header that HeaderVar passes, in no
//	                   particular order; several values are joined with
//	                   ", " (Cookie: "; ")
//
// Values are the request's bytes, unchecked: a gateway whose
// representation cannot hold some byte (NUL, say) must check. Names are
// unique unless r.Header holds keys that differ only in case, which
// requests from net/http's server never do.
//
// RequestVars allocates no map and, for a request whose headers are
// common ones with single values, little beyond the local address's
// strings.
func RequestVars(r *http.Request, opts Options, set func(name, value string)) {
	set("GATEWAY_INTERFACE", Interface)
	set("SERVER_SOFTWARE", opts.Software)
	set("SERVER_PROTOCOL", r.Proto)
	set("REQUEST_METHOD", r.Method)
	set("REQUEST_URI", RequestURI(r))
	set("QUERY_STRING", r.URL.RawQuery)
	if r.TLS != nil {
		set("REQUEST_SCHEME", "https")
		set("HTTPS", "on")
	} else {
		set("REQUEST_SCHEME", "http")
	}

	name, port, addr := ServerNamePort(r)
	set("SERVER_NAME", name)
	set("SERVER_PORT", port)
	if addr != "" {
		set("SERVER_ADDR", addr)
	}
	ra, rp := RemoteAddrPort(r)
	set("REMOTE_ADDR", ra)
	if rp != "" {
		set("REMOTE_PORT", rp)
	}
	if user, authType := User(r); user != "" {
		set("REMOTE_USER", user)
		if authType != "" {
			set("AUTH_TYPE", authType)
		}
	}

	if ct := r.Header.Get("Content-Type"); ct != "" {
		set("CONTENT_TYPE", ct)
	}
	if r.Host != "" {
		set("HTTP_HOST", r.Host)
	}
	for k, vv := range r.Header {
		if len(vv) == 0 {
			continue
		}
		name, ok := HeaderVar(k, opts.PassAuth)
		if !ok {
			continue
		}
		v := vv[0]
		if len(vv) > 1 {
			sep := ", "
			if name == "HTTP_COOKIE" {
				sep = "; "
			}
			v = strings.Join(vv, sep)
		}
		set(name, v)
	}
}

// RequestURI is REQUEST_URI: the request target as the client sent it,
// or, for a request built by the server itself (r.RequestURI empty),
// r.URL's path and query.
func RequestURI(r *http.Request) string {
	if r.RequestURI != "" {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// ServerNamePort returns SERVER_NAME, SERVER_PORT and SERVER_ADDR.
//
// The name is the host of r.Host without its port (an IPv6 literal keeps
// its brackets, so that name and port always make an authority); without
// a Host (HTTP/1.0), the local address (bracketed if IPv6); without that,
// "localhost". The port is the local port the request came in on (RFC
// 3875 §4.1.15); when that is unknown, r.Host's port; else 443 over TLS
// and 80 otherwise. addr is the local IP address, or "" when r's context
// has no http.LocalAddrContextKey.
func ServerNamePort(r *http.Request) (name, port, addr string) {
	name, hostPort := splitHost(r.Host)
	addr, port = localAddr(r)
	if name == "" {
		switch {
		case strings.IndexByte(addr, ':') >= 0:
			name = "[" + addr + "]"
		case addr != "":
			name = addr
		default:
			name = "localhost"
		}
	}
	if port == "" {
		port = hostPort
	}
	if port == "" {
		port = "80"
		if r.TLS != nil {
			port = "443"
		}
	}
	return name, port, addr
}

// RemoteAddrPort returns REMOTE_ADDR and REMOTE_PORT from r.RemoteAddr:
// the IP (IPv6 without brackets) and port, or, when r.RemoteAddr is not
// host:port, all of it and "".
func RemoteAddrPort(r *http.Request) (addr, port string) {
	if ip, p, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return ip, p
	}
	return r.RemoteAddr, ""
}

// localAddr returns the IP and port of the address the request came in
// on, or "" for what is unknown.
func localAddr(r *http.Request) (ip, port string) {
	switch la := r.Context().Value(http.LocalAddrContextKey).(type) {
	case *net.TCPAddr:
		if la == nil || len(la.IP) == 0 {
			return "", ""
		}
		ip = la.IP.String()
		if la.Zone != "" {
			ip += "%" + la.Zone
		}
		return ip, strconv.Itoa(la.Port)
	case net.Addr:
		if h, p, err := net.SplitHostPort(la.String()); err == nil {
			return h, p
		}
	}
	return "", ""
}

// splitHost splits a Host header into the name (an IPv6 literal keeps
// its brackets) and the port; a port that is not all digits is dropped.
// It does not allocate.
func splitHost(h string) (name, port string) {
	if strings.HasPrefix(h, "[") {
		i := strings.IndexByte(h, ']')
		if i < 0 {
			return h, ""
		}
		name, rest := h[:i+1], h[i+1:]
		if len(rest) > 1 && rest[0] == ':' && digits(rest[1:]) {
			port = rest[1:]
		}
		return name, port
	}
	i := strings.LastIndexByte(h, ':')
	if i < 0 || strings.IndexByte(h[:i], ':') >= 0 {
		return h, "" // no port, or an unbracketed IPv6 address
	}
	if digits(h[i+1:]) {
		port = h[i+1:]
	}
	return h[:i], port
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// HeaderVar returns the name of the HTTP_* variable that carries the
// request header key: "HTTP_" and key in upper case with '-' as '_'. It
// reports false for a header that is not passed:
//
//   - Content-Type and Content-Length, which have variables of their own;
//   - Host, which RequestVars takes from r.Host;
//   - Proxy (httpoxy) and Proxy-Authorization, never;
//   - Authorization, unless passAuth;
//   - a key that is empty or holds anything but ASCII letters, digits and
//     '-', so that "X_Forwarded_For" cannot pose as "X-Forwarded-For".
//
// key need not be canonical: the rules hold whatever its case. A name
// that is returned always matches ^HTTP_[A-Z0-9_]+$. For common headers
// in canonical form HeaderVar does not allocate.
func HeaderVar(key string, passAuth bool) (name string, ok bool) {
	if name, ok := common[key]; ok {
		return name, true
	}
	return headerVar(key, passAuth)
}

func headerVar(key string, passAuth bool) (string, bool) {
	if key == "" {
		return "", false
	}
	var buf [64]byte
	b := append(buf[:0], "HTTP_"...)
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-':
			c = '_'
		default:
			return "", false
		}
		b = append(b, c)
	}
	switch string(b) {
	case "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_HOST", "HTTP_PROXY", "HTTP_PROXY_AUTHORIZATION":
		return "", false
	case "HTTP_AUTHORIZATION":
		if !passAuth {
			return "", false
		}
		return "HTTP_AUTHORIZATION", true
	}
	return string(b), true
}

// common maps the canonical keys of frequent request headers to their
// variables, so that HeaderVar need not build those names. It holds only
// headers that are passed whatever the options (built through headerVar
// with passAuth false), and is read-only after init.
var common = func() map[string]string {
	keys := []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language",
		"Cache-Control", "Connection", "Cookie", "Dnt", "Expect", "Forwarded",
		"If-Match", "If-Modified-Since", "If-None-Match", "If-Range",
		"If-Unmodified-Since", "Keep-Alive", "Origin", "Pragma", "Priority",
		"Range", "Referer", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile",
		"Sec-Ch-Ua-Platform", "Sec-Fetch-Dest", "Sec-Fetch-Mode",
		"Sec-Fetch-Site", "Sec-Fetch-User", "Te", "Upgrade",
		"Upgrade-Insecure-Requests", "User-Agent", "Via", "X-Forwarded-For",
		"X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip",
		"X-Request-Id", "X-Requested-With",
	}
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		if name, ok := headerVar(k, false); ok {
			m[http.CanonicalHeaderKey(k)] = name
		}
	}
	return m
}()
