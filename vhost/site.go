package vhost

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"time"

	"httpd/conf"
	"httpd/internal/stats"
	"httpd/registry"
)

// site is one vhost of a generation: its provisioned modules and the
// handler they form.
type site struct {
	v   *conf.VHost
	log *slog.Logger
	// handler is the whole pipeline: the outbound stages (header,
	// compress) around the error boundary around inner.
	handler registry.Handler
	// inner is the pipeline from PhaseErrors on; Env.Pipeline.
	inner registry.Handler
	// provisioned lists the modules whose Provision was called, in order,
	// so cleanup reaches each of them once.
	provisioned []*conf.ModuleBlock
	cert        func(*tls.ClientHelloInfo) (*tls.Certificate, error) // nil without TLS
	maxBody     int64
	access      *accessLog
	// mounts are the counters of each mount prefix, longest first; rest
	// counts what no mount serves.
	mounts []mountCounters
	rest   *stats.Counters
}

// mount is a PhaseMount stage and its prefix.
type mount struct {
	prefix  string
	handler registry.MountHandler
}

// router sends a request to the mount with the longest matching prefix,
// else to the content stage.
type router struct {
	mounts  []mount // longest prefix first
	content registry.Handler
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	p := r.URL.Path
	for i := range rt.mounts {
		if m, ok := registry.MatchMount(rt.mounts[i].prefix, p); ok {
			return rt.mounts[i].handler.ServeMount(w, r, m)
		}
	}
	return rt.content.ServeHTTP(w, r)
}

var notFound = registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	return errNotFound
})

var errNotFound = registry.Error(http.StatusNotFound, errors.New("no file or mount matches the path"))

// newSite provisions a vhost's modules and builds its pipeline; each
// module's Env is base with the vhost's own fields. On error every module
// provisioned so far has been cleaned up.
func newSite(ctx context.Context, v *conf.VHost, cfg *conf.Config, log *slog.Logger, access *accessLog, base registry.Env) (*site, error) {
	st := &site{v: v, log: log.With("vhost", v.Name), maxBody: cfg.Server.Limits.MaxBodyBytes, access: access}
	var rt router
	rt.content = notFound
	var outer []*conf.ModuleBlock
	for _, mb := range v.Modules {
		env := base
		env.Logger = st.log.With("module", mb.Info.Name)
		env.VHost = v.Name
		env.ServerRoot = cfg.ServerRoot
		env.DocumentRoot = v.DocumentRoot
		env.DataDir = cfg.Server.DataDir
		env.Dispatch = st.dispatch
		env.Pipeline = registry.HandlerFunc(st.pipeline)
		st.provisioned = append(st.provisioned, mb)
		if err := mb.Module.Provision(ctx, &env); err != nil {
			st.cleanup()
			where := mb.Info.Name
			if p := mb.Prefix(); p != "" {
				where += " " + p
			}
			return nil, fmt.Errorf("vhost %s: %s (%s:%d): %w", v.Name, where, mb.DefRange.Filename, mb.DefRange.Start.Line, err)
		}
		switch mb.Info.Phase {
		case registry.PhaseMount:
			mh, ok := mb.Module.Wrap(notFound).(registry.MountHandler)
			if !ok {
				st.cleanup()
				return nil, fmt.Errorf("vhost %s: module %s is a mount but its handler is no registry.MountHandler", v.Name, mb.Info.Name)
			}
			rt.mounts = append(rt.mounts, mount{prefix: mb.Prefix(), handler: mh})
		case registry.PhaseContent:
			rt.content = mb.Module.Wrap(notFound)
		default:
			outer = append(outer, mb)
		}
	}
	sort.SliceStable(rt.mounts, func(i, j int) bool { return len(rt.mounts[i].prefix) > len(rt.mounts[j].prefix) })
	sv := stats.From(base.Shared)
	st.rest = sv.Counters(stats.Key{VHost: v.Name})
	for _, m := range rt.mounts {
		st.mounts = append(st.mounts, mountCounters{prefix: m.prefix, c: sv.Counters(stats.Key{VHost: v.Name, Mount: m.prefix})})
	}
	var h registry.Handler = &rt
	if len(rt.mounts) == 0 {
		h = rt.content
	}
	i := len(outer) - 1
	for ; i >= 0 && !outer[i].Info.Phase.Outbound(); i-- {
		h = outer[i].Module.Wrap(h)
	}
	st.inner = h
	if i < 0 {
		st.handler = h
		return st, nil
	}
	// The outbound stages see every response, error pages included: the
	// boundary answers errors inside them.
	h = registry.HandlerFunc(st.boundary)
	for ; i >= 0; i-- {
		h = outer[i].Module.Wrap(h)
	}
	st.handler = h
	return st, nil
}

