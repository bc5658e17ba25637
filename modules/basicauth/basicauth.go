package basicauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"httpd/internal/gateway"
	"httpd/registry"
)

func init() {
	registry.Register(registry.Info{
		Name:   "basic_auth",
		Labels: []string{"url_prefix"},
		Phase:  registry.PhaseAccess,
		Doc:    "ask for a user and password from an htpasswd file under a URL prefix (401)",
		New:    func() registry.Module { return new(Module) },
	})
}

var schema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "realm"},
		{Name: "htpasswd", Required: true},
		{Name: "cache"},
	},
}

// DefaultRealm is the realm of a block that names none.
const DefaultRealm = "Restricted"

// DefaultCache is how long a verified password is remembered by default.
const DefaultCache = 2 * time.Minute

// Module is one basic_auth block: requests under its URL prefix (the
// block's label) need the user and password of a line of its htpasswd
// file.
type Module struct {
	prefix     string
	Realm      string
	RealmRange hcl.Range
	// Htpasswd is the file's path, absolute; "" when Decode could not
	// read it.
	Htpasswd      string
	HtpasswdRange hcl.Range
	// Cache is how long a verified (user, password) pair is remembered;
	// 0 remembers none.
	Cache time.Duration

	challenge string // the WWW-Authenticate value
	users     *Users // set by Provision
	cache     *cache // nil when Cache is 0
	log       *slog.Logger
}

// Decode reads the block: htpasswd is the file of users, relative to
// server_root; realm names the protected area to the browser; cache is
// how long a verified password is remembered.
func (m *Module) Decode(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if len(b.Labels) > 0 {
		m.prefix = b.Labels[0]
		if d := registry.CheckPrefix(b); d != nil {
			diags = append(diags, d)
		}
	}
	content, d := b.Body.Content(schema)
	diags = append(diags, d...)

	m.Realm, d = registry.String(content, "realm", dc.Eval, DefaultRealm)
	diags = append(diags, d...)
	if a, ok := content.Attributes["realm"]; ok {
		m.RealmRange = a.Expr.Range()
		if !d.HasErrors() {
			if why := badRealm(m.Realm); why != "" {
				diags = append(diags, registry.AttrError(a, "Invalid realm", why))
				m.Realm = DefaultRealm
			}
		}
	}
	m.challenge = Challenge(m.Realm)

	file, d := registry.String(content, "htpasswd", dc.Eval, "")
	diags = append(diags, d...)
	if a, ok := content.Attributes["htpasswd"]; ok {
		m.HtpasswdRange = a.Expr.Range()
		if file == "" && !d.HasErrors() {
			diags = append(diags, registry.AttrError(a, "Empty htpasswd",
				`htpasswd names the file of users and password hashes, such as "conf/htpasswd" (relative to server_root); make it with: htpasswd -cB conf/htpasswd USER`))
		}
	}
	m.Htpasswd = dc.Path(file)

	m.Cache, d = registry.Duration(content, "cache", dc.Eval, DefaultCache)
	diags = append(diags, d...)
	return diags
}

// badRealm says why realm cannot be sent, or "".
func badRealm(realm string) string {
	if realm == "" {
		return `realm cannot be empty: browsers show it when they ask for the password, e.g. realm = "Admin".`
	}
	for i := 0; i < len(realm); i++ {
		if c := realm[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return fmt.Sprintf("%q holds a control character; write the realm as plain text.", realm)
		}
	}
	return ""
}

// Challenge is the WWW-Authenticate value for realm: Basic with the
// realm as a quoted string, '"' and '\' escaped.
func Challenge(realm string) string {
	var b strings.Builder
	b.WriteString(`Basic realm="`)
	for i := 0; i < len(realm); i++ {
		if realm[i] == '"' || realm[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(realm[i])
	}
	b.WriteByte('"')
	return b.String()
}

// Validate reads the htpasswd file, so that httpd -t reports a file that
// is missing, unreadable or has a bad line, with its path and line.
func (m *Module) Validate(dc *registry.DecodeContext) hcl.Diagnostics {
	if m.Htpasswd == "" {
		return nil
	}
	if _, err := Load(m.Htpasswd); err != nil {
		return hcl.Diagnostics{m.fileError(err)}
	}
	return nil
}

// fileError is the diagnostic for an htpasswd file that cannot be used.
func (m *Module) fileError(err error) *hcl.Diagnostic {
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Subject: m.HtpasswdRange.Ptr()}
	var le *LineError
	switch {
	case errors.As(err, &le):
		d.Summary = "Invalid htpasswd file"
		d.Detail = le.Error() + "."
	case errors.Is(err, os.ErrNotExist):
		d.Summary = "htpasswd file not found"
		d.Detail = fmt.Sprintf("%s does not exist; make it with: htpasswd -cB %s USER", m.Htpasswd, m.Htpasswd)
	default:
		d.Summary = "Cannot read the htpasswd file"
		d.Detail = err.Error() + "."
	}
	return d
}

