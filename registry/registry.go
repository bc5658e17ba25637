package registry

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
)

// Phase orders the stages of a vhost's pipeline: a request passes the
// stages of lower phases first. This table is the one place the order is
// set.
type Phase int

const (
	// PhaseHeader holds stages that act on every response on its way
	// out, whichever stage produced it, error pages included (header).
	// They wrap the ResponseWriter; they run outside the error boundary,
	// so an error a later stage returns reaches the client through them.
	PhaseHeader Phase = 10
	// PhaseEncode holds stages that transform response bodies on their
	// way out (compress). They sit inside PhaseHeader, so header rules
	// see the final Content-Encoding and Vary.
	PhaseEncode Phase = 20
	// PhaseErrors holds stages that see the errors later stages return,
	// before the vhost turns them into status pages (error_pages). It is
	// the first phase inside the error boundary and the first that
	// Env.Pipeline re-enters.
	PhaseErrors Phase = 50
	// PhaseAccess holds stages that decide whether the client may have
	// the resource at all (access, basic_auth); they may answer 403 or
	// 401.
	PhaseAccess Phase = 100
	// PhaseRewrite holds stages that may change the path, and so re-run
	// the pipeline, or answer with a redirect (rewrite).
	PhaseRewrite Phase = 150
	// PhaseRedirect holds stages that may answer with a redirect before
	// any content is looked up (redirect).
	PhaseRedirect Phase = 200
	// PhaseMount holds stages bound to a URL prefix, the block's first
	// label: of all mounts of a vhost only the one with the longest
	// matching prefix runs (alias, script_alias, wsgi_script_alias).
	PhaseMount Phase = 300
	// PhaseContent holds the fallback that serves document_root when no
	// mount matched (static). A vhost has at most one such stage.
	PhaseContent Phase = 400
)

// Outbound reports whether stages of phase p wrap the response on its
// way out, outside the error boundary: Env.Pipeline does not pass them
// again, so a re-entered request is not encoded twice.
func (p Phase) Outbound() bool { return p < PhaseErrors }

func (p Phase) String() string {
	switch p {
	case PhaseHeader:
		return "header"
	case PhaseEncode:
		return "encode"
	case PhaseErrors:
		return "errors"
	case PhaseAccess:
		return "access"
	case PhaseRewrite:
		return "rewrite"
	case PhaseRedirect:
		return "redirect"
	case PhaseMount:
		return "mount"
	case PhaseContent:
		return "content"
	}
	return fmt.Sprintf("phase(%d)", int(p))
}

// Info describes a module: the vhost block type it owns and how to make a
// fresh instance for each block of that type.
type Info struct {
	Name   string   // HCL block type, e.g. "script_alias"
	Labels []string // names of the block's labels, e.g. {"url_prefix"}
	Phase  Phase    // position in the pipeline
	Doc    string   // one line for httpd -l
	New    func() Module
	// Implicit, for a PhaseContent module, makes the core add one instance
	// with default settings to every vhost that has a document_root and no
	// block of this type.
	Implicit bool
}

// Module is one configured instance of a module: one block of a vhost.
type Module interface {
	// Decode reads the block with the module's own schema. It has no side
	// effects; every problem is a diagnostic pointing into the file.
	Decode(b *hcl.Block, dc *DecodeContext) hcl.Diagnostics
	// Provision acquires what the stage needs to serve (open roots, start
	// worker pools). It runs once per generation, before Wrap.
	Provision(ctx context.Context, env *Env) error
	// Wrap returns the stage's handler. For PhaseMount and PhaseContent
	// modules next is what runs when the stage has nothing to serve; for
	// others it is the rest of the pipeline. The handler of a PhaseMount
	// module must be a MountHandler: the router calls its ServeMount, only
	// for requests under the module's prefix, with what it matched.
	Wrap(next Handler) Handler
}

// Validator is implemented by modules with checks beyond decoding, such
// as that a path exists. Validate must not change anything: httpd -t
// runs it. It runs also after Decode reported errors, so that one pass
// reports every problem: it must check only what Decode set and leave
// alone what Decode could not read.
type Validator interface {
	Validate(dc *DecodeContext) hcl.Diagnostics
}

// Cleaner is implemented by modules that hold resources (processes,
// sockets). Cleanup runs once when the generation retires, also after a
// failed or partial Provision, and must stop every goroutine and child
// process the module started.
type Cleaner interface {
	Cleanup() error
}

// Describer is implemented by modules that can say in one line what they
// serve, for httpd -S.
type Describer interface {
	Describe() string
}

// DecodeContext is what a module may know while decoding and validating.
type DecodeContext struct {
	Eval         *hcl.EvalContext
	ServerRoot   string // absolute
	DocumentRoot string // absolute, or "" when the vhost has none
	DataDir      string // absolute
	VHost        string // the vhost's name
	File         string // the config file, for messages
}

