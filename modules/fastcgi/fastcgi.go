package fastcgi

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"httpd/internal/fileserver"
	"httpd/internal/gateway"
	"httpd/modules/fastcgi/fcgi"
	"httpd/registry"
)

// Defaults and limits.
const (
	DefaultTimeout      = 60 * time.Second
	DefaultMaxIdleConns = 16
	// DialTimeout bounds connecting to the responder.
	DialTimeout = 5 * time.Second
	// MaxHeaderBytes bounds the CGI header block of a response.
	MaxHeaderBytes = 64 << 10
	// MaxRedirects bounds the chain of internal redirects one request
	// may follow.
	MaxRedirects = 10
)

// DefaultSplitPath and DefaultIndex are used when a block sets none.
var (
	DefaultSplitPath = []string{".php"}
	DefaultIndex     = []string{"index.php"}
)

func init() {
	registry.Register(registry.Info{
		Name:   "fastcgi",
		Labels: []string{"url_prefix"},
		Phase:  registry.PhaseMount,
		Doc:    "PHP-FPM and other FastCGI responders under a URL prefix (like nginx's fastcgi_pass)",
		New:    func() registry.Module { return new(Module) },
	})
}

var schema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "to", Required: true},
		{Name: "split_path"},
		{Name: "index"},
		{Name: "front_controller"},
		{Name: "env"},
		{Name: "timeout"},
		{Name: "pass_auth"},
		{Name: "max_idle_conns"},
	},
}

// Module is one fastcgi block: a FastCGI responder serving the scripts
// of the vhost's document_root under a URL prefix, with the files that
// are not scripts served as static does. Its methods follow the registry
// lifecycle; the handler Wrap returns is safe for concurrent use.
type Module struct {
	Prefix          string            // URL prefix, the block's label
	To              string            // the responder's address as written
	Network         string            // "unix" or "tcp"
	Address         string            // socket path (absolute) or host:port
	SplitPath       []string          // script name suffixes, like ".php"
	Index           []string          // names tried in a directory
	FrontController string            // URL path of the script for paths that are no file; "" for none
	Env             map[string]string // extra parameters, from the env attribute
	Timeout         time.Duration     // for the response header; 0 means none
	PassAuth        bool              // pass Authorization as HTTP_AUTHORIZATION
	MaxIdleConns    int               // idle connections kept to the responder

	DefRange hcl.Range

	// Set by Provision.
	docRoot  string   // document_root, as configured
	root     *os.Root // document_root, to check scripts beneath it
	files    *fileserver.FileServer
	pool     *pool
	log      *slog.Logger
	dispatch func(w http.ResponseWriter, r *http.Request)
	software string // SERVER_SOFTWARE
	envPairs []byte // Env as name-value pairs, sorted by name
}