// boundary runs the inner pipeline and answers its errors, for the
// outbound stages around it.
func (st *site) boundary(w http.ResponseWriter, r *http.Request) error {
	if err := st.inner.ServeHTTP(w, r); err != nil {
		st.fail(w, r, err)
	}
	return nil
}

// pipeline is Env.Pipeline.
func (st *site) pipeline(w http.ResponseWriter, r *http.Request) error {
	return st.inner.ServeHTTP(w, r)
}

// cleanup releases every provisioned module, last first.
func (st *site) cleanup() {
	for i := len(st.provisioned) - 1; i >= 0; i-- {
		mb := st.provisioned[i]
		if c, ok := mb.Module.(registry.Cleaner); ok {
			if err := c.Cleanup(); err != nil {
				st.log.Error("module cleanup failed", "module", mb.Info.Name, "err", err)
			}
		}
	}
	st.provisioned = nil
}

// dispatch runs the inner pipeline for a request and answers errors.
// Modules reach it through Env.Dispatch for internal redirects; w is the
// writer they were given, which the outbound stages already wrap.
func (st *site) dispatch(w http.ResponseWriter, r *http.Request) {
	if err := st.inner.ServeHTTP(w, r); err != nil {
		st.fail(w, r, err)
	}
}

// serve is the entry for a request routed to this site.
func (st *site) serve(w http.ResponseWriter, r *http.Request) {
	rw := newResponseWriter(w, r)
	defer rw.release()
	rw.start = time.Now()
	method := r.Method
	counters := st.counters(r.URL.Path)
	var body *countingBody
	if r.Body != nil && r.Body != http.NoBody {
		if st.maxBody > 0 && r.ContentLength > st.maxBody {
			st.fail(rw, r, registry.Errorf(http.StatusRequestEntityTooLarge,
				"request body of %d bytes is over server.limits.max_body_bytes (%d)", r.ContentLength, st.maxBody))
			st.access.log(rw, r, st.v.Name)
			counters.Observe(method, rw.status, time.Since(rw.start), 0, rw.bytes)
			return
		}
		if st.maxBody > 0 {
			r.Body = http.MaxBytesReader(rw, r.Body, st.maxBody)
		}
		body = &countingBody{ReadCloser: r.Body}
		r.Body = body
	}
	if err := st.handler.ServeHTTP(rw, r); err != nil {
		st.fail(rw, r, err)
	}
	st.access.log(rw, r, st.v.Name)
	var in int64
	if body != nil {
		in = body.n.Load()
	}
	counters.Observe(method, rw.status, time.Since(rw.start), in, rw.bytes)
	if rw.abort {
		// Cut the connection: the client must not take a partial body
		// for a whole one, and one that went away gets nothing.
		panic(http.ErrAbortHandler)
	}
}

