package wsgi

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"httpd/internal/pyworker"
	"httpd/registry"
)

//go:embed worker.py
var workerPy string

// Defaults of the block's optional attributes, after mod_wsgi's
// WSGIDaemonProcess.
const (
	DefaultCallable       = "application"
	DefaultPython         = "python3"
	DefaultProcesses      = 1
	DefaultThreads        = 15
	DefaultRequestTimeout = 60 * time.Second
	// MaxProcesses and MaxThreads bound processes and threads.
	MaxProcesses = 256
	MaxThreads   = 1000
	// StopGrace is how long a retiring worker has to finish its requests
	// and exit once the server has closed its connections, before it is
	// killed.
	StopGrace = 10 * time.Second
	// PushLimit is the largest request body sent to a worker with the
	// request itself; larger bodies and bodies of unknown length stream.
	PushLimit = 64 << 10
)

func init() {
	registry.Register(registry.Info{
		Name:   "wsgi_script_alias",
		Labels: []string{"url_prefix"},
		Phase:  registry.PhaseMount,
		Doc:    "a Python WSGI application under a URL prefix, run by a pool of worker processes (PEP 3333, like mod_wsgi daemon mode)",
		New:    func() registry.Module { return new(Module) },
	})
}

var schema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "script", Required: true},
		{Name: "callable"},
		{Name: "python"},
		{Name: "python_path"},
		{Name: "virtualenv"},
		{Name: "processes"},
		{Name: "threads"},
		{Name: "max_requests"},
		{Name: "request_timeout"},
		{Name: "reload"},
		{Name: "pass_auth"},
		{Name: "env"},
	},
}

// Module is one wsgi_script_alias block: a WSGI application mounted at a
// URL prefix and the pool of Python workers that runs it. Its methods
// follow the registry lifecycle; the handler Wrap returns is safe for
// concurrent use.
type Module struct {
	Prefix         string            // URL prefix, the block's label
	Script         string            // the WSGI script file, absolute
	Callable       string            // name of the WSGI callable in Script
	Python         string            // interpreter: a path or a name looked up on PATH
	PythonPath     []string          // directories prepended to sys.path, absolute
	Virtualenv     string            // virtual environment directory, absolute, or ""
	Processes      int               // worker processes
	Threads        int               // threads (and connections) per worker
	MaxRequests    int               // recycle a worker after this many requests; 0 never
	RequestTimeout time.Duration     // 504 and a recycled worker past this; 0 means none
	Reload         bool              // recycle the workers when Script changes
	PassAuth       bool              // pass Authorization as HTTP_AUTHORIZATION
	Env            map[string]string // extra environment of the workers

	ScriptRange     hcl.Range
	PythonRange     hcl.Range
	CallableRange   hcl.Range
	VirtualenvRange hcl.Range
	PythonPathRange hcl.Range
	DefRange        hcl.Range

	pythonSet bool // python was written in the block

	// Set by Provision.
	log      *slog.Logger
	vhost    string
	docRoot  string
	software string          // SERVER_SOFTWARE
	kill     <-chan struct{} // Env.Kill: no more grace for workers
	pool     *pool

	probe        sync.Once // runs the interpreter once for Describe
	probeVersion string
}

// Decode reads the block.
func (m *Module) Decode(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	m.DefRange = b.DefRange
	if len(b.Labels) > 0 {
		m.Prefix = b.Labels[0]
	}
	content, diags := b.Body.Content(schema)
	if content == nil {
		return diags
	}
	var d hcl.Diagnostics
	script, d := registry.String(content, "script", dc.Eval, "")
	diags = append(diags, d...)
	m.Script = dc.Path(script)
	if a, ok := content.Attributes["script"]; ok {
		m.ScriptRange = a.Expr.Range()
	}
	m.Callable, d = registry.String(content, "callable", dc.Eval, DefaultCallable)
	diags = append(diags, d...)
	if a, ok := content.Attributes["callable"]; ok {
		m.CallableRange = a.Expr.Range()
	}
	m.Python, d = registry.String(content, "python", dc.Eval, "")
	diags = append(diags, d...)
	if a, ok := content.Attributes["python"]; ok {
		m.PythonRange = a.Expr.Range()
		m.pythonSet = m.Python != ""
	}
	venv, d := registry.String(content, "virtualenv", dc.Eval, "")
	diags = append(diags, d...)
	m.Virtualenv = dc.Path(venv)
	if a, ok := content.Attributes["virtualenv"]; ok {
		m.VirtualenvRange = a.Expr.Range()
	}
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
	if a, ok := content.Attributes["python_path"]; ok {
		m.PythonPathRange = a.Expr.Range()
	}
	m.Processes, d = registry.Int(content, "processes", dc.Eval, DefaultProcesses, 1, MaxProcesses)
	diags = append(diags, d...)
	m.Threads, d = registry.Int(content, "threads", dc.Eval, DefaultThreads, 1, MaxThreads)
	diags = append(diags, d...)
	m.MaxRequests, d = registry.Int(content, "max_requests", dc.Eval, 0, 0, 1<<30)
	diags = append(diags, d...)
	m.RequestTimeout, d = registry.Duration(content, "request_timeout", dc.Eval, DefaultRequestTimeout)
	diags = append(diags, d...)
	m.Reload, d = registry.Bool(content, "reload", dc.Eval, false)
	diags = append(diags, d...)
	m.PassAuth, d = registry.Bool(content, "pass_auth", dc.Eval, false)
	diags = append(diags, d...)
	m.Env, d = registry.StringMap(content, "env", dc.Eval)
	diags = append(diags, d...)
	return diags
}

