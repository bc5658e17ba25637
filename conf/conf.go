package conf

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"httpd/internal/forwarded"
	"httpd/registry"
)

// Config is a decoded httpd.hcl.
type Config struct {
	File       string // absolute path of the config file
	ServerRoot string // absolute
	Server     Server
	Log        Log
	ACME       ACME
	Storage    *Storage // nil: no storage block, each server keeps its own in data_dir
	VHosts     []*VHost
	// Includes are the files the include attributes read, in the order
	// they were read.
	Includes []string

	// Files holds the parsed sources, for printing diagnostics with
	// source snippets.
	Files map[string]*hcl.File
}

// Server is the server block.
type Server struct {
	Listen          []string
	DataDir         string // absolute
	ShutdownTimeout time.Duration
	User            string
	Group           string
	Limits          Limits
	// HTTP1Engine serves HTTP/1.x on every listener, plain and TLS:
	// EngineNative (vhost/h1, the default) or EngineNetHTTP, which has
	// Go's net/http server run the whole listener (TLS handshake and
	// h2c included), as an opt-out and the benchmark's baseline.
	HTTP1Engine string
	// HTTP2Engine serves HTTP/2 negotiated by ALPN on TLS listeners:
	// EngineNative (vhost/h2, the default) or EngineNetHTTP. h2c goes to
	// vhost/h2 unless HTTP1Engine is EngineNetHTTP.
	HTTP2Engine string
	TLS         ServerTLS
	// TrustedProxies are the peers whose X-Forwarded-For, Forwarded and
	// X-Forwarded-* headers are believed (see package
	// internal/forwarded); empty, no one's are.
	TrustedProxies []netip.Prefix
}

// ServerTLS is the server.tls block: settings every TLS listener shares.
type ServerTLS struct {
	// SessionTickets lets clients resume TLS 1.3 and 1.2 sessions with
	// tickets. It is read when a listener opens.
	SessionTickets bool
	// TicketRotation is how often a new ticket key is made; each key
	// keeps decrypting for a few rotations more.
	TicketRotation time.Duration
	// PostQuantum offers the hybrid key exchange X25519MLKEM768, which
	// clients that offer it get. Off, handshakes use X25519 (or P-256,
	// P-384) only: cheaper, but not safe from a later quantum computer.
	// It is read when a listener opens.
	PostQuantum bool
}

// DefaultTicketRotation is server.tls.ticket_rotation's default.
const DefaultTicketRotation = 12 * time.Hour

// The values of server.http1_engine and server.http2_engine.
const (
	EngineNative  = "native"
	EngineNetHTTP = "net/http"
)

// Limits is the server.limits block.
type Limits struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration // whole request, 0 = none
	WriteTimeout      time.Duration // whole response, 0 = none
	IdleTimeout       time.Duration
	MaxHeaderBytes    int64
	MaxBodyBytes      int64 // 0 = unlimited
}

// Log is the log block.
type Log struct {
	Access string // a path, "stdout", "stderr" or "off"
	Format string // common | combined | json
	Error  string // a path, "stdout" or "stderr"
	Level  string // debug | info | warn | error
	// ErrorFormat is the error log's format: "text" (slog's key=value
	// lines) or "json" (one slog JSON object per line).
	ErrorFormat string
}

// ACME is the acme block.
type ACME struct {
	Email  string
	CA     string
	CARoot string
}

// TLS modes of a vhost.
const (
	TLSOff      = "off"
	TLSAuto     = "auto"
	TLSInternal = "internal"
	TLSFiles    = "files" // tls { cert, key }
)

// TLS is a vhost's TLS setting.
type TLS struct {
	Mode  string
	Cert  string // absolute, for TLSFiles
	Key   string
	Range hcl.Range
}

// Listener is one address a vhost answers on.
type Listener struct {
	Addr  string // host:port as given to net.Listen
	TLS   bool
	Range hcl.Range
}

// VHost is one vhost block.
type VHost struct {
	Name         string
	Aliases      []string
	Listeners    []Listener
	Default      bool
	DocumentRoot string // absolute, "" for none
	TLS          TLS
	H2C          bool
	Modules      []*ModuleBlock
	DefRange     hcl.Range
}

// Names returns the vhost's name followed by its aliases.
func (v *VHost) Names() []string {
	return append([]string{v.Name}, v.Aliases...)
}