// fail answers a request whose handler returned err: the status page if
// nothing was written yet, and one error-log line. A client that went
// away gets no answer: the access log records 499 and the connection is
// closed.
func (st *site) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := registry.StatusOf(err)
	level := slog.LevelInfo
	switch {
	case status >= 500:
		level = slog.LevelError
	case status == http.StatusNotFound && !registry.IsNotice(err):
		level = slog.LevelDebug
	}
	rw := baseWriter(w)
	if status == registry.StatusClientClosed {
		if rw != nil {
			if !rw.wroteHeader {
				rw.status = registry.StatusClientClosed
			}
			rw.abort = true
		}
		st.log.Log(r.Context(), slog.LevelInfo, "request failed",
			"method", r.Method, "uri", r.RequestURI, "remote", r.RemoteAddr, "status", registry.StatusClientClosed, "err", err)
		return
	}
	if rw != nil && rw.wroteHeader {
		level = slog.LevelError
		if errors.Is(err, context.Canceled) {
			level = slog.LevelInfo
		}
		st.log.Log(r.Context(), level, "request failed after the response began",
			"method", r.Method, "uri", r.RequestURI, "remote", r.RemoteAddr, "status", rw.status, "err", err)
		rw.abort = true
		return
	}
	if st.log.Enabled(r.Context(), level) {
		st.log.Log(r.Context(), level, "request failed",
			"method", r.Method, "uri", r.RequestURI, "remote", r.RemoteAddr, "status", status, "err", err)
	}
	writeError(w, r, status)
}

// writeError sends the fixed status page for status.
func writeError(w http.ResponseWriter, r *http.Request, status int) {
	h := w.Header()
	p := errorPageFor(status)
	closing := status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge || status >= 500 && r.Body != nil
	// When the map holds only the Server field the vhost put there, the
	// whole head is known: the engine can take it ready-made.
	if rw, ok := w.(*responseWriter); ok && onlyServerField(h) &&
		rw.writeHeaderBlock(status, p.head, nil, int64(len(p.body)), closing) {
		if r.Method != http.MethodHead {
			_, _ = w.Write(p.body)
		}
		return
	}
	for k := range h {
		if k != "Allow" && k != "Retry-After" && k != "Location" && k != "Server" && k != "Www-Authenticate" && k != "Vary" {
			delete(h, k)
		}
	}
	h["Content-Type"] = htmlType
	h["Content-Length"] = p.length
	h["X-Content-Type-Options"] = nosniff
	if closing {
		h["Connection"] = connClose
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(p.body)
	}
}

// baseWriter finds the vhost's own writer beneath the wrappers of
// outbound stages, which give it by Unwrap; nil when there is none.
func baseWriter(w http.ResponseWriter) *responseWriter {
	for w != nil {
		if rw, ok := w.(*responseWriter); ok {
			return rw
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
	return nil
}

// onlyServerField reports whether h holds nothing but the Server field
// newResponseWriter puts in every response's map (the same slice, so not
// replaced): then the whole head of an answer can be known in advance.
func onlyServerField(h http.Header) bool {
	v := h["Server"]
	return len(h) == 1 && len(v) == 1 && &v[0] == &serverHeader[0]
}

// errorPage is the fixed answer for one status. Its slices are shared by
// every response: header values have capacity one, so that appending to
// one copies it.
type errorPage struct {
	body   []byte
	length []string
	// head is the header block writeError's map would make, for the
	// engine to take as it is: the fields sorted by name.
	head []byte
}

var (
	htmlType  = []string{"text/html; charset=utf-8"}
	nosniff   = []string{"nosniff"}
	connClose = []string{"close"}
	// errorPages holds the page of every status from 400 to 599, made
	// once, so an error answer allocates nothing of its own.
	errorPages = func() (p [200]*errorPage) {
		for i := range p {
			p[i] = newErrorPage(400 + i)
		}
		return p
	}()
)

func errorPageFor(status int) *errorPage {
	if status >= 400 && status < 600 {
		return errorPages[status-400]
	}
	return newErrorPage(status)
}

func newErrorPage(status int) *errorPage {
	text := http.StatusText(status)
	if text == "" {
		text = "Error"
	}
	body := fmt.Sprintf("<!DOCTYPE html>\n<html><head><title>%d %s</title></head>\n<body><h1>%d %s</h1></body></html>\n", status, text, status, text)
	length := strconv.Itoa(len(body))
	head := "Content-Length: " + length + "\r\n" +
		"Content-Type: " + htmlType[0] + "\r\n" +
		"Server: " + serverHeader[0] + "\r\n" +
		"X-Content-Type-Options: " + nosniff[0] + "\r\n"
	return &errorPage{body: []byte(body), length: []string{length}, head: []byte(head)}
}
