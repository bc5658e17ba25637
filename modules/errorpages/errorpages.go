package errorpages

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"httpd/registry"
)

// Name is the vhost attribute the module owns.
const Name = "error_pages"

func init() {
	registry.Register(registry.Info{
		Name:  Name,
		Phase: registry.PhaseErrors,
		Doc:   `pages of the vhost for error statuses, by status or class ("404", "5xx"), like Apache's ErrorDocument`,
		New:   func() registry.Module { return new(Module) },
	})
}

var schema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: Name, Required: true}}}

// page is one entry of the map.
type page struct {
	key   string // as configured, normalised: "404" or "5xx"
	path  string // the URL path the page is served from
	query string // raw query after "?", if any
	raw   string // the value as configured
}

// Module is a vhost's error_pages attribute.
type Module struct {
	pages []*page // in the order of the file
	// byStatus maps status-400 to its page: the exact status if one is
	// configured, else its class; nil for none.
	byStatus [200]*page
	log      *slog.Logger
	pipeline registry.Handler
}

// ParseKey reads a key of the map: a status from 400 to 599 ("404"), or
// a class ("4xx" or "5xx", any case). For a status it returns it and
// class 0; for a class it returns status 0 and the class's hundreds (4
// or 5). The error says what is wrong, for a diagnostic.
func ParseKey(s string) (status, class int, err error) {
	if len(s) == 3 && (s[1] == 'x' || s[1] == 'X') && (s[2] == 'x' || s[2] == 'X') {
		switch s[0] {
		case '4', '5':
			return 0, int(s[0] - '0'), nil
		}
		return 0, 0, fmt.Errorf("%q is not an error class: error_pages takes \"4xx\" and \"5xx\"", s)
	}
	if len(s) != 3 || strings.Trim(s, "0123456789") != "" {
		return 0, 0, fmt.Errorf("%q is not a status: write a status from 400 to 599 such as \"404\", or a class, \"4xx\" or \"5xx\"", s)
	}
	n, _ := strconv.Atoi(s)
	if n < 400 || n > 599 {
		return 0, 0, fmt.Errorf("%d is not an error status: error_pages takes statuses from 400 to 599", n)
	}
	return n, 0, nil
}

// CheckPath says why s cannot be the path of an error page, or "".
func CheckPath(s string) string {
	p, _, _ := strings.Cut(s, "?")
	switch {
	case strings.Contains(s, "://"):
		return "is a URL: an error page is a path of this vhost, such as \"/errors/404.html\" (a redirect elsewhere would lose the status)"
	case !strings.HasPrefix(s, "/"):
		return "does not start with \"/\": write a path of this vhost, such as \"/errors/404.html\""
	case strings.HasPrefix(s, "//"):
		return "starts with \"//\": write a path of this vhost, such as \"/errors/404.html\""
	case strings.ContainsAny(s, "# \t\r\n\x00\\"):
		return "holds a fragment, a backslash, spaces or control characters"
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return "holds \".\" or \"..\" segments: write the page's clean path"
		}
	}
	return ""
}

// Decode reads the attribute, which the core hands over as a block whose
// body holds it: a map of keys (see ParseKey) to paths of the vhost.
// Each bad key or value is reported where it is written.
func (m *Module) Decode(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	content, diags := b.Body.Content(schema)
	attr, ok := content.Attributes[Name]
	if !ok {
		return diags
	}
	pairs, ds := hcl.ExprMap(attr.Expr)
	if ds.HasErrors() {
		return append(diags, registry.AttrError(attr, "Invalid value for error_pages",
			`error_pages must be a map written out, such as { "404" = "/errors/404.html", "5xx" = "/errors/5xx.html" }.`))
	}
	seen := map[string]hcl.Range{}
	for _, kv := range pairs {
		key, d := stringOf(kv.Key, dc.Eval, "key")
		if d != nil {
			diags = append(diags, d)
			continue
		}
		status, class, err := ParseKey(key)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid error_pages key",
				Detail:   err.Error() + ".",
				Subject:  kv.Key.Range().Ptr(),
				Context:  attr.Range.Ptr(),
			})
			continue
		}
		norm := strings.ToLower(key)
		if prev, dup := seen[norm]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate error_pages key",
				Detail:   fmt.Sprintf("%q already has a page at %s:%d:%d; keep one.", key, prev.Filename, prev.Start.Line, prev.Start.Column),
				Subject:  kv.Key.Range().Ptr(),
				Context:  attr.Range.Ptr(),
			})
			continue
		}
		seen[norm] = kv.Key.Range()
		value, d := stringOf(kv.Value, dc.Eval, "value")
		if d != nil {
			diags = append(diags, d)
			continue
		}
		if why := CheckPath(value); why != "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid error page",
				Detail:   fmt.Sprintf("%q %s.", value, why),
				Subject:  kv.Value.Range().Ptr(),
				Context:  attr.Range.Ptr(),
			})
			continue
		}
		p := &page{key: norm, raw: value}
		p.path, p.query, _ = strings.Cut(value, "?")
		m.pages = append(m.pages, p)
		if status != 0 {
			m.byStatus[status-400] = p
			continue
		}
		for s := class * 100; s < class*100+100; s++ {
			if q := m.byStatus[s-400]; q == nil || q.key[1] == 'x' {
				m.byStatus[s-400] = p
			}
		}
	}
	return diags
}

