package reverseproxy

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"httpd/registry"
)

// Defaults.
const (
	DefaultConnectTimeout        = 5 * time.Second
	DefaultResponseHeaderTimeout = 60 * time.Second
	DefaultIdleTimeout           = 90 * time.Second
	DefaultMaxIdleConns          = 64
	DefaultMaxFails              = 3
	DefaultFailTimeout           = 10 * time.Second
	DefaultHealthInterval        = 10 * time.Second
	DefaultHealthTimeout         = 5 * time.Second
)

// The load-balancing policies.
const (
	RoundRobin = "round_robin"
	LeastConn  = "least_conn"
	IPHash     = "ip_hash"
	First      = "first"
)

var policies = []string{RoundRobin, LeastConn, IPHash, First}

func init() {
	registry.Register(registry.Info{
		Name:   "reverse_proxy",
		Labels: []string{"url_prefix"},
		Phase:  registry.PhaseMount,
		Doc:    "HTTP servers behind a URL prefix, load-balanced and health-checked (like nginx's proxy_pass)",
		New:    func() registry.Module { return new(Module) },
	})
}

var schema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "to", Required: true},
		{Name: "lb_policy"},
		{Name: "strip_prefix"},
		{Name: "preserve_host"},
		{Name: "max_fails"},
		{Name: "fail_timeout"},
		{Name: "max_idle_conns"},
		{Name: "header_up"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "health_check"}, {Type: "timeout"}},
}

var healthSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "path", Required: true}, {Name: "interval"}, {Name: "timeout"}, {Name: "expect_status"},
	},
}

var timeoutSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "connect"}, {Name: "response_header"}, {Name: "idle"}},
}

// HealthCheck is the health_check block: an active check of every
// upstream.
type HealthCheck struct {
	Path         string        // request path, maybe with a query
	Interval     time.Duration // between checks
	Timeout      time.Duration // of one check
	ExpectStatus int           // the status a healthy upstream answers; 0 for any 2xx or 3xx
}

// Module is one reverse_proxy block: the HTTP servers requests under a
// URL prefix are passed to. Its methods follow the registry lifecycle;
// the handler Wrap returns is safe for concurrent use.
type Module struct {
	Prefix                string // URL prefix, the block's label
	To                    []string
	Policy                string
	StripPrefix           bool
	PreserveHost          bool
	MaxFails              int           // consecutive failures that take an upstream out; 0 never
	FailTimeout           time.Duration // how long such an upstream stays out
	MaxIdleConns          int           // idle connections kept per upstream
	ConnectTimeout        time.Duration
	ResponseHeaderTimeout time.Duration // 0 waits for ever
	IdleTimeout           time.Duration // of a kept connection
	HeaderUp              map[string]string
	Health                *HealthCheck // nil without active checks

	DefRange hcl.Range

	// Set by Decode.
	upstreams []*upstream

	// Set by Provision.
	log       *slog.Logger
	transport *http.Transport
	proxy     *httputil.ReverseProxy
	rr        atomic.Uint64 // round-robin position
	stop      context.CancelFunc
	wg        sync.WaitGroup // the health checker
	released  bool           // Cleanup gave the pools back
}