// Env is what a module gets to serve with.
type Env struct {
	Logger       *slog.Logger // carries module and vhost attributes
	VHost        string
	ServerRoot   string
	DocumentRoot string
	DataDir      string
	// ServerSoftware names the server to gateways, "name/version", as
	// SERVER_SOFTWARE (RFC 3875) and in WSGI's environ.
	ServerSoftware string
	// Kill is closed when a stopping server's time is up (at the end of
	// server.shutdown_timeout): from then on Cleanup must not wait for
	// children to exit by themselves, but kill what is left of them and
	// return at once. It is not closed on a reload. A nil Kill is never
	// closed.
	Kill <-chan struct{}
	// Shared holds what modules share across the vhosts and generations
	// of one server, such as the state of a responder several mounts
	// connect to. It lives as long as the server.
	Shared *Shared
	// Dispatch re-enters the vhost's pipeline with a new request, for
	// internal redirects. It is valid once the generation serves.
	Dispatch func(w http.ResponseWriter, r *http.Request)
	// Pipeline is the vhost's pipeline from PhaseErrors on, returning
	// errors instead of answering them: a stage that runs the request
	// again on a new path (an internal rewrite, an error page) calls it
	// with the ResponseWriter it was given, which the outbound stages
	// already wrap. Count the re-entries with Reentered so that a loop
	// ends. It is valid once the generation serves.
	Pipeline Handler
}

// Shared is a server-wide store of values that outlive a generation,
// keyed by names the modules choose (prefix them with the module's name).
// It is safe for concurrent use. Values are never removed: keep them
// small, one per remote address or the like.
type Shared struct {
	mu sync.Mutex // guards m
	m  map[string]any
}

// Get returns the value stored under key, storing make() there first if
// there is none. A nil Shared stores nothing and returns make(): a
// module provisioned without a server (in a test) shares with no one.
func (s *Shared) Get(key string, make func() any) any {
	if s == nil {
		return make()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		if s.m == nil {
			s.m = map[string]any{}
		}
		v = make()
		s.m[key] = v
	}
	return v
}

// Handler serves one request of a pipeline stage. A handler that returns
// an error before writing anything lets the vhost answer: the status comes
// from a *StatusError (500 for any other error) and the client sees fixed
// text only, while the error goes to the error log.
type Handler interface {
	ServeHTTP(w http.ResponseWriter, r *http.Request) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP calls f(w, r).
func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) error { return f(w, r) }

// Mount is what the router matched for a PhaseMount stage.
type Mount struct {
	// Prefix is the mount's URL prefix, the block's label.
	Prefix string
	// ScriptName is Prefix without its trailing slash ("" for "/"): the
	// part of the path that names the mount, as gateways pass it in
	// SCRIPT_NAME.
	ScriptName string
	// Path is the rest of the request's path after ScriptName: empty, or
	// starting with "/". "/cgi-bin/" and "/cgi-bin/a/b" give "/a/b";
	// "/app" and "/app" give "".
	Path string
}

// MatchMount reports whether urlPath falls under the mount prefix (see
// MatchPrefix) and, if so, how it splits.
func MatchMount(prefix, urlPath string) (Mount, bool) {
	if !MatchPrefix(prefix, urlPath) {
		return Mount{}, false
	}
	script := strings.TrimSuffix(prefix, "/")
	return Mount{Prefix: prefix, ScriptName: script, Path: urlPath[len(script):]}, true
}

// MountHandler is the handler of a PhaseMount stage.
type MountHandler interface {
	Handler
	// ServeMount serves r, which the router matched to m.
	ServeMount(w http.ResponseWriter, r *http.Request, m Mount) error
}

// MountFunc adapts a function to MountHandler.
type MountFunc func(w http.ResponseWriter, r *http.Request, m Mount) error

// ServeMount calls f(w, r, m).
func (f MountFunc) ServeMount(w http.ResponseWriter, r *http.Request, m Mount) error {
	return f(w, r, m)
}

// ServeHTTP serves r as if the mount's prefix were "/", so that the whole
// path is below it. The router never calls it; it makes a MountFunc a
// Handler that Wrap can return.
func (f MountFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	return f(w, r, Mount{Prefix: "/", Path: r.URL.Path})
}

var (
	mu      sync.RWMutex // guards modules
	modules = map[string]*Info{}
)

// Register adds a module. It is meant for init functions and panics on a
// nil New, an empty name or a name registered twice: those are
// programming errors.
func Register(info Info) {
	if info.Name == "" || info.New == nil {
		panic("registry: Register needs a name and a New function")
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := modules[info.Name]; dup {
		panic("registry: module " + info.Name + " registered twice")
	}
	modules[info.Name] = &info
}

// Lookup returns the module that owns block type name.
func Lookup(name string) (*Info, bool) {
	mu.RLock()
	defer mu.RUnlock()
	info, ok := modules[name]
	return info, ok
}

// Modules lists the registered modules by phase, then name.
func Modules() []*Info {
	mu.RLock()
	list := make([]*Info, 0, len(modules))
	for _, m := range modules {
		list = append(list, m)
	}
	mu.RUnlock()
	sort.Slice(list, func(i, j int) bool {
		if list[i].Phase != list[j].Phase {
			return list[i].Phase < list[j].Phase
		}
		return list[i].Name < list[j].Name
	})
	return list
}

// Names lists the registered block types in the order of Modules.
func Names() []string {
	var names []string
	for _, m := range Modules() {
		names = append(names, m.Name)
	}
	return names
}
