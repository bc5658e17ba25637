package fastcgi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"syscall"

	"httpd/internal/gateway"
	"httpd/modules/fastcgi/fcgi"
	"httpd/registry"
)

// StatusClientClosed is the status of errors for requests whose client
// went away (nginx's 499): nobody sees it, and it keeps such requests out
// of the 5xx logs.
const StatusClientClosed = 499

// reqID is the request id of every request: a connection carries one
// request at a time.
const reqID = 1

// script is the script a request runs.
type script struct {
	name     string // SCRIPT_NAME: its URL path
	info     string // PATH_INFO; may be ""
	filename string // SCRIPT_FILENAME: its file under document_root
}

// serveMount serves a request under the mount's prefix: a file, a
// script, or the front controller (see route).
func (m *Module) serveMount(w http.ResponseWriter, r *http.Request, _ registry.Mount) error {
	rt, err := m.route(r.URL.Path, r.URL.EscapedPath())
	if err != nil {
		return err
	}
	if rt.kind == routeFile {
		return m.files.Serve(w, r, rt.file)
	}
	s := &script{name: rt.scriptName, info: rt.pathInfo, filename: m.filename(rt.scriptName)}
	return m.run(w, r, s)
}

// run sends the request to the responder and streams its answer back.
func (m *Module) run(w http.ResponseWriter, r *http.Request, s *script) error {
	body, length, done, err := requestBody(r)
	if err != nil {
		return bodyError(s, err)
	}
	defer done()
	if body == r.Body {
		_ = http.NewResponseController(w).EnableFullDuplex()
	}
	head := m.head(r, s, length, body == nil)
	for attempt := 0; ; attempt++ {
		c, err := m.pool.get(r.Context(), body != nil)
		if err != nil {
			switch {
			case r.Context().Err() != nil:
				return registry.Error(StatusClientClosed, fmt.Errorf("fastcgi %s: client went away while connecting to %s", s.filename, m.To))
			case errors.Is(err, errPoolClosed):
				return registry.Error(http.StatusServiceUnavailable, fmt.Errorf("fastcgi %s: %w", s.filename, err))
			}
			return registry.Error(http.StatusBadGateway, fmt.Errorf("fastcgi %s: cannot reach the responder at %s: %w", s.filename, m.To, err))
		}
		ex := &exchange{m: m, c: c, w: w, r: r, s: s, body: body}
		err, retry := ex.run(head)
		if retry && attempt == 0 {
			m.log.Debug("fastcgi: kept connection was closed by the responder; retrying on a new one", "to", m.To, "err", err)
			continue
		}
		return err
	}
}

// head is the start of a request: BEGIN_REQUEST asking to keep the
// connection, the PARAMS stream, and, for a request without a body, the
// empty STDIN record; one write sends it.
func (m *Module) head(r *http.Request, s *script, length int64, noBody bool) []byte {
	pairs := m.params(r, s, length)
	b := make([]byte, 0, len(pairs)+64)
	b = fcgi.AppendBeginRequest(b, reqID, fcgi.RoleResponder, fcgi.FlagKeepConn)
	b = fcgi.AppendStream(b, fcgi.TypeParams, reqID, pairs)
	if noBody {
		b = fcgi.AppendRecord(b, fcgi.TypeStdin, reqID, nil)
	}
	return b
}

// params are the request's parameters as name-value pairs: the env
// attribute, the variables particular to this gateway, then the request's
// meta-variables and HTTP_* headers from package gateway. A value holding
// NUL is left out: responders such as PHP read values as C strings.
func (m *Module) params(r *http.Request, s *script, length int64) []byte {
	b := make([]byte, 0, 1024+len(m.envPairs))
	b = append(b, m.envPairs...)
	set := func(k, v string) {
		if strings.IndexByte(v, 0) < 0 {
			b = fcgi.AppendPair(b, k, v)
		}
	}
	set("SCRIPT_FILENAME", s.filename)
	set("SCRIPT_NAME", s.name)
	if s.info != "" {
		set("PATH_INFO", s.info)
		set("PATH_TRANSLATED", m.filename(s.info))
	}
	set("DOCUMENT_ROOT", m.docRoot)
	set("REDIRECT_STATUS", "200")
	if length >= 0 {
		set("CONTENT_LENGTH", strconv.FormatInt(length, 10))
	}
	gateway.RequestVars(r, gateway.Options{Software: m.software, PassAuth: m.PassAuth}, set)
	return b
}

// bodyError maps a failure to read the request body: 413 over the size
// limit (by its *http.MaxBytesError), a StatusError as it is, else 400.
func bodyError(s *script, err error) error {
	var mbe *http.MaxBytesError
	var se *registry.StatusError
	if errors.As(err, &mbe) || errors.As(err, &se) {
		return fmt.Errorf("fastcgi %s: request body: %w", s.filename, err)
	}
	return registry.Error(http.StatusBadRequest, fmt.Errorf("fastcgi %s: request body: %w", s.filename, err))
}

// retryable reports whether err is what a kept connection that the
// responder closed while idle gives on first use.
func retryable(err error) bool {
	return errors.Is(err, errClosedEarly) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// redirect re-enters the vhost with a GET for loc (see
// gateway.InternalRedirect).
func (m *Module) redirect(w http.ResponseWriter, r *http.Request, s *script, loc string) error {
	if err := gateway.InternalRedirect(w, r, loc, MaxRedirects, m.dispatch); err != nil {
		return fmt.Errorf("fastcgi %s: %w", s.filename, err)
	}
	return nil
}

// scriptLog is the logger for what a script writes to STDERR.
func (m *Module) scriptLog(r *http.Request, s *script) *slog.Logger {
	return m.log.With("script", s.filename, "request", r.Method+" "+gateway.RequestURI(r), "remote", r.RemoteAddr)
}