// Decode reads the block. A relative unix socket path is resolved
// against server_root.
func (m *Module) Decode(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	m.DefRange = b.DefRange
	if len(b.Labels) > 0 {
		m.Prefix = b.Labels[0]
	}
	m.Policy, m.PreserveHost = RoundRobin, true
	m.MaxFails, m.FailTimeout, m.MaxIdleConns = DefaultMaxFails, DefaultFailTimeout, DefaultMaxIdleConns
	m.ConnectTimeout, m.ResponseHeaderTimeout, m.IdleTimeout = DefaultConnectTimeout, DefaultResponseHeaderTimeout, DefaultIdleTimeout
	c, diags := b.Body.Content(schema)
	if c == nil {
		return diags
	}
	var ds hcl.Diagnostics

	diags = append(diags, m.decodeTo(c, dc)...)

	if a, ok := c.Attributes["lb_policy"]; ok {
		m.Policy, ds = registry.String(c, "lb_policy", dc.Eval, RoundRobin)
		diags = append(diags, ds...)
		if !ds.HasErrors() && !slices.Contains(policies, m.Policy) {
			detail := fmt.Sprintf("%q is not a load-balancing policy: write one of %s.", m.Policy, strings.Join(policies, ", "))
			if s := suggest(m.Policy, policies); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			}
			diags = append(diags, registry.AttrError(a, "Invalid lb_policy", detail))
			m.Policy = RoundRobin
		}
	}
	m.StripPrefix, ds = registry.Bool(c, "strip_prefix", dc.Eval, false)
	diags = append(diags, ds...)
	m.PreserveHost, ds = registry.Bool(c, "preserve_host", dc.Eval, true)
	diags = append(diags, ds...)
	m.MaxFails, ds = registry.Int(c, "max_fails", dc.Eval, DefaultMaxFails, 0, 1000)
	diags = append(diags, ds...)
	m.FailTimeout, ds = registry.Duration(c, "fail_timeout", dc.Eval, DefaultFailTimeout)
	diags = append(diags, ds...)
	m.MaxIdleConns, ds = registry.Int(c, "max_idle_conns", dc.Eval, DefaultMaxIdleConns, 0, 1<<14)
	diags = append(diags, ds...)
	m.HeaderUp, ds = registry.StringMap(c, "header_up", dc.Eval)
	diags = append(diags, ds...)
	if a, ok := c.Attributes["header_up"]; ok && !ds.HasErrors() {
		diags = append(diags, checkHeaderUp(a, m.HeaderUp)...)
	}

	seen := map[string]*hcl.Block{}
	for _, blk := range c.Blocks {
		if first, dup := seen[blk.Type]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate " + blk.Type + " block",
				Detail: fmt.Sprintf("A reverse_proxy block holds one %s block; the first is at %s:%d:%d. Merge the two.",
					blk.Type, first.DefRange.Filename, first.DefRange.Start.Line, first.DefRange.Start.Column),
				Subject: blk.DefRange.Ptr(),
				Context: b.DefRange.Ptr(),
			})
			continue
		}
		seen[blk.Type] = blk
		switch blk.Type {
		case "health_check":
			diags = append(diags, m.decodeHealth(blk, dc)...)
		case "timeout":
			diags = append(diags, m.decodeTimeout(blk, dc)...)
		}
	}
	return diags
}

// decodeTo reads the to attribute: one upstream or a list of them.
func (m *Module) decodeTo(c *hcl.BodyContent, dc *registry.DecodeContext) hcl.Diagnostics {
	a, ok := c.Attributes["to"]
	if !ok {
		return nil
	}
	v, _, diags := registry.Attr(c, "to", dc.Eval)
	if diags.HasErrors() || v == cty.NilVal {
		return diags
	}
	if v.Type() == cty.String {
		m.To = []string{v.AsString()}
	} else {
		m.To, diags = registry.StringList(c, "to", dc.Eval, nil)
		if diags.HasErrors() {
			return diags
		}
	}
	if len(m.To) == 0 {
		return hcl.Diagnostics{registry.AttrError(a, "No upstream",
			`to lists the servers to pass requests to, such as ["http://127.0.0.1:9001"]; it cannot be empty.`)}
	}
	seen := map[string]bool{}
	for i, to := range m.To {
		u, why := parseUpstream(to, i)
		if why != "" {
			diags = append(diags, registry.AttrError(a, "Invalid upstream", why))
			continue
		}
		if u.network == "unix" {
			u.addr = dc.Path(u.addr)
		}
		key := u.scheme + " " + u.network + " " + u.addr + " " + u.path
		if seen[key] {
			diags = append(diags, registry.AttrError(a, "Duplicate upstream", fmt.Sprintf("%q is listed twice.", to)))
			continue
		}
		seen[key] = true
		m.upstreams = append(m.upstreams, u)
	}
	return diags
}

