package asgi

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"httpd/internal/pyworker"
	"httpd/registry"
)

//go:embed worker.py
var workerPy string

// Defaults of the block's optional attributes, after uvicorn's.
const (
	DefaultPython         = "python3"
	DefaultProcesses      = 1
	DefaultLifespan       = "auto"
	DefaultRequestTimeout = 60 * time.Second
	// MaxProcesses bounds processes.
	MaxProcesses = 256
	// MaxMaxRequests bounds max_requests.
	MaxMaxRequests = 1 << 30
	// StopGrace is how long a retiring worker has to finish its streams
	// and its lifespan shutdown before it is killed.
	StopGrace = 10 * time.Second
	// StartTimeout bounds how long Provision waits for the first worker
	// to load the application and finish its lifespan startup.
	StartTimeout = 30 * time.Second
)

func init() {
	registry.Register(registry.Info{
		Name:   "asgi_app",
		Labels: []string{"url_prefix"},
		Phase:  registry.PhaseMount,
		Doc:    "a Python ASGI application (FastAPI, Starlette) under a URL prefix, HTTP and WebSocket, run by asyncio worker processes (like uvicorn)",
		New:    func() registry.Module { return new(Module) },
	})
}

var schema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "app", Required: true},
		{Name: "python"},
		{Name: "python_path"},
		{Name: "virtualenv"},
		{Name: "processes"},
		{Name: "lifespan"},
		{Name: "request_timeout"},
		{Name: "max_requests"},
		{Name: "env"},
	},
}

// Module is one asgi_app block: an ASGI application mounted at a URL
// prefix and the pool of Python workers that runs it. Its methods follow
// the registry lifecycle; the handler Wrap returns is safe for concurrent
// use.
type Module struct {
	Prefix         string            // URL prefix, the block's label
	App            string            // "module:attribute"
	Python         string            // interpreter: a path or a name looked up on PATH
	PythonPath     []string          // directories prepended to sys.path, absolute
	Virtualenv     string            // virtual environment directory, absolute, or ""
	Processes      int               // worker processes
	Lifespan       string            // auto, on or off
	RequestTimeout time.Duration     // 504 past this; 0 means none
	MaxRequests    int               // recycle a worker after this many requests and WebSockets; 0 never
	Env            map[string]string // extra environment of the workers

	AppRange        hcl.Range
	PythonRange     hcl.Range
	PythonPathRange hcl.Range
	VirtualenvRange hcl.Range
	LifespanRange   hcl.Range
	DefRange        hcl.Range

	pythonSet bool

	// Set by Provision.
	log   *slog.Logger
	vhost string
	dir   string          // the workers' working directory
	kill  <-chan struct{} // Env.Kill
	pool  *pool
}

// Decode reads the block.
func (m *Module) Decode(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	m.DefRange = b.DefRange
	if len(b.Labels) > 0 {
		m.Prefix = b.Labels[0]
	}
	var diags hcl.Diagnostics
	if d := registry.CheckPrefix(b); d != nil {
		diags = append(diags, d)
	}
	content, d := b.Body.Content(schema)
	diags = append(diags, d...)
	if content == nil {
		return diags
	}
	rangeOf := func(name string) hcl.Range {
		if a, ok := content.Attributes[name]; ok {
			return a.Expr.Range()
		}
		return hcl.Range{}
	}
	m.App, d = registry.String(content, "app", dc.Eval, "")
	diags = append(diags, d...)
	m.AppRange = rangeOf("app")
	m.Python, d = registry.String(content, "python", dc.Eval, "")
	diags = append(diags, d...)
	m.PythonRange = rangeOf("python")
	m.pythonSet = m.Python != ""
	venv, d := registry.String(content, "virtualenv", dc.Eval, "")
	diags = append(diags, d...)
	m.Virtualenv = dc.Path(venv)
	m.VirtualenvRange = rangeOf("virtualenv")
	switch {
	case m.pythonSet && strings.ContainsRune(m.Python, '/'):
		m.Python = dc.Path(m.Python)
	case !m.pythonSet && m.Virtualenv != "":
		m.Python = filepath.Join(m.Virtualenv, "bin", "python")
	case !m.pythonSet:
		m.Python = DefaultPython
	}
	paths, d := registry.StringList(content, "python_path", dc.Eval, nil)
	diags = append(diags, d...)
	for _, p := range paths {
		m.PythonPath = append(m.PythonPath, dc.Path(p))
	}
	m.PythonPathRange = rangeOf("python_path")
	m.Processes, d = registry.Int(content, "processes", dc.Eval, DefaultProcesses, 1, MaxProcesses)
	diags = append(diags, d...)
	m.Lifespan, d = registry.String(content, "lifespan", dc.Eval, DefaultLifespan)
	diags = append(diags, d...)
	m.LifespanRange = rangeOf("lifespan")
	m.RequestTimeout, d = registry.Duration(content, "request_timeout", dc.Eval, DefaultRequestTimeout)
	diags = append(diags, d...)
	m.MaxRequests, d = registry.Int(content, "max_requests", dc.Eval, 0, 0, MaxMaxRequests)
	diags = append(diags, d...)
	m.Env, d = registry.StringMap(content, "env", dc.Eval)
	diags = append(diags, d...)
	m.dir = dc.ServerRoot
	if len(m.PythonPath) > 0 {
		m.dir = m.PythonPath[0]
	}
	return diags
}

