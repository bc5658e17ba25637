package conf

import (
	"fmt"
	"net"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"httpd/certs/redisstore"
	"httpd/registry"
)

// Storage is the top-level storage block: where a fleet of servers keeps
// what it shares (certificates, ACME accounts, OCSP staples, locks and
// session-ticket keys). Nil means each server keeps its own in data_dir.
// It is comparable: a reload compares it with the running one.
type Storage struct {
	Kind     string // "redis", the block's label
	Address  string // host:port or a Unix socket path
	Username string
	Password string
	DB       int
	Prefix   string
	TLS      bool
	DefRange hcl.Range
}

// StorageRedis is the one storage kind.
const StorageRedis = "redis"

var storageSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "address", Required: true}, {Name: "username"}, {Name: "password"},
		{Name: "db"}, {Name: "prefix"}, {Name: "tls"},
	},
}

func (d *decoder) decodeStorage(b *hcl.Block) hcl.Diagnostics {
	if b == nil {
		return nil
	}
	if kind := b.Labels[0]; kind != StorageRedis {
		detail := fmt.Sprintf("%q is not a storage this server knows; the one there is: %q.", kind, StorageRedis)
		if s := suggest(kind, []string{StorageRedis}); s != "" {
			detail += fmt.Sprintf(" Did you mean %q?", s)
		}
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unknown storage",
			Detail:   detail,
			Subject:  b.LabelRanges[0].Ptr(),
			Context:  b.DefRange.Ptr(),
		}}
	}
	s := &Storage{Kind: StorageRedis, Prefix: redisstore.DefaultPrefix, DefRange: b.DefRange}
	c, diags := b.Body.Content(storageSchema)
	var ds hcl.Diagnostics
	s.Address, ds = registry.String(c, "address", d.ectx, "")
	diags = append(diags, ds...)
	if a, ok := c.Attributes["address"]; ok && !ds.HasErrors() {
		if _, _, err := redisstore.SplitAddress(s.Address); err != nil {
			diags = append(diags, registry.AttrError(a, "Invalid storage address",
				strings.TrimPrefix(err.Error(), "redis: ")+`. Examples: "10.0.0.5:6379", "[fd00::5]:6379", "/run/redis/redis-server.sock".`))
		}
	}
	s.Username, ds = registry.String(c, "username", d.ectx, "")
	diags = append(diags, ds...)
	s.Password, ds = registry.String(c, "password", d.ectx, "")
	diags = append(diags, ds...)
	s.Prefix, ds = registry.String(c, "prefix", d.ectx, s.Prefix)
	diags = append(diags, ds...)
	if a, ok := c.Attributes["prefix"]; ok && !ds.HasErrors() {
		if s.Prefix == "" {
			diags = append(diags, registry.AttrError(a, "Invalid storage prefix",
				`prefix must not be empty: every key is written under it. Leave it out for "httpd", or name the fleet, like "prod-web".`))
		} else if err := redisstore.CheckPrefix(s.Prefix); err != nil {
			diags = append(diags, registry.AttrError(a, "Invalid storage prefix",
				strings.TrimPrefix(err.Error(), "redis: ")+` (":" separates the parts of each key in Redis); for example "prod-web".`))
		}
	}
	s.DB, ds = registry.Int(c, "db", d.ectx, 0, 0, 1<<16)
	diags = append(diags, ds...)
	s.TLS, ds = registry.Bool(c, "tls", d.ectx, false)
	diags = append(diags, ds...)
	if _, ok := c.Attributes["password"]; !ok && !diags.HasErrors() && !localAddress(s.Address) {
		w := &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Redis without a password",
			Detail: fmt.Sprintf("Redis at %s holds the private keys of the fleet's certificates and its session-ticket keys: "+
				`give it a password (requirepass) and set password = env("REDIS_PASSWORD").`, s.Address),
			Subject: b.DefRange.Ptr(),
		}
		diags = append(diags, w)
	}
	d.cfg.Storage = s
	return diags
}

// Changes names the settings that differ between s and o, in the
// block's order: "address", "username", "password", "db", "prefix",
// "tls"; or "storage block" when only one of them is set (nil is no
// block). Nothing when they are the same, wherever they are written.
func (s *Storage) Changes(o *Storage) []string {
	switch {
	case s == nil && o == nil:
		return nil
	case s == nil || o == nil:
		return []string{"storage block"}
	}
	var out []string
	for _, c := range []struct {
		name string
		diff bool
	}{
		{"kind", s.Kind != o.Kind},
		{"address", s.Address != o.Address},
		{"username", s.Username != o.Username},
		{"password", s.Password != o.Password},
		{"db", s.DB != o.DB},
		{"prefix", s.Prefix != o.Prefix},
		{"tls", s.TLS != o.TLS},
	} {
		if c.diff {
			out = append(out, c.name)
		}
	}
	return out
}

// localAddress reports whether a Redis address is on this machine: a Unix
// socket or a loopback address.
func localAddress(addr string) bool {
	if strings.HasPrefix(addr, "/") || strings.HasPrefix(addr, "unix:") {
		return true
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