// Validate checks that the script, the interpreter and the virtualenv
// exist and that the callable is a Python identifier. It changes nothing.
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
	if st, err := os.Stat(m.Script); err != nil {
		bad(m.ScriptRange, "WSGI script not found", fmt.Sprintf("%s: %v. Point script at the Python file that defines the WSGI callable.", m.Script, unwrapPath(err)))
	} else if !st.Mode().IsRegular() {
		bad(m.ScriptRange, "WSGI script is not a file", fmt.Sprintf("%s is not a regular file.", m.Script))
	}
	if !pyworker.IsIdentifier(m.Callable) {
		bad(m.CallableRange, "Invalid callable name", fmt.Sprintf("%q is not a Python identifier; callable names the WSGI object in the script, like \"application\".", m.Callable))
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
	return diags
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Provision starts the worker pool. It returns once the first worker has
// loaded the application, failed to load it, or a few seconds have passed;
// requests that arrive before a worker is ready wait for one. An
// interpreter that cannot be started is an error.
func (m *Module) Provision(ctx context.Context, env *registry.Env) error {
	m.log = env.Logger
	if m.log == nil {
		m.log = slog.Default()
	}
	m.log = m.log.With("mount", m.Prefix)
	m.vhost = env.VHost
	m.docRoot = env.DocumentRoot
	m.software = env.ServerSoftware
	m.kill = env.Kill
	python, err := pyworker.LookPython(m.Python)
	if err != nil {
		return fmt.Errorf("wsgi %s: %w", m.Prefix, err)
	}
	p, err := newPool(m, python)
	if err != nil {
		return fmt.Errorf("wsgi %s: %w", m.Prefix, err)
	}
	m.pool = p
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p.waitStarted(wait)
	return nil
}

// Wrap returns the handler of the mount. Requests outside the prefix go
// to next.
func (m *Module) Wrap(next registry.Handler) registry.Handler {
	return registry.MountFunc(m.serve)
}

// Cleanup stops the pool: requests in flight finish (up to StopGrace, or
// until Env.Kill closes), then every worker process and its process group
// is stopped.
func (m *Module) Cleanup() error {
	if m.pool != nil {
		m.pool.close()
	}
	return nil
}

// Describe says what the mount serves, for httpd -S: the script, the
// interpreter as found on PATH and its version, and the pool's size. The
// version is what the workers reported; before the pool has started it is
// asked from the interpreter, once.
func (m *Module) Describe() string {
	python := m.Python
	if path, err := pyworker.LookPython(m.Python); err == nil {
		python = path
	}
	if v := m.pythonVersion(python); v != "" {
		python += " " + v
	}
	return fmt.Sprintf("WSGI %s:%s (python %s, %d processes × %d threads)", m.Script, m.Callable, python, m.Processes, m.Threads)
}

// probeTimeout bounds the run of the interpreter that asks its version.
const probeTimeout = 5 * time.Second

// pythonVersion returns the version of the interpreter at path, like
// "3.11.2", or "" when it cannot be known.
func (m *Module) pythonVersion(path string) string {
	if m.pool != nil {
		v, _ := m.pool.interpreter()
		return v
	}
	m.probe.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, path, "-S", "-c", "import sys; sys.stdout.write(sys.version.split()[0])")
		cmd.Env = pyworker.Env(m.Virtualenv, m.Env)
		if out, err := cmd.Output(); err == nil {
			m.probeVersion = strings.TrimSpace(string(out))
		}
	})
	return m.probeVersion
}

var (
	_ registry.Module    = (*Module)(nil)
	_ registry.Validator = (*Module)(nil)
	_ registry.Cleaner   = (*Module)(nil)
	_ registry.Describer = (*Module)(nil)
)