// Validate checks the app reference, the lifespan mode, the interpreter,
// the virtualenv and the python_path directories. It changes nothing.
func (m *Module) Validate(dc *registry.DecodeContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	bad := func(rng hcl.Range, summary, detail string) {
		if rng.Filename == "" {
			rng = m.DefRange
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: summary, Detail: detail,
			Subject: rng.Ptr(), Context: m.DefRange.Ptr(),
		})
	}
	if m.AppRange.Filename != "" && !validAppRef(m.App) {
		bad(m.AppRange, "Invalid app", fmt.Sprintf("%q is not \"module:attribute\"; write the module to import and the ASGI application in it, like \"main:app\".", m.App))
	}
	switch m.Lifespan {
	case "auto", "on", "off":
	default:
		bad(m.LifespanRange, "Invalid lifespan", fmt.Sprintf("%q is not a lifespan mode: write \"auto\" (use it if the application supports it), \"on\" or \"off\".", m.Lifespan))
	}
	if _, err := pyworker.LookPython(m.Python); err != nil {
		rng := m.PythonRange
		if !m.pythonSet && m.Virtualenv != "" {
			rng = m.VirtualenvRange
		}
		bad(rng, "Python interpreter not found", fmt.Sprintf("%v. Set python to the interpreter's path or a name on PATH.", err))
	}
	if m.Virtualenv != "" {
		if st, err := os.Stat(m.Virtualenv); err != nil || !st.IsDir() {
			bad(m.VirtualenvRange, "Virtualenv not found", fmt.Sprintf("%s is not a directory.", m.Virtualenv))
		}
	}
	for _, d := range m.PythonPath {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			bad(m.PythonPathRange, "python_path directory not found", fmt.Sprintf("%s is not a directory. List the directories that hold the application's modules.", d))
		}
	}
	return diags
}

// validAppRef reports whether s is "module:attribute" with dotted Python
// identifiers on both sides.
func validAppRef(s string) bool {
	mod, attr, ok := strings.Cut(s, ":")
	if !ok {
		return false
	}
	for _, part := range [2]string{mod, attr} {
		for _, id := range strings.Split(part, ".") {
			if !pyworker.IsIdentifier(id) {
				return false
			}
		}
	}
	return true
}

// Provision starts the worker pool and waits until the first worker has
// loaded the application and finished its lifespan startup. A failure
// there (an import error, lifespan.startup.failed) fails the provision
// with its message, so that a bad application does not start, and a
// reload to one keeps the old generation serving.
func (m *Module) Provision(ctx context.Context, env *registry.Env) error {
	m.log = env.Logger
	if m.log == nil {
		m.log = slog.Default()
	}
	m.log = m.log.With("mount", m.Prefix)
	m.vhost = env.VHost
	m.kill = env.Kill
	if m.dir == "" {
		m.dir = env.ServerRoot
	}
	python, err := pyworker.LookPython(m.Python)
	if err != nil {
		return fmt.Errorf("asgi %s: %w", m.Prefix, err)
	}
	p, err := newPool(m, python)
	if err != nil {
		return fmt.Errorf("asgi %s: %w", m.Prefix, err)
	}
	m.pool = p
	wait, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	if err := p.waitStarted(wait); err != nil {
		return fmt.Errorf("asgi %s: application %s: %w", m.Prefix, m.App, err)
	}
	return nil
}

// Wrap returns the handler of the mount.
func (m *Module) Wrap(next registry.Handler) registry.Handler {
	return registry.MountFunc(m.serve)
}

// Cleanup stops the pool: streams in flight finish (up to StopGrace, or
// until Env.Kill closes), each worker runs its lifespan shutdown, then
// every worker process and its process group is stopped.
func (m *Module) Cleanup() error {
	if m.pool != nil {
		m.pool.close()
	}
	return nil
}

// Describe says what the mount serves, for httpd -S.
func (m *Module) Describe() string {
	s := fmt.Sprintf("ASGI %s (python %s, %d processes, lifespan %s", m.App, m.Python, m.Processes, m.Lifespan)
	if m.MaxRequests > 0 {
		s += fmt.Sprintf(", max_requests %d", m.MaxRequests)
	}
	return s + ")"
}

// Report is the live state of the pool: Busy counts requests and
// WebSockets in flight, Idle the ready workers with none, Max the
// processes (each serves any number of requests at once). Restarts are
// workers replaced on purpose (max_requests), Crashes those that exited
// unasked.
func (m *Module) Report() registry.Report {
	r := registry.Report{Kind: "asgi_app", Target: m.App}
	if m.pool != nil {
		r.Workers = m.pool.report()
	} else {
		r.Workers = &registry.PoolReport{Max: m.Processes}
	}
	return r
}

// Explain says where the request goes.
func (m *Module) Explain(r *http.Request, mt registry.Mount) registry.Explanation {
	kind := "HTTP"
	if isWebSocket(r) {
		kind = "WebSocket"
	}
	return registry.Explanation{
		Says: fmt.Sprintf("passes it as an ASGI %s scope (root_path %q, path %q) to the app %s in %d asyncio worker processes (%s)",
			kind, mt.ScriptName, mt.Path, m.App, m.Processes, m.Python),
		Ends: true,
	}
}

var (
	_ registry.Module    = (*Module)(nil)
	_ registry.Validator = (*Module)(nil)
	_ registry.Cleaner   = (*Module)(nil)
	_ registry.Describer = (*Module)(nil)
	_ registry.Reporter  = (*Module)(nil)
	_ registry.Explainer = (*Module)(nil)
)
