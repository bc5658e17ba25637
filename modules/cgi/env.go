package cgi

import (
	"net/http"
	"strconv"

	"httpd/internal/gateway"
)

// script is a request's script after the URL has been mapped and checked.
type script struct {
	Name     string // file name, the first segment after the prefix
	URLName  string // SCRIPT_NAME: prefix and name
	PathInfo string // PATH_INFO: the rest of the URL path, decoded; may be ""
	Filename string // SCRIPT_FILENAME: Path joined with Name
	Exe      string // the file to execute: Filename with symlinks resolved
}

// environ builds the script's environment: PATH and the env attribute,
// the variables particular to CGI, then the request's meta-variables and
// HTTP_* headers from package gateway. contentLength is the body's
// length, or -1 when no CONTENT_LENGTH is to be set.
func (m *Module) environ(r *http.Request, s *script, contentLength int64) []string {
	env := make([]string, 0, len(m.baseEnv)+24+len(r.Header))
	env = append(env, m.baseEnv...)
	set := func(k, v string) { env = append(env, k+"="+v) }

	set("SCRIPT_NAME", s.URLName)
	set("SCRIPT_FILENAME", s.Filename)
	if s.PathInfo != "" {
		set("PATH_INFO", s.PathInfo)
		if m.docRoot != "" {
			set("PATH_TRANSLATED", m.docRoot+s.PathInfo)
		}
	}
	if m.docRoot != "" {
		set("DOCUMENT_ROOT", m.docRoot)
	}
	if contentLength >= 0 {
		set("CONTENT_LENGTH", strconv.FormatInt(contentLength, 10))
	}
	if rd := gateway.RedirectOf(r); rd != nil {
		set("REDIRECT_STATUS", "200")
		set("REDIRECT_URL", rd.URL)
		if rd.HadQuery {
			set("REDIRECT_QUERY_STRING", rd.Query)
		}
	}
	gateway.RequestVars(r, gateway.Options{Software: m.software, PassAuth: m.PassAuth}, set)
	return env
}
