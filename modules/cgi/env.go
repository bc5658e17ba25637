package cgi

import (
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// perRequestVars are the variables the server sets for every request; the
// env attribute cannot set them.
var perRequestVars = map[string]bool{
	"GATEWAY_INTERFACE": true, "SERVER_SOFTWARE": true, "SERVER_NAME": true,
	"SERVER_ADDR": true, "SERVER_PORT": true, "SERVER_PROTOCOL": true,
	"REQUEST_METHOD": true, "REQUEST_URI": true, "REQUEST_SCHEME": true,
	"SCRIPT_NAME": true, "SCRIPT_FILENAME": true, "PATH_INFO": true,
	"PATH_TRANSLATED": true, "QUERY_STRING": true, "REMOTE_ADDR": true,
	"REMOTE_PORT": true, "CONTENT_TYPE": true, "CONTENT_LENGTH": true,
	"DOCUMENT_ROOT": true, "HTTPS": true,
}

// script is a request's script after the URL has been mapped and checked.
type script struct {
	Name     string // file name, the first segment after the prefix
	URLName  string // SCRIPT_NAME: prefix and name
	PathInfo string // PATH_INFO: the rest of the URL path, decoded; may be ""
	Filename string // SCRIPT_FILENAME: Path joined with Name
	Exe      string // the file to execute: Filename with symlinks resolved
}

// redirectState travels in the context of an internally redirected
// request.
type redirectState struct {
	depth    int
	url      string // the path of the request that redirected
	query    string
	hadQuery bool
}

type redirectKey struct{}

// environ builds the script's environment: PATH and the env attribute,
// then the RFC 3875 meta-variables, then HTTP_* for the request's headers.
// contentLength is the body's length, or -1 when no CONTENT_LENGTH is
// to be set.
func (m *Module) environ(r *http.Request, s *script, contentLength int64) []string {
	env := make([]string, 0, len(m.baseEnv)+24+len(r.Header))
	env = append(env, m.baseEnv...)
	set := func(k, v string) { env = append(env, k+"="+v) }

	set("GATEWAY_INTERFACE", "CGI/1.1")
	set("SERVER_SOFTWARE", ServerSoftware)
	set("SERVER_PROTOCOL", r.Proto)
	set("REQUEST_METHOD", r.Method)
	set("REQUEST_URI", requestURI(r))
	set("SCRIPT_NAME", s.URLName)
	set("SCRIPT_FILENAME", s.Filename)
	if s.PathInfo != "" {
		set("PATH_INFO", s.PathInfo)
		if m.docRoot != "" {
			set("PATH_TRANSLATED", m.docRoot+s.PathInfo)
		}
	}
	set("QUERY_STRING", r.URL.RawQuery)
	if m.docRoot != "" {
		set("DOCUMENT_ROOT", m.docRoot)
	}

	scheme, defPort := "http", "80"
	if r.TLS != nil {
		scheme, defPort = "https", "443"
		set("HTTPS", "on")
	}
	set("REQUEST_SCHEME", scheme)

	host, hostPort := splitHost(r.Host)
	var localIP, localPort string
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		localIP, localPort, _ = net.SplitHostPort(la.String())
	}
	if host == "" {
		host = localIP
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	set("SERVER_NAME", host)
	switch {
	case localPort != "":
		set("SERVER_PORT", localPort)
	case hostPort != "":
		set("SERVER_PORT", hostPort)
	default:
		set("SERVER_PORT", defPort)
	}
	if localIP != "" {
		set("SERVER_ADDR", localIP)
	}
	if ip, port, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		set("REMOTE_ADDR", ip)
		set("REMOTE_PORT", port)
	} else if r.RemoteAddr != "" {
		set("REMOTE_ADDR", r.RemoteAddr)
	}

	if ct := r.Header.Get("Content-Type"); ct != "" {
		set("CONTENT_TYPE", ct)
	}
	if contentLength >= 0 {
		set("CONTENT_LENGTH", strconv.FormatInt(contentLength, 10))
	}
	if rs, ok := r.Context().Value(redirectKey{}).(*redirectState); ok {
		set("REDIRECT_STATUS", "200")
		set("REDIRECT_URL", rs.url)
		if rs.hadQuery {
			set("REDIRECT_QUERY_STRING", rs.query)
		}
	}

	if r.Host != "" {
		set("HTTP_HOST", r.Host)
	}
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name, ok := headerVar(k, m.PassAuth)
		if !ok {
			continue
		}
		sep := ", "
		if name == "HTTP_COOKIE" {
			sep = "; "
		}
		set(name, strings.Join(r.Header[k], sep))
	}
	return env
}

// headerVar maps a request header to its HTTP_* variable. Content-Type
// and Content-Length have variables of their own; Host is taken from the
// request line; Proxy is never passed (httpoxy), nor Proxy-Authorization,
// nor Authorization unless passAuth. Headers whose names hold anything
// but letters, digits and '-' are dropped, so that "X_Forwarded_For"
// cannot pose as "X-Forwarded-For".
func headerVar(k string, passAuth bool) (string, bool) {
	switch http.CanonicalHeaderKey(k) {
	case "Content-Type", "Content-Length", "Host", "Proxy", "Proxy-Authorization":
		return "", false
	case "Authorization":
		if !passAuth {
			return "", false
		}
	}
	b := make([]byte, 0, 5+len(k))
	b = append(b, "HTTP_"...)
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'a' && c <= 'z':
			b = append(b, c-'a'+'A')
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b = append(b, c)
		case c == '-':
			b = append(b, '_')
		default:
			return "", false
		}
	}
	return string(b), len(k) > 0
}

// splitHost splits a Host header into the name (IPv6 literals keep their
// brackets) and the port, if any.
func splitHost(h string) (host, port string) {
	if h == "" {
		return "", ""
	}
	if hh, p, err := net.SplitHostPort(h); err == nil {
		if strings.Contains(hh, ":") {
			hh = "[" + hh + "]"
		}
		return hh, p
	}
	return h, ""
}

// requestURI is the request target as the client sent it.
func requestURI(r *http.Request) string {
	if r.RequestURI != "" {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