// stringOf evaluates a key or value of the map as a string.
func stringOf(e hcl.Expression, ectx *hcl.EvalContext, what string) (string, *hcl.Diagnostic) {
	v, diags := e.Value(ectx)
	if diags.HasErrors() {
		return "", diags[0]
	}
	if !v.IsNull() && v.IsWhollyKnown() {
		if s, err := convert.Convert(v, cty.String); err == nil {
			return s.AsString(), nil
		}
	}
	return "", &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid error_pages " + what,
		Detail:   `Each entry maps a status or class to a path, as strings: "404" = "/errors/404.html".`,
		Subject:  e.Range().Ptr(),
	}
}

// Provision keeps the logger and the pipeline the pages are served
// through.
func (m *Module) Provision(ctx context.Context, env *registry.Env) error {
	m.log = env.Logger
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.pipeline = env.Pipeline
	return nil
}

// pageKey marks the context of a request for an error page: the stage
// leaves its errors alone, so that a page that fails cannot loop.
type pageKey struct{}

// Wrap returns the stage: it passes the request on and, when an error
// with a configured status comes back before anything was written,
// serves the page instead (see the package doc).
func (m *Module) Wrap(next registry.Handler) registry.Handler {
	return registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if r.Context().Value(pageKey{}) != nil {
			return next.ServeHTTP(w, r)
		}
		tw := &tracker{ResponseWriter: w}
		err := next.ServeHTTP(tw, r)
		if err == nil || tw.began {
			return err
		}
		status := registry.StatusOf(err)
		if status < 400 || status > 599 || status == registry.StatusClientClosed {
			return err
		}
		p := m.byStatus[status-400]
		if p == nil {
			return err
		}
		return m.serve(w, r, p, status, err)
	})
}

// keptHeaders are the fields a failed stage's header keeps under an
// error page, as under the built-in one.
var keptHeaders = map[string]bool{
	"Allow": true, "Retry-After": true, "Location": true, "Server": true, "Www-Authenticate": true, "Vary": true,
}

// dropRequest are the request fields an error page's request goes
// without: it is a plain GET of the whole page.
var dropRequest = []string{
	"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range", "Range",
	"Content-Length", "Content-Type", "Transfer-Encoding", "Expect",
}

// serve answers r, whose stage failed with err (of status), with page
// p: nil when the page went out, else the error to answer (err, for
// the built-in page).
func (m *Module) serve(w http.ResponseWriter, r *http.Request, p *page, status int, err error) error {
	h := w.Header()
	kept := make(http.Header, 2)
	for k, v := range h {
		if keptHeaders[k] {
			kept[k] = v
		} else {
			delete(h, k)
		}
	}
	fallback := func(why string, args ...any) error {
		for k := range h {
			delete(h, k)
		}
		for k, v := range kept {
			h[k] = v
		}
		m.log.Warn("error page failed, sent the built-in page",
			append([]any{"page", p.raw, "status", status, "uri", r.RequestURI, "why", why}, args...)...)
		return err
	}

	r2, n := registry.Reentered(r.WithContext(context.WithValue(r.Context(), pageKey{}, p)))
	if n > registry.MaxReentries {
		return fallback("loop: the request ran the pipeline " + strconv.Itoa(n-1) + " times")
	}
	u := *r.URL
	u.Path, u.RawPath, u.RawQuery = p.path, "", p.query
	r2.URL = &u
	r2.Method = http.MethodGet
	if r.Method == http.MethodHead {
		r2.Method = http.MethodHead
	}
	r2.Header = r.Header.Clone()
	for _, k := range dropRequest {
		delete(r2.Header, k)
	}
	r2.Body, r2.ContentLength, r2.TransferEncoding = http.NoBody, 0, nil

	pw := &pageWriter{ResponseWriter: w, status: status, head: r.Method == http.MethodHead,
		closing: status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge || status >= 500}
	perr := m.pipeline.ServeHTTP(pw, r2)
	switch {
	case pw.began && perr != nil:
		return fmt.Errorf("error page %s (for %d: %v) failed after it began: %w", p.raw, status, err, perr)
	case perr != nil:
		return fallback("the page answered "+strconv.Itoa(registry.StatusOf(perr)), "err", perr)
	case pw.failed != 0:
		return fallback("the page answered " + strconv.Itoa(pw.failed) + " " + http.StatusText(pw.failed))
	case !pw.began:
		return fallback("the page sent nothing")
	}
	m.logFailure(r, status, err, p)
	return nil
}

