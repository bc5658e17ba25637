package cgi

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2"

	"httpd/internal/gateway"
	"httpd/registry"
)

// Defaults of the block's optional attributes.
const (
	DefaultTimeout      = 60 * time.Second
	DefaultMaxProcesses = 64
	DefaultQueueTimeout = 5 * time.Second
	// KillGrace is how long a script has between SIGTERM and SIGKILL
	// when it is stopped.
	KillGrace = 2 * time.Second
	// MaxHeaderBytes bounds the CGI header block a script writes.
	MaxHeaderBytes = 64 << 10
	// reapWait bounds how long Cleanup waits for scripts to be reaped
	// once they have been sent SIGKILL.
	reapWait = 500 * time.Millisecond
	// stderrAfterKill bounds the wait for a killed script's stderr to
	// reach EOF once the server's time is up.
	stderrAfterKill = 50 * time.Millisecond
	// MaxRedirects bounds the chain of internal redirects one request
	// may follow.
	MaxRedirects = 10
)

// envOptions name the entries of the env attribute in diagnostics.
var envOptions = gateway.EnvOptions{Summary: "Invalid environment variable", Entry: "CGI variable", Entries: "variables"}

func init() {
	registry.Register(registry.Info{
		Name:   "script_alias",
		Labels: []string{"url_prefix"},
		Phase:  registry.PhaseMount,
		Doc:    "CGI/1.1 scripts under a URL prefix (RFC 3875, like Apache's ScriptAlias)",
		New:    func() registry.Module { return new(Module) },
	})
}

var schema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "path"},
		{Name: "program"},
		{Name: "timeout"},
		{Name: "max_processes"},
		{Name: "queue_timeout"},
		{Name: "pass_auth"},
		{Name: "chunked"},
		{Name: "env"},
	},
}

// Module is one script_alias block: a folder of CGI programs, or one
// program, mounted at a URL prefix. Its methods follow the registry
// lifecycle; ServeHTTP of the handler Wrap returns is safe for concurrent
// use.
type Module struct {
	Prefix        string            // URL prefix, the block's label
	Path          string            // folder of scripts, absolute; "" with Program
	Program       string            // the one program of the mount, absolute; "" with Path
	Timeout       time.Duration     // wall-clock limit per script; 0 means none
	MaxProcesses  int               // concurrent scripts of this mount
	QueueTimeout  time.Duration     // how long a request waits for a free slot
	PassAuth      bool              // pass the Authorization header as HTTP_AUTHORIZATION
	StreamChunked bool              // stream bodies of unknown length without CONTENT_LENGTH
	Env           map[string]string // extra environment, from the env attribute

	PathRange    hcl.Range
	ProgramRange hcl.Range
	EnvRange     hcl.Range
	DefRange     hcl.Range

	// Set by Provision.
	root     string // Path, or Program, with symlinks resolved
	docRoot  string
	software string // SERVER_SOFTWARE
	log      *slog.Logger
	dispatch func(w http.ResponseWriter, r *http.Request)
	baseEnv  []string // PATH and Env, "NAME=value"
	slots    chan struct{}
	kill     <-chan struct{} // Env.Kill: no more grace for scripts

	// For Report: requests waiting for a slot, the time they waited,
	// and scripts stopped by Timeout.
	queued    atomic.Int64
	queueWait atomic.Int64 // nanoseconds
	timeouts  atomic.Uint64

	mu      sync.Mutex // guards closed and running
	closed  bool
	running map[*child]struct{}
	wg      sync.WaitGroup // one per started child until it is reaped
	stop    context.Context
	stopAll context.CancelFunc
}