// parseUpstream reads one entry of to: "http://HOST[:PORT][/PATH]",
// "https://...", or "unix:/PATH" (also "unix:///PATH"). why says what is
// wrong, or is "". i numbers the upstream, to name a socket's host.
func parseUpstream(to string, i int) (u *upstream, why string) {
	const hint = `write "http://127.0.0.1:9001", "https://app.internal" or "unix:/run/app.sock"`
	if p, ok := strings.CutPrefix(to, "unix:"); ok {
		p = strings.TrimPrefix(p, "//")
		if p == "" || strings.ContainsRune(p, 0) || strings.HasPrefix(p, "//") {
			return nil, fmt.Sprintf("%q names no socket: %s.", to, hint)
		}
		host := "unix-" + strconv.Itoa(i) + ".invalid"
		return &upstream{to: to, scheme: "http", host: host, hostHeader: "localhost", network: "unix", addr: p, health: new(health)}, ""
	}
	scheme, rest, ok := strings.Cut(to, "://")
	if !ok {
		if _, _, err := net.SplitHostPort(to); err == nil {
			return nil, fmt.Sprintf("%q has no scheme: did you mean \"http://%s\"?", to, to)
		}
		if strings.HasPrefix(to, "/") {
			return nil, fmt.Sprintf("%q has no scheme: did you mean \"unix:%s\"?", to, to)
		}
		return nil, fmt.Sprintf("%q is not an upstream: %s.", to, hint)
	}
	switch strings.ToLower(scheme) {
	case "http", "https":
	case "tcp":
		return nil, fmt.Sprintf("%q: reverse_proxy speaks HTTP: did you mean \"http://%s\"?", to, rest)
	case "ws", "wss":
		return nil, fmt.Sprintf("%q: WebSocket requests pass through an http:// or https:// upstream as they are: write \"http%s://%s\".",
			to, strings.TrimPrefix(strings.ToLower(scheme), "ws"), rest)
	case "fastcgi", "fcgi":
		return nil, fmt.Sprintf("%q: a FastCGI responder is no HTTP server: use a fastcgi block.", to)
	default:
		return nil, fmt.Sprintf("%q: the scheme %q is not one reverse_proxy speaks: %s.", to, scheme, hint)
	}
	pu, err := url.Parse(to)
	if err != nil {
		return nil, fmt.Sprintf("%q is not a URL: %v.", to, err)
	}
	switch {
	case pu.Host == "" || pu.Hostname() == "":
		return nil, fmt.Sprintf("%q names no host: %s.", to, hint)
	case pu.User != nil:
		return nil, fmt.Sprintf("%q holds a user name: credentials do not go in to; set an Authorization header with header_up.", to)
	case pu.RawQuery != "" || pu.ForceQuery || pu.Fragment != "":
		return nil, fmt.Sprintf("%q holds a query or fragment: an upstream is a scheme, host, port and at most a path.", to)
	}
	if p := pu.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Sprintf("%q: the port must be a number from 1 to 65535.", to)
		}
	}
	scheme = strings.ToLower(pu.Scheme)
	port := pu.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	u = &upstream{
		to: to, scheme: scheme, host: pu.Host, hostHeader: pu.Host,
		network: "tcp", addr: net.JoinHostPort(pu.Hostname(), port),
		path: strings.TrimSuffix(pu.Path, "/"), rawPath: strings.TrimSuffix(pu.EscapedPath(), "/"),
		health: new(health),
	}
	return u, ""
}

func (m *Module) decodeHealth(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	c, diags := b.Body.Content(healthSchema)
	if c == nil {
		return diags
	}
	h := &HealthCheck{}
	var ds hcl.Diagnostics
	h.Path, ds = registry.String(c, "path", dc.Eval, "/")
	diags = append(diags, ds...)
	if a, ok := c.Attributes["path"]; ok && !ds.HasErrors() &&
		(!strings.HasPrefix(h.Path, "/") || strings.ContainsAny(h.Path, " #\x00\r\n")) {
		diags = append(diags, registry.AttrError(a, "Invalid health_check path",
			fmt.Sprintf("%q must be a URL path starting with \"/\", like \"/healthz\", maybe with a query.", h.Path)))
	}
	h.Interval, ds = registry.Duration(c, "interval", dc.Eval, DefaultHealthInterval)
	diags = append(diags, ds...)
	if a, ok := c.Attributes["interval"]; ok && !ds.HasErrors() && h.Interval < 100*time.Millisecond {
		diags = append(diags, registry.AttrError(a, "Invalid health_check interval", `interval must be at least "100ms", such as "5s".`))
		h.Interval = DefaultHealthInterval
	}
	h.Timeout, ds = registry.Duration(c, "timeout", dc.Eval, min(DefaultHealthTimeout, h.Interval))
	diags = append(diags, ds...)
	if a, ok := c.Attributes["timeout"]; ok && !ds.HasErrors() && h.Timeout <= 0 {
		diags = append(diags, registry.AttrError(a, "Invalid health_check timeout", `timeout must be more than zero, such as "2s".`))
	}
	h.ExpectStatus, ds = registry.Int(c, "expect_status", dc.Eval, 0, 100, 599)
	diags = append(diags, ds...)
	m.Health = h
	return diags
}

func (m *Module) decodeTimeout(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	c, diags := b.Body.Content(timeoutSchema)
	if c == nil {
		return diags
	}
	var ds hcl.Diagnostics
	m.ConnectTimeout, ds = registry.Duration(c, "connect", dc.Eval, DefaultConnectTimeout)
	diags = append(diags, ds...)
	m.ResponseHeaderTimeout, ds = registry.Duration(c, "response_header", dc.Eval, DefaultResponseHeaderTimeout)
	diags = append(diags, ds...)
	m.IdleTimeout, ds = registry.Duration(c, "idle", dc.Eval, DefaultIdleTimeout)
	diags = append(diags, ds...)
	return diags
}