// ModuleBlock is one decoded module block of a vhost.
type ModuleBlock struct {
	Info     *registry.Info
	Module   registry.Module
	Labels   []string
	DefRange hcl.Range
}

// Prefix returns a mount's URL prefix (its first label), or "".
func (m *ModuleBlock) Prefix() string {
	if m.Info.Phase != registry.PhaseMount || len(m.Labels) == 0 {
		return ""
	}
	return m.Labels[0]
}

// Defaults.
const (
	DefaultListen          = ":8080"
	DefaultShutdownTimeout = 10 * time.Second
	DefaultDataDir         = "var"
	DefaultACMECA          = "https://acme-v02.api.letsencrypt.org/directory"
)

// Load reads and decodes the config file at path.
func Load(path string) (*Config, hcl.Diagnostics) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	src, err := os.ReadFile(abs)
	if err != nil {
		return &Config{File: abs}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read config file",
			Detail:   fmt.Sprintf("%s. Give the config with -f FILE, or run httpd from the folder that holds conf/httpd.hcl.", err),
		}}
	}
	return Parse(src, path, filepath.Dir(abs))
}

// Parse decodes config source. filename is used in diagnostics; dir is
// the folder a relative server_root is resolved against.
func Parse(src []byte, filename, dir string) (*Config, hcl.Diagnostics) {
	p := hclparse.NewParser()
	file, diags := p.ParseHCL(src, filename)
	cfg := &Config{File: filename, Files: p.Files()}
	if diags.HasErrors() {
		return cfg, diags
	}
	d := decoder{cfg: cfg, ectx: evalContext(), dir: dir, parser: p, included: map[string]hcl.Range{}}
	diags = append(diags, d.decode(file.Body)...)
	return cfg, diags
}

// evalContext holds the functions a config may call.
func evalContext() *hcl.EvalContext {
	return &hcl.EvalContext{
		Functions: map[string]function.Function{
			"env": function.New(&function.Spec{
				Description: "Reads an environment variable; empty when unset.",
				Params:      []function.Parameter{{Name: "name", Type: cty.String}},
				Type:        function.StaticReturnType(cty.String),
				Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
					return cty.StringVal(os.Getenv(args[0].AsString())), nil
				},
			}),
		},
	}
}

type decoder struct {
	cfg  *Config
	ectx *hcl.EvalContext
	dir  string
	// parser reads the included files too, so that Config.Files holds
	// them for diagnostics.
	parser *hclparse.Parser
	// included maps each included file (canonical path) to the include
	// entry that read it.
	included map[string]hcl.Range
}

var rootSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "server_root"}, {Name: "include"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "server"},
		{Type: "log"},
		{Type: "acme"},
		{Type: "storage", LabelNames: []string{"kind"}},
		{Type: "vhost", LabelNames: []string{"name"}},
	},
}

func (d *decoder) decode(body hcl.Body) hcl.Diagnostics {
	content, diags := body.Content(rootSchema)
	cfg := d.cfg

	root, ds := registry.String(content, "server_root", d.ectx, "")
	diags = append(diags, ds...)
	switch {
	case root == "":
		cfg.ServerRoot = d.dir
	case filepath.IsAbs(root):
		cfg.ServerRoot = filepath.Clean(root)
	default:
		cfg.ServerRoot = filepath.Join(d.dir, root)
	}
	if abs, err := filepath.Abs(cfg.ServerRoot); err == nil {
		cfg.ServerRoot = abs
	}
	if st, err := os.Stat(cfg.ServerRoot); err != nil || !st.IsDir() {
		diag := &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "server_root is not a folder",
			Detail:   fmt.Sprintf("%s does not exist or is not a directory; a relative server_root is resolved against the folder holding the config file.", cfg.ServerRoot),
		}
		if a, ok := content.Attributes["server_root"]; ok {
			diag.Subject = a.Expr.Range().Ptr()
		}
		diags = append(diags, diag)
	}

	blocks, ds := d.includes(content, []string{canonical(cfg.File)})
	diags = append(diags, ds...)
	once := map[string]*hcl.Block{}
	var vhostBlocks []*hcl.Block
	for _, b := range blocks {
		if b.Type == "vhost" {
			vhostBlocks = append(vhostBlocks, b)
			continue
		}
		if prev, dup := once[b.Type]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate " + b.Type + " block",
				Detail:   fmt.Sprintf("Only one %s block is allowed; the first is at %s. Merge the two.", b.Type, rangeString(prev.DefRange)),
				Subject:  b.DefRange.Ptr(),
			})
			continue
		}
		once[b.Type] = b
	}
	diags = append(diags, d.decodeServer(once["server"])...)
	diags = append(diags, d.decodeLog(once["log"])...)
	diags = append(diags, d.decodeACME(once["acme"])...)
	diags = append(diags, d.decodeStorage(once["storage"])...)
	for _, b := range vhostBlocks {
		diags = append(diags, d.decodeVHost(b)...)
	}
	if len(vhostBlocks) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No vhost block",
			Detail:   `The config defines no site. Add one, for example: vhost "localhost" { document_root = "htdocs" }`,
			Subject:  body.MissingItemRange().Ptr(),
		})
	}
	diags = append(diags, checkVHosts(cfg.VHosts)...)
	return diags
}