// logFailure logs the error the page stands for, as the vhost would
// have: 5xx at error level, a 404 at debug unless marked a notice, the
// rest at info.
func (m *Module) logFailure(r *http.Request, status int, err error, p *page) {
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case status == http.StatusNotFound && !registry.IsNotice(err):
		level = slog.LevelDebug
	}
	if m.log.Enabled(r.Context(), level) {
		m.log.Log(r.Context(), level, "request failed",
			"method", r.Method, "uri", r.RequestURI, "remote", r.RemoteAddr, "status", status, "err", err, "error_page", p.raw)
	}
}

// tracker notes whether a stage began the response.
type tracker struct {
	http.ResponseWriter
	began bool
}

func (t *tracker) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		t.began = true
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *tracker) Write(p []byte) (int, error) {
	t.began = true
	return t.ResponseWriter.Write(p)
}

// ReadFrom keeps sendfile working beneath the tracker.
func (t *tracker) ReadFrom(src io.Reader) (int64, error) {
	t.began = true
	if rf, ok := t.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{t.ResponseWriter}, src)
}

func (t *tracker) Flush() {
	t.began = true
	_ = http.NewResponseController(t.ResponseWriter).Flush()
}

// Hijack hands the connection over (a proxied WebSocket): the response
// has begun.
func (t *tracker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	t.began = true
	return http.NewResponseController(t.ResponseWriter).Hijack()
}

// Unwrap gives http.ResponseController (and the vhost) the writer
// beneath.
func (t *tracker) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// writerOnly hides a writer's ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

// pageWriter sends an error page's response with the original status.
// A page that answers with anything but a 2xx status has failed: what it
// writes is dropped, and failed holds its status.
type pageWriter struct {
	http.ResponseWriter
	status  int
	head    bool // a HEAD request: no body goes out
	closing bool // the connection closes after the page, as after the built-in one
	began   bool
	failed  int
}

func (pw *pageWriter) start() {
	pw.began = true
	h := pw.ResponseWriter.Header()
	// Validators and ranges of the page's file say nothing about this
	// response.
	delete(h, "Etag")
	delete(h, "Last-Modified")
	delete(h, "Accept-Ranges")
	if pw.closing {
		h.Set("Connection", "close")
	}
	pw.ResponseWriter.WriteHeader(pw.status)
}

func (pw *pageWriter) WriteHeader(code int) {
	switch {
	case pw.began || pw.failed != 0:
	case code >= 200 && code < 300:
		pw.start()
	case code >= 300:
		pw.failed = code
	}
	// Informational statuses of a page are not passed on.
}

func (pw *pageWriter) Write(p []byte) (int, error) {
	if pw.failed != 0 {
		return len(p), nil
	}
	if !pw.began {
		pw.start()
	}
	if pw.head {
		return len(p), nil
	}
	return pw.ResponseWriter.Write(p)
}

func (pw *pageWriter) ReadFrom(src io.Reader) (int64, error) {
	if pw.failed == 0 && !pw.began {
		pw.start()
	}
	if pw.failed != 0 || pw.head {
		return io.Copy(io.Discard, src)
	}
	if rf, ok := pw.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{pw.ResponseWriter}, src)
}

func (pw *pageWriter) Flush() {
	if pw.failed != 0 {
		return
	}
	if !pw.began {
		pw.start()
	}
	_ = http.NewResponseController(pw.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the writer beneath.
func (pw *pageWriter) Unwrap() http.ResponseWriter { return pw.ResponseWriter }

// Explain says which page an error of a later stage would get.
func (m *Module) Explain(r *http.Request, _ registry.Mount) registry.Explanation {
	return registry.Explanation{Says: "on an error from a later stage, serves " + m.Describe() + " with the error's status"}
}

// Describe lists the pages, in the order of the file.
func (m *Module) Describe() string {
	parts := make([]string, len(m.pages))
	for i, p := range m.pages {
		parts[i] = p.key + " -> " + p.raw
	}
	return strings.Join(parts, ", ")
}

// PageFor returns the path (and query) of the page for status, or "".
func (m *Module) PageFor(status int) string {
	if status < 400 || status > 599 || m.byStatus[status-400] == nil {
		return ""
	}
	return m.byStatus[status-400].raw
}

var (
	_ registry.Module    = (*Module)(nil)
	_ registry.Describer = (*Module)(nil)
	_ registry.Explainer = (*Module)(nil)
)