// Decode reads the block. A relative unix socket path is resolved
// against server_root.
func (m *Module) Decode(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	m.DefRange = b.DefRange
	if len(b.Labels) > 0 {
		m.Prefix = b.Labels[0]
	}
	m.docRoot = strings.TrimRight(dc.DocumentRoot, "/") // for Explain; Provision sets it again
	c, diags := b.Body.Content(schema)
	if c == nil {
		return diags
	}
	var ds hcl.Diagnostics

	m.To, ds = registry.String(c, "to", dc.Eval, "")
	diags = append(diags, ds...)
	if a, ok := c.Attributes["to"]; ok && !ds.HasErrors() {
		var why string
		m.Network, m.Address, why = parseTo(m.To)
		if why != "" {
			diags = append(diags, registry.AttrError(a, "Invalid FastCGI address", why))
		} else if m.Network == "unix" {
			m.Address = dc.Path(m.Address)
		}
	}

	m.SplitPath, ds = registry.StringList(c, "split_path", dc.Eval, DefaultSplitPath)
	diags = append(diags, ds...)
	if a, ok := c.Attributes["split_path"]; ok && !ds.HasErrors() {
		if len(m.SplitPath) == 0 {
			diags = append(diags, registry.AttrError(a, "Empty split_path",
				`split_path lists the suffixes that end a script's name, such as [".php"]; without one nothing would run.`))
		}
		for _, s := range m.SplitPath {
			if s == "" || strings.ContainsAny(s, "/\\\x00") {
				diags = append(diags, registry.AttrError(a, "Invalid split_path",
					fmt.Sprintf("%q is not a file name suffix: write suffixes such as \".php\", without slashes.", s)))
			}
		}
	}

	m.Index, ds = registry.StringList(c, "index", dc.Eval, DefaultIndex)
	diags = append(diags, ds...)
	if a, ok := c.Attributes["index"]; ok && !ds.HasErrors() {
		for _, name := range m.Index {
			if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
				diags = append(diags, registry.AttrError(a, "Invalid index file name",
					fmt.Sprintf("%q is not a file name: index lists names looked up in each directory, such as \"index.php\".", name)))
			}
		}
	}

	m.FrontController, ds = registry.String(c, "front_controller", dc.Eval, "")
	diags = append(diags, ds...)
	if a, ok := c.Attributes["front_controller"]; ok && !ds.HasErrors() {
		if why := m.checkFrontController(); why != "" {
			diags = append(diags, registry.AttrError(a, "Invalid front_controller", why))
		}
	}

	m.Timeout, ds = registry.Duration(c, "timeout", dc.Eval, DefaultTimeout)
	diags = append(diags, ds...)
	m.PassAuth, ds = registry.Bool(c, "pass_auth", dc.Eval, false)
	diags = append(diags, ds...)
	m.MaxIdleConns, ds = registry.Int(c, "max_idle_conns", dc.Eval, DefaultMaxIdleConns, 0, 1<<12)
	diags = append(diags, ds...)

	m.Env, ds = gateway.DecodeEnv(c, dc.Eval, envOptions)
	diags = append(diags, ds...)
	return diags
}

// parseTo reads the to attribute: "unix:PATH" or "tcp://HOST:PORT". why
// says what is wrong, or is "".
func parseTo(to string) (network, address, why string) {
	const hint = `write "unix:/run/php/php8.2-fpm.sock" for a Unix socket or "tcp://127.0.0.1:9000" for TCP`
	switch {
	case strings.HasPrefix(to, "unix:"):
		p := strings.TrimPrefix(to, "unix:")
		if strings.HasPrefix(p, "//") { // unix:///run/x.sock
			p = strings.TrimPrefix(p, "//")
		}
		if p == "" || strings.ContainsRune(p, 0) {
			return "", "", fmt.Sprintf("%q names no socket: %s.", to, hint)
		}
		return "unix", p, ""
	case strings.HasPrefix(to, "tcp://"):
		hp := strings.TrimSuffix(strings.TrimPrefix(to, "tcp://"), "/")
		host, port, err := net.SplitHostPort(hp)
		if err != nil || host == "" {
			return "", "", fmt.Sprintf("%q is not tcp://HOST:PORT: %s.", to, hint)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", "", fmt.Sprintf("%q: the port must be a number from 1 to 65535.", to)
		}
		return "tcp", hp, ""
	}
	if scheme, _, ok := strings.Cut(to, "://"); ok {
		return "", "", fmt.Sprintf("%q: the scheme %q is not one fastcgi speaks (a FastCGI responder is no HTTP server; for HTTP use reverse_proxy): %s.", to, scheme, hint)
	}
	if _, _, err := net.SplitHostPort(to); err == nil {
		return "", "", fmt.Sprintf("%q has no scheme: did you mean \"tcp://%s\"?", to, to)
	}
	if strings.HasPrefix(to, "/") {
		return "", "", fmt.Sprintf("%q has no scheme: did you mean \"unix:%s\"?", to, to)
	}
	return "", "", fmt.Sprintf("%q is not an address: %s.", to, hint)
}

// checkFrontController says what is wrong with FrontController, or "".
func (m *Module) checkFrontController() string {
	fc := m.FrontController
	switch {
	case !strings.HasPrefix(fc, "/"):
		return fmt.Sprintf("%q must be a URL path starting with \"/\", like \"/index.php\".", fc)
	case strings.ContainsAny(fc, "?#\\\x00"):
		return fmt.Sprintf("%q must be a plain path: no query, fragment, backslash or NUL.", fc)
	case strings.HasSuffix(fc, "/"):
		return fmt.Sprintf("%q names a directory: name the script, like \"/index.php\".", fc)
	}
	if _, ok := fileserver.CleanPath(fc); !ok || strings.Contains(fc, "//") {
		return fmt.Sprintf("%q must not hold \".\" or \"..\" segments or empty ones.", fc)
	}
	if script, info, ok := splitScript(fc, m.SplitPath); len(m.SplitPath) > 0 && (!ok || info != "" || script != fc) {
		return fmt.Sprintf("%q is not a script: its name must end with one of split_path (%s).", fc, strings.Join(m.SplitPath, ", "))
	}
	return ""
}