// path resolves p against server_root, as modules do.
func (d *decoder) path(p string) string {
	return (&registry.DecodeContext{ServerRoot: d.cfg.ServerRoot}).Path(p)
}

var serverSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "listen"}, {Name: "data_dir"}, {Name: "shutdown_timeout"}, {Name: "user"}, {Name: "group"},
		{Name: "http1_engine"}, {Name: "http2_engine"}, {Name: "trusted_proxies"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "limits"}, {Type: "tls"}},
}

var serverTLSSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "session_tickets"}, {Name: "ticket_rotation"}, {Name: "post_quantum"}},
}

var limitsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "read_header_timeout"}, {Name: "read_timeout"}, {Name: "write_timeout"},
		{Name: "idle_timeout"}, {Name: "max_header_bytes"}, {Name: "max_body_bytes"},
	},
}

func (d *decoder) decodeServer(b *hcl.Block) hcl.Diagnostics {
	s := &d.cfg.Server
	s.Listen = []string{DefaultListen}
	s.DataDir = d.path(DefaultDataDir)
	s.ShutdownTimeout = DefaultShutdownTimeout
	s.HTTP1Engine = EngineNative
	s.HTTP2Engine = EngineNative
	s.Limits = Limits{
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		MaxBodyBytes:      100 << 20,
	}
	s.TLS = ServerTLS{SessionTickets: true, TicketRotation: DefaultTicketRotation, PostQuantum: true}
	if b == nil {
		return nil
	}
	c, diags := b.Body.Content(serverSchema)
	var ds hcl.Diagnostics
	s.Listen, ds = registry.StringList(c, "listen", d.ectx, s.Listen)
	diags = append(diags, ds...)
	if a, ok := c.Attributes["listen"]; ok && len(s.Listen) == 0 {
		diags = append(diags, registry.AttrError(a, "Empty listen", `server.listen needs at least one address, such as ":8080".`))
	}
	var dataDir string
	dataDir, ds = registry.String(c, "data_dir", d.ectx, DefaultDataDir)
	diags = append(diags, ds...)
	s.DataDir = d.path(dataDir)
	s.ShutdownTimeout, ds = registry.Duration(c, "shutdown_timeout", d.ectx, s.ShutdownTimeout)
	diags = append(diags, ds...)
	s.User, ds = registry.String(c, "user", d.ectx, "")
	diags = append(diags, ds...)
	s.Group, ds = registry.String(c, "group", d.ectx, "")
	diags = append(diags, ds...)
	s.HTTP1Engine, ds = oneOf(c, "http1_engine", d.ectx, s.HTTP1Engine, EngineNative, EngineNetHTTP)
	diags = append(diags, ds...)
	s.HTTP2Engine, ds = oneOf(c, "http2_engine", d.ectx, s.HTTP2Engine, EngineNative, EngineNetHTTP)
	diags = append(diags, ds...)
	s.TrustedProxies, ds = d.trustedProxies(c)
	diags = append(diags, ds...)
	var tlsBlock *hcl.Block
	for _, lb := range c.Blocks {
		if lb.Type == "tls" {
			if tlsBlock != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate tls block",
					Detail:   fmt.Sprintf("The server block holds one tls block; the first is at %s. Merge the two.", rangeString(tlsBlock.DefRange)),
					Subject:  lb.DefRange.Ptr(),
				})
				continue
			}
			tlsBlock = lb
			diags = append(diags, d.decodeServerTLS(lb)...)
			continue
		}
		lc, ds := lb.Body.Content(limitsSchema)
		diags = append(diags, ds...)
		l := &s.Limits
		for _, t := range []struct {
			name string
			dst  *time.Duration
		}{
			{"read_header_timeout", &l.ReadHeaderTimeout}, {"read_timeout", &l.ReadTimeout},
			{"write_timeout", &l.WriteTimeout}, {"idle_timeout", &l.IdleTimeout},
		} {
			*t.dst, ds = registry.Duration(lc, t.name, d.ectx, *t.dst)
			diags = append(diags, ds...)
		}
		l.MaxHeaderBytes, ds = registry.Size(lc, "max_header_bytes", d.ectx, l.MaxHeaderBytes)
		diags = append(diags, ds...)
		if a, ok := lc.Attributes["max_header_bytes"]; ok && !ds.HasErrors() && (l.MaxHeaderBytes < 1024 || l.MaxHeaderBytes > 16<<20) {
			diags = append(diags, registry.AttrError(a, "Invalid value for max_header_bytes", `max_header_bytes must be between "1KiB" and "16MiB".`))
		}
		l.MaxBodyBytes, ds = registry.Size(lc, "max_body_bytes", d.ectx, l.MaxBodyBytes)
		diags = append(diags, ds...)
	}
	return diags
}