// Decode reads the block. The path is resolved against server_root.
func (m *Module) Decode(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	m.DefRange = b.DefRange
	if len(b.Labels) > 0 {
		m.Prefix = b.Labels[0]
	}
	c, diags := b.Body.Content(schema)
	if c == nil {
		return diags
	}
	diags = append(diags, m.decodeTarget(c, dc)...)
	var ds hcl.Diagnostics
	m.Timeout, ds = registry.Duration(c, "timeout", dc.Eval, DefaultTimeout)
	diags = append(diags, ds...)
	m.QueueTimeout, ds = registry.Duration(c, "queue_timeout", dc.Eval, DefaultQueueTimeout)
	diags = append(diags, ds...)
	m.MaxProcesses, ds = registry.Int(c, "max_processes", dc.Eval, DefaultMaxProcesses, 1, 1<<16)
	diags = append(diags, ds...)
	m.PassAuth, ds = registry.Bool(c, "pass_auth", dc.Eval, false)
	diags = append(diags, ds...)
	var chunked string
	chunked, ds = registry.String(c, "chunked", dc.Eval, "buffer")
	diags = append(diags, ds...)
	switch chunked {
	case "buffer":
	case "stream":
		m.StreamChunked = true
	default:
		if !ds.HasErrors() {
			diags = append(diags, registry.AttrError(c.Attributes["chunked"], "Invalid value for chunked",
				fmt.Sprintf("%q is not a choice: write \"buffer\" (collect the body, then set CONTENT_LENGTH) or \"stream\" (stream it with no CONTENT_LENGTH).", chunked)))
		}
	}
	m.Env, ds = gateway.DecodeEnv(c, dc.Eval, envOptions)
	diags = append(diags, ds...)
	if a, ok := c.Attributes["env"]; ok {
		m.EnvRange = a.Expr.Range()
	}
	return diags
}

// decodeTarget reads path or program: exactly one of them must be set.
func (m *Module) decodeTarget(c *hcl.BodyContent, dc *registry.DecodeContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, t := range []struct {
		name, hint string
		dst        *string
		rng        *hcl.Range
	}{
		{"path", "path names the folder of CGI scripts, like \"cgi-bin/\".", &m.Path, &m.PathRange},
		{"program", "program names the one CGI program of the mount, like \"/usr/lib/git-core/git-http-backend\".", &m.Program, &m.ProgramRange},
	} {
		v, ds := registry.String(c, t.name, dc.Eval, "")
		diags = append(diags, ds...)
		a, ok := c.Attributes[t.name]
		if !ok {
			continue
		}
		*t.rng = a.Expr.Range()
		if v == "" && !ds.HasErrors() {
			diags = append(diags, registry.AttrError(a, "Empty "+t.name, t.hint))
		}
		if v != "" {
			*t.dst = dc.Path(v)
		}
	}
	pa, hasPath := c.Attributes["path"]
	pr, hasProgram := c.Attributes["program"]
	switch {
	case hasPath && hasProgram:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Conflicting script_alias attributes",
			Detail: fmt.Sprintf("path (set at %s) and program cannot both be set: keep path to run every script of a folder, "+
				"or program to run one program for every URL under %q, with the rest of the path as PATH_INFO.", pa.NameRange.String(), m.Prefix),
			Subject: pr.NameRange.Ptr(),
			Context: m.DefRange.Ptr(),
		})
	case !hasPath && !hasProgram:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing path or program",
			Detail: "script_alias needs one of them: path = \"cgi-bin/\" runs the scripts of a folder, " +
				"program = \"/usr/lib/git-core/git-http-backend\" runs one program for every URL under the prefix.",
			Subject: m.DefRange.Ptr(),
		})
	}
	return diags
}

// Validate checks that path is an existing folder, or program an
// executable regular file. It changes nothing.
func (m *Module) Validate(dc *registry.DecodeContext) hcl.Diagnostics {
	if m.Program != "" {
		if why := checkProgram(m.Program); why != "" {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Invalid script_alias program",
				Detail:   why + "; program names an executable file, absolute or relative to server_root (" + dc.ServerRoot + ").",
				Subject:  m.ProgramRange.Ptr(),
				Context:  m.DefRange.Ptr(),
			}}
		}
		return nil
	}
	if m.Path == "" {
		return nil
	}
	st, err := os.Stat(m.Path)
	var why string
	switch {
	case err != nil:
		why = fmt.Sprintf("%s: %v", m.Path, unwrapPathError(err))
	case !st.IsDir():
		why = m.Path + " is not a directory"
	default:
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid script_alias path",
		Detail:   why + "; path names the folder of CGI scripts, relative to server_root (" + dc.ServerRoot + ").",
		Subject:  m.PathRange.Ptr(),
		Context:  m.DefRange.Ptr(),
	}}
}