// envOptions name the entries of the env attribute in diagnostics and
// reserve REDIRECT_STATUS, which every request carries (PHP's
// cgi.force_redirect wants it).
var envOptions = gateway.EnvOptions{
	Summary:  "Invalid FastCGI parameter",
	Entry:    "parameter",
	Entries:  "parameters",
	Reserved: []string{"REDIRECT_STATUS"},
}

// Validate checks that the vhost has a document_root to find scripts
// in. The responder's socket is not checked: it may start later.
func (m *Module) Validate(dc *registry.DecodeContext) hcl.Diagnostics {
	if dc.DocumentRoot != "" {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Missing document_root",
		Detail:   fmt.Sprintf("The fastcgi block finds its scripts and files under document_root: set document_root in vhost %q.", dc.VHost),
		Subject:  m.DefRange.Ptr(),
	}}
}

// Provision opens the document root and prepares the connection pool. It
// does not connect: the responder may start after the server.
func (m *Module) Provision(ctx context.Context, env *registry.Env) error {
	m.log = env.Logger
	if m.log == nil {
		m.log = slog.Default()
	}
	m.dispatch = env.Dispatch
	m.software = env.ServerSoftware
	m.docRoot = strings.TrimRight(env.DocumentRoot, "/")
	if m.docRoot == "" {
		return fmt.Errorf("fastcgi %s: vhost %s has no document_root", m.Prefix, env.VHost)
	}
	if m.SplitPath == nil {
		m.SplitPath = DefaultSplitPath
	}
	if m.Index == nil {
		m.Index = DefaultIndex
	}
	root, err := os.OpenRoot(m.docRoot)
	if err != nil {
		return fmt.Errorf("fastcgi %s: %w", m.Prefix, err)
	}
	m.root = root
	files, err := fileserver.New(m.docRoot, fileserver.Options{})
	if err != nil {
		return fmt.Errorf("fastcgi %s: %w", m.Prefix, err)
	}
	m.files = files
	for _, k := range slices.Sorted(maps.Keys(m.Env)) {
		m.envPairs = fcgi.AppendPair(m.envPairs, k, m.Env[k])
	}
	m.pool = newPool(env.Shared, m.Network, m.Address, m.MaxIdleConns)
	return nil
}

// Wrap returns the mount's handler. The router sends it only requests
// under the prefix.
func (m *Module) Wrap(next registry.Handler) registry.Handler {
	return registry.MountFunc(m.serveMount)
}

// Cleanup closes the pooled connections and the document root. Requests
// still running keep their connections until they end; those are closed
// then instead of pooled.
func (m *Module) Cleanup() error {
	var errs []error
	if m.pool != nil {
		m.pool.close()
	}
	if m.files != nil {
		errs = append(errs, m.files.Close())
	}
	if m.root != nil {
		errs = append(errs, m.root.Close())
	}
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("fastcgi %s: cleanup: %w", m.Prefix, err)
		}
	}
	return nil
}

// Describe says what the mount serves, for httpd -S.
func (m *Module) Describe() string {
	t := "none"
	if m.Timeout > 0 {
		t = m.Timeout.String()
	}
	fc := "none"
	if m.FrontController != "" {
		fc = m.FrontController
	}
	s := fmt.Sprintf("FastCGI %s (split_path %s, index %s, front_controller %s, timeout %s",
		m.To, strings.Join(m.SplitPath, " "), strings.Join(m.Index, " "), fc, t)
	if m.PassAuth {
		s += ", pass_auth"
	}
	return s + ")"
}

// filename is the file of the URL path p under document_root.
func (m *Module) filename(p string) string {
	return filepath.Join(m.docRoot, filepath.FromSlash(p))
}

var (
	_ registry.Module    = (*Module)(nil)
	_ registry.Validator = (*Module)(nil)
	_ registry.Cleaner   = (*Module)(nil)
	_ registry.Describer = (*Module)(nil)
)