// trustedProxies reads server.trusted_proxies: CIDRs, or single
// addresses. A bad entry's diagnostic points at the entry itself when
// the list is written out in the file.
func (d *decoder) trustedProxies(c *hcl.BodyContent) ([]netip.Prefix, hcl.Diagnostics) {
	list, diags := registry.StringList(c, "trusted_proxies", d.ectx, nil)
	if diags.HasErrors() || len(list) == 0 {
		return nil, diags
	}
	a := c.Attributes["trusted_proxies"]
	var elems []hclsyntax.Expression
	if tc, ok := a.Expr.(*hclsyntax.TupleConsExpr); ok && len(tc.Exprs) == len(list) {
		elems = tc.Exprs
	}
	var out []netip.Prefix
	for i, s := range list {
		p, err := forwarded.ParsePrefix(strings.TrimSpace(s))
		if err == nil {
			out = append(out, p)
			continue
		}
		d := registry.AttrError(a, "Invalid trusted proxy",
			fmt.Sprintf("%q is not a CIDR or an IP address: write networks such as \"10.0.0.0/8\" or \"fd00::/8\", or single addresses such as \"127.0.0.1\".", s))
		if elems != nil {
			d.Subject = elems[i].Range().Ptr()
		}
		diags = append(diags, d)
	}
	return out, diags
}

// maxTicketRotation bounds server.tls.ticket_rotation: a ticket key
// that lives longer than a week weakens forward secrecy for nothing,
// since crypto/tls resumes no session older than that anyway.
const maxTicketRotation = 7 * 24 * time.Hour

func (d *decoder) decodeServerTLS(b *hcl.Block) hcl.Diagnostics {
	t := &d.cfg.Server.TLS
	c, diags := b.Body.Content(serverTLSSchema)
	var ds hcl.Diagnostics
	t.SessionTickets, ds = registry.Bool(c, "session_tickets", d.ectx, t.SessionTickets)
	diags = append(diags, ds...)
	t.PostQuantum, ds = registry.Bool(c, "post_quantum", d.ectx, t.PostQuantum)
	diags = append(diags, ds...)
	t.TicketRotation, ds = registry.Duration(c, "ticket_rotation", d.ectx, t.TicketRotation)
	diags = append(diags, ds...)
	if a, ok := c.Attributes["ticket_rotation"]; ok && !ds.HasErrors() && (t.TicketRotation < time.Minute || t.TicketRotation > maxTicketRotation) {
		diags = append(diags, registry.AttrError(a, "Invalid value for ticket_rotation",
			`ticket_rotation must be between "1m" and "168h" (a week); "12h", the default, suits most servers. To turn resumption off, set session_tickets = false.`))
		t.TicketRotation = DefaultTicketRotation
	}
	return diags
}

var logSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "access"}, {Name: "format"}, {Name: "error"}, {Name: "level"}, {Name: "error_format"}},
}

func (d *decoder) decodeLog(b *hcl.Block) hcl.Diagnostics {
	l := &d.cfg.Log
	*l = Log{Access: "stdout", Format: "combined", Error: "stderr", Level: "info", ErrorFormat: "text"}
	if b == nil {
		return nil
	}
	c, diags := b.Body.Content(logSchema)
	var ds hcl.Diagnostics
	l.Access, ds = registry.String(c, "access", d.ectx, l.Access)
	diags = append(diags, ds...)
	l.Error, ds = registry.String(c, "error", d.ectx, l.Error)
	diags = append(diags, ds...)
	for _, p := range []*string{&l.Access, &l.Error} {
		switch *p {
		case "stdout", "stderr", "off", "":
		default:
			*p = d.path(*p)
		}
	}
	if a, ok := c.Attributes["error"]; ok && (l.Error == "off" || l.Error == "") {
		diags = append(diags, registry.AttrError(a, "Invalid error log", `The error log cannot be turned off: give a path, "stdout" or "stderr".`))
	}
	l.Format, ds = oneOf(c, "format", d.ectx, l.Format, "common", "combined", "json")
	diags = append(diags, ds...)
	l.Level, ds = oneOf(c, "level", d.ectx, l.Level, "debug", "info", "warn", "error")
	diags = append(diags, ds...)
	l.ErrorFormat, ds = oneOf(c, "error_format", d.ectx, l.ErrorFormat, "text", "json")
	diags = append(diags, ds...)
	return diags
}

var acmeSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "email"}, {Name: "ca"}, {Name: "ca_root"}},
}

func (d *decoder) decodeACME(b *hcl.Block) hcl.Diagnostics {
	a := &d.cfg.ACME
	a.CA = DefaultACMECA
	if b == nil {
		return nil
	}
	c, diags := b.Body.Content(acmeSchema)
	var ds hcl.Diagnostics
	a.Email, ds = registry.String(c, "email", d.ectx, "")
	diags = append(diags, ds...)
	a.CA, ds = registry.String(c, "ca", d.ectx, a.CA)
	diags = append(diags, ds...)
	var root string
	root, ds = registry.String(c, "ca_root", d.ectx, "")
	diags = append(diags, ds...)
	if root != "" {
		a.CARoot = d.path(root)
		if _, err := os.Stat(a.CARoot); err != nil {
			diags = append(diags, registry.AttrError(c.Attributes["ca_root"], "Cannot read acme.ca_root", err.Error()+"."))
		}
	}
	return diags
}

// oneOf reads a string attribute that must be one of choices.
func oneOf(c *hcl.BodyContent, name string, ectx *hcl.EvalContext, def string, choices ...string) (string, hcl.Diagnostics) {
	v, diags := registry.String(c, name, ectx, def)
	if diags.HasErrors() {
		return def, diags
	}
	for _, ch := range choices {
		if v == ch {
			return v, nil
		}
	}
	detail := fmt.Sprintf("%s must be one of %s.", name, quoteList(choices))
	if s := suggest(v, choices); s != "" {
		detail += fmt.Sprintf(" Did you mean %q?", s)
	}
	return def, hcl.Diagnostics{registry.AttrError(c.Attributes[name], "Invalid value for "+name, detail)}
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// rangeString renders a range as file:line:col.
func rangeString(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// splitAddr checks a listen address and returns it in the form net.Listen
// takes, with the scheme it was written with ("", "http" or "https").
func splitAddr(s string) (addr, scheme string, err error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		scheme, rest = "", s
	} else if scheme != "http" && scheme != "https" {
		return "", "", fmt.Errorf("the scheme %q is not http or https", scheme)
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		return "", "", fmt.Errorf(`%q is not an address: write ":8080", "127.0.0.1:8080", "[::1]:8080" or "https://:443"`, s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return "", "", fmt.Errorf("%q has no valid port (0-65535)", s)
	}
	if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		return "", "", fmt.Errorf("%q: listen on an IP address (or localhost), not a name; names go in vhost and aliases", s)
	}
	return net.JoinHostPort(host, port), scheme, nil
}