// checkProgram says why the file cannot be a mount's program, or "".
func checkProgram(file string) string {
	st, err := os.Stat(file)
	switch {
	case err != nil:
		return fmt.Sprintf("%s: %v", file, unwrapPathError(err))
	case st.IsDir():
		return file + " is a directory (a folder of scripts is path's)"
	case !st.Mode().IsRegular():
		return file + " is not a regular file"
	case st.Mode().Perm()&0o111 == 0:
		return fmt.Sprintf("%s is not executable (mode %04o)", file, st.Mode().Perm())
	}
	return ""
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Provision resolves the script folder, or the program, and prepares the
// process slots.
func (m *Module) Provision(ctx context.Context, env *registry.Env) error {
	target := m.target()
	root, err := filepath.EvalSymlinks(target)
	if err != nil {
		return fmt.Errorf("cgi %s: %w", target, err)
	}
	if root, err = filepath.Abs(root); err != nil {
		return fmt.Errorf("cgi %s: %w", target, err)
	}
	m.root = root
	m.docRoot = strings.TrimRight(env.DocumentRoot, "/")
	m.software = env.ServerSoftware
	m.log = env.Logger
	if m.log == nil {
		m.log = slog.Default()
	}
	m.dispatch = env.Dispatch
	m.kill = env.Kill
	if m.MaxProcesses <= 0 {
		m.MaxProcesses = DefaultMaxProcesses
	}
	m.slots = make(chan struct{}, m.MaxProcesses)
	m.running = map[*child]struct{}{}
	m.stop, m.stopAll = context.WithCancel(context.Background())

	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	m.baseEnv = []string{"PATH=" + path}
	for _, k := range slices.Sorted(maps.Keys(m.Env)) {
		if k == "PATH" {
			m.baseEnv[0] = "PATH=" + m.Env[k]
			continue
		}
		m.baseEnv = append(m.baseEnv, k+"="+m.Env[k])
	}
	return nil
}

// Wrap returns the mount's handler. The router sends it only requests
// under the prefix; a missing script is a 404 of its own.
func (m *Module) Wrap(next registry.Handler) registry.Handler {
	return registry.MountFunc((&handler{m: m}).ServeMount)
}

// Cleanup stops every running script (SIGTERM to its process group, then
// SIGKILL after KillGrace, or at once when Env.Kill closes) and waits
// until all are reaped: at most reapWait after Env.Kill closes. New
// requests get 503 from then on.
func (m *Module) Cleanup() error {
	if m.stopAll == nil {
		return nil
	}
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.stopAll()
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	limit := time.NewTimer(KillGrace + 3*time.Second)
	defer limit.Stop()
	select {
	case <-done:
		return nil
	case <-limit.C:
		return fmt.Errorf("cgi %s: scripts still running after cleanup", m.target())
	case <-m.kill:
	}
	// Time is up: every script is being sent SIGKILL.
	t := time.NewTimer(reapWait)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return fmt.Errorf("cgi %s: scripts still running %s after SIGKILL", m.target(), reapWait)
	}
}

// target is the folder of scripts, or the program.
func (m *Module) target() string {
	if m.Program != "" {
		return m.Program
	}
	return m.Path
}

// Describe says what the mount serves, for httpd -S.
func (m *Module) Describe() string {
	t := "none"
	if m.Timeout > 0 {
		t = m.Timeout.String()
	}
	s := fmt.Sprintf("CGI scripts in %s (timeout %s, max_processes %d", m.Path, t, m.MaxProcesses)
	if m.Program != "" {
		s = fmt.Sprintf("CGI program %s for every URL under %s, SCRIPT_NAME %q, the rest PATH_INFO (timeout %s, max_processes %d",
			m.Program, m.Prefix, strings.TrimSuffix(m.Prefix, "/"), t, m.MaxProcesses)
	}
	if m.PassAuth {
		s += ", pass_auth"
	}
	if m.StreamChunked {
		s += ", chunked stream"
	}
	return s + ")"
}

// register records a started child so Cleanup can stop it. It fails once
// Cleanup has begun.
func (m *Module) register(c *child) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.running[c] = struct{}{}
	m.wg.Add(1)
	return true
}

func (m *Module) unregister(c *child) {
	m.mu.Lock()
	delete(m.running, c)
	m.mu.Unlock()
	m.wg.Done()
}

var (
	_ registry.Module    = (*Module)(nil)
	_ registry.Validator = (*Module)(nil)
	_ registry.Cleaner   = (*Module)(nil)
	_ registry.Describer = (*Module)(nil)
)