// Provision reads the htpasswd file; a reload provisions a new module,
// so a changed file takes effect on SIGHUP.
func (m *Module) Provision(ctx context.Context, env *registry.Env) error {
	m.log = env.Logger
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	users, err := Load(m.Htpasswd)
	if err != nil {
		var le *LineError
		switch {
		case errors.As(err, &le):
			return fmt.Errorf("htpasswd %w", err)
		case errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("htpasswd: %w; make it with: htpasswd -cB %s USER", err, m.Htpasswd)
		}
		return fmt.Errorf("htpasswd: %w", err)
	}
	m.users = users
	if users.Len() == 0 {
		m.log.Warn("the htpasswd file has no users: every request under the prefix gets 401", "file", m.Htpasswd, "prefix", m.prefix)
	}
	if m.Cache > 0 {
		m.cache = newCache(m.Cache)
	}
	if m.challenge == "" {
		m.challenge = Challenge(m.Realm)
	}
	return nil
}

// Authenticate checks r's credentials and returns the user they name,
// or a 401 error saying why not.
func (m *Module) Authenticate(r *http.Request) (string, error) {
	user, password, ok := r.BasicAuth()
	if !ok {
		if r.Header.Get("Authorization") == "" {
			return "", registry.Errorf(http.StatusUnauthorized, "basic_auth %s: no credentials", m.prefix)
		}
		return "", registry.Errorf(http.StatusUnauthorized, "basic_auth %s: the Authorization header is not Basic credentials", m.prefix)
	}
	var k [32]byte
	var now time.Time
	if m.cache != nil {
		now = time.Now()
		k = m.cache.sum(user, password)
		if m.cache.hit(k, now) {
			return user, nil
		}
	}
	ok, known := m.users.Check(user, password)
	switch {
	case !known:
		return "", registry.Errorf(http.StatusUnauthorized, "basic_auth %s: user %q is not in %s", m.prefix, user, m.Htpasswd)
	case !ok:
		return "", registry.Errorf(http.StatusUnauthorized, "basic_auth %s: user %q: wrong password", m.prefix, user)
	}
	if m.cache != nil {
		m.cache.add(k, now)
	}
	return user, nil
}

// stage is the handler of one or more adjacent basic_auth blocks of a
// vhost: the block with the longest prefix matching the path decides.
type stage struct {
	blocks []*Module // longest prefix first
	next   registry.Handler
}

// Wrap returns the stage. When next is the stage of another basic_auth
// block, the two become one stage, so that of a vhost's basic_auth
// blocks only the most specific matching one asks, like Apache's most
// specific <Location>.
func (m *Module) Wrap(next registry.Handler) registry.Handler {
	s := &stage{blocks: []*Module{m}, next: next}
	if inner, ok := next.(*stage); ok {
		s.blocks = append(s.blocks, inner.blocks...)
		s.next = inner.next
		sort.SliceStable(s.blocks, func(i, j int) bool { return len(s.blocks[i].prefix) > len(s.blocks[j].prefix) })
	}
	return s
}

// ServeHTTP answers 401 with a challenge when the deciding block does not
// accept the request's credentials; otherwise the request goes on
// carrying the user for the gateways (REMOTE_USER, AUTH_TYPE). The
// Authorization header stays: gateways pass it only when told to.
func (s *stage) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	p := matchPath(r.URL.Path)
	for _, m := range s.blocks {
		if !registry.MatchPrefix(m.prefix, p) {
			continue
		}
		user, err := m.Authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", m.challenge)
			return err
		}
		r = gateway.WithUser(r, user, "Basic")
		break
	}
	return s.next.ServeHTTP(w, r)
}

// matchPath is the path the prefixes are matched against: the request's,
// cleaned of empty, "." and ".." segments (a trailing slash kept), so
// that "//admin/" or "/x/../admin/" cannot slip past "/admin/" to a
// stage that cleans the path itself.
func matchPath(p string) string {
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return p
	}
	c := path.Clean("/" + p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// Explain says whether the block asks the request for a password.
func (m *Module) Explain(r *http.Request, _ registry.Mount) registry.Explanation {
	if !registry.MatchPrefix(m.prefix, matchPath(r.URL.Path)) {
		return registry.Explanation{Says: fmt.Sprintf("basic_auth %s does not apply: the path is outside the prefix", m.prefix)}
	}
	if user, _, ok := r.BasicAuth(); ok {
		return registry.Explanation{Says: fmt.Sprintf("basic_auth %s: the password of user %q is checked against %s; a wrong one gets 401 Unauthorized, a right one goes on with REMOTE_USER=%s", m.prefix, user, m.Htpasswd, user)}
	}
	return registry.Explanation{
		Says:   fmt.Sprintf("basic_auth %s: the request has no credentials, so the answer is 401 Unauthorized with %s (users in %s)", m.prefix, Challenge(m.Realm), m.Htpasswd),
		Status: http.StatusUnauthorized,
		Ends:   true,
	}
}

// Describe says what the block does, for httpd -S.
func (m *Module) Describe() string {
	return fmt.Sprintf("basic_auth %s realm %q htpasswd %s", m.prefix, m.Realm, m.Htpasswd)
}

var (
	_ registry.Module    = (*Module)(nil)
	_ registry.Validator = (*Module)(nil)
	_ registry.Describer = (*Module)(nil)
	_ registry.Explainer = (*Module)(nil)
)