// checkHeaderUp refuses header names that are not tokens and the
// headers the proxy owns.
func checkHeaderUp(a *hcl.Attribute, h map[string]string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for k, v := range h {
		ck := http.CanonicalHeaderKey(k)
		switch {
		case k == "" || !isToken(k):
			diags = append(diags, registry.AttrError(a, "Invalid header_up", fmt.Sprintf("%q is not a header name.", k)))
		case ownHeaders[ck]:
			diags = append(diags, registry.AttrError(a, "Invalid header_up",
				fmt.Sprintf("%s is set by the proxy itself (see server.trusted_proxies): it cannot be set here.", ck)))
		case strings.ContainsAny(v, "\r\n\x00"):
			diags = append(diags, registry.AttrError(a, "Invalid header_up", fmt.Sprintf("the value of %s holds a line break or NUL.", ck)))
		default:
			rest := v
			for _, p := range placeholders {
				rest = strings.ReplaceAll(rest, p, "")
			}
			if i := strings.IndexByte(rest, '{'); i >= 0 {
				if j := strings.IndexByte(rest[i:], '}'); j > 0 {
					diags = append(diags, registry.AttrError(a, "Invalid header_up",
						fmt.Sprintf("the value of %s holds the unknown placeholder %s: known are %s.", ck, rest[i:i+j+1], strings.Join(placeholders, ", "))))
				}
			}
		}
	}
	return diags
}

// ownHeaders are the request headers the proxy sets or removes itself.
var ownHeaders = map[string]bool{
	"X-Forwarded-For": true, "X-Forwarded-Proto": true, "X-Forwarded-Host": true, "Forwarded": true,
	"Connection": true, "Upgrade": true, "Te": true, "Trailer": true, "Transfer-Encoding": true,
	"Keep-Alive": true, "Proxy-Connection": true, "Content-Length": true, "Host": true,
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// Provision makes the connection pool and starts the health checker. It
// does not connect: upstreams may start after the server.
func (m *Module) Provision(ctx context.Context, env *registry.Env) error {
	m.log = env.Logger
	if m.log == nil {
		m.log = slog.Default()
	}
	if len(m.upstreams) == 0 {
		return fmt.Errorf("reverse_proxy %s: no upstream", m.Prefix)
	}
	if m.Policy == "" {
		m.Policy = RoundRobin
	}
	m.transport = m.newTransport()
	m.provisionUpstreams(env.Shared)
	m.proxy = &httputil.ReverseProxy{
		Rewrite:        m.rewrite,
		Transport:      roundTripper{m},
		FlushInterval:  -1,
		ErrorLog:       log.New(io.Discard, "", 0),
		BufferPool:     bufferPool{},
		ErrorHandler:   m.errorHandler,
		ModifyResponse: m.modifyResponse,
	}
	if m.Health != nil {
		hctx, cancel := context.WithCancel(context.Background())
		m.stop = cancel
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.checkHealth(hctx, env.Kill)
		}()
	}
	return nil
}

// Wrap returns the mount's handler. The router sends it only requests
// under the prefix.
func (m *Module) Wrap(next registry.Handler) registry.Handler {
	return registry.MountFunc(m.serveMount)
}

// Cleanup stops the health checker and closes idle connections, unless
// the next generation keeps the same upstream, which then keeps them.
// Requests still running keep theirs until they end.
func (m *Module) Cleanup() error {
	if m.stop != nil {
		m.stop()
		m.wg.Wait()
	}
	if m.transport != nil {
		m.transport.CloseIdleConnections()
	}
	if !m.released {
		m.released = true
		for _, u := range m.upstreams {
			if u.pool != nil {
				u.pool.Release()
			}
		}
	}
	return nil
}

// Describe says what the mount serves, for httpd -S.
func (m *Module) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "proxy to %s (%s", strings.Join(m.To, ", "), m.Policy)
	if m.StripPrefix {
		b.WriteString(", strip_prefix")
	}
	if !m.PreserveHost {
		b.WriteString(", upstream Host")
	}
	if m.Health != nil {
		fmt.Fprintf(&b, ", health %s every %s", m.Health.Path, m.Health.Interval)
	}
	if m.MaxFails > 0 {
		fmt.Fprintf(&b, ", out %s after %d failures", m.FailTimeout, m.MaxFails)
	}
	rh := "none"
	if m.ResponseHeaderTimeout > 0 {
		rh = m.ResponseHeaderTimeout.String()
	}
	fmt.Fprintf(&b, ", connect %s, response_header %s)", m.ConnectTimeout, rh)
	return b.String()
}

// suggest returns the choice closest to s, if one is close.
func suggest(s string, choices []string) string {
	best, bestDist := "", 4
	for _, c := range choices {
		if d := levenshtein.Distance(strings.ToLower(s), c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// bufferPool lends ReverseProxy its copy buffers.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }

var (
	_ registry.Module     = (*Module)(nil)
	_ registry.Cleaner    = (*Module)(nil)
	_ registry.Describer  = (*Module)(nil)
	_ httputil.BufferPool = bufferPool{}
)
