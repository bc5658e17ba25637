package vhost

import (
	"strings"
	"testing"

	"httpd/conf"
)

// testTable builds a host table the way build does, from vhosts given as
// name, aliases and default flag, in declaration order.
func testTable(vhosts ...*conf.VHost) (*hostTable, map[*site]string) {
	t := newHostTable()
	names := map[*site]string{}
	for _, v := range vhosts {
		s := &site{v: v}
		names[s] = v.Name
		t.add(s, v.Names(), v.Default)
	}
	return t, names
}

func vh(name string, def bool, aliases ...string) *conf.VHost {
	return &conf.VHost{Name: name, Aliases: aliases, Default: def}
}

func TestHostMatch(t *testing.T) {
	table, names := testTable(
		vh("first.test", false),
		vh("example.com", false, "www.example.com", "*.example.org", "[::1]", "127.0.0.1"),
		vh("wild.test", false, "*.example.org.uk", "*.b.example.org"),
		vh("fallback.test", true),
	)
	noDefault, noDefaultNames := testTable(vh("first.test", false), vh("second.test", false, "*.second.test"))
	tests := []struct {
		name  string
		table *hostTable
		host  string
		want  string
	}{
		{"exact", table, "example.com", "example.com"},
		{"alias", table, "www.example.com", "example.com"},
		{"case", table, "WWW.Example.COM", "example.com"},
		{"port", table, "example.com:8080", "example.com"},
		{"trailing dot", table, "example.com.", "example.com"},
		{"trailing dot and port", table, "Example.Com.:80", "example.com"},
		{"ipv6 with port", table, "[::1]:8080", "example.com"},
		{"ipv6 without port", table, "[::1]", "example.com"},
		{"bare ipv6", table, "::1", "example.com"},
		{"ipv4 with port", table, "127.0.0.1:80", "example.com"},
		{"wildcard", table, "a.example.org", "example.com"},
		{"wildcard deep", table, "x.y.example.org", "example.com"},
		{"longest wildcard wins", table, "a.b.example.org", "wild.test"},
		{"longest wildcard, other tld", table, "a.example.org.uk", "wild.test"},
		{"wildcard needs a label", table, "example.org", "fallback.test"},
		{"wildcard is not a suffix match", table, "badexample.org", "fallback.test"},
		{"unknown goes to default", table, "nowhere.test", "fallback.test"},
		{"no host goes to default", table, "", "fallback.test"},
		{"only a port", table, ":8080", "fallback.test"},
		{"other ipv6", table, "[::2]:80", "fallback.test"},
		{"first declared is default", noDefault, "nowhere.test", "first.test"},
		{"first declared, no host", noDefault, "", "first.test"},
		{"wildcard before first declared", noDefault, "x.second.test", "second.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := names
			if tt.table == noDefault {
				n = noDefaultNames
			}
			if got := n[tt.table.match(tt.host)]; got != tt.want {
				t.Errorf("match(%q) = %q, want %q", tt.host, got, tt.want)
			}
		})
	}
	if !table.hasDefault || noDefault.hasDefault {
		t.Errorf("hasDefault = %v, %v; want true, false", table.hasDefault, noDefault.hasDefault)
	}
	if s := table.matchName("nowhere.test"); s != nil {
		t.Errorf("matchName(nowhere.test) = %q, want no vhost", names[s])
	}
}

// TestHostDefaultDeclaredLater checks that default = true wins over the
// first vhost declared, whatever the order.
func TestHostDefaultDeclaredLater(t *testing.T) {
	table, names := testTable(vh("a.test", false), vh("b.test", false), vh("c.test", true), vh("d.test", false))
	if got := names[table.match("zzz")]; got != "c.test" {
		t.Errorf("default = %q, want c.test", got)
	}
}

func TestHostNormalize(t *testing.T) {
	tests := map[string]string{
		"example.com":        "example.com",
		"EXAMPLE.com:8080":   "example.com",
		"example.com.":       "example.com",
		"example.com.:443":   "example.com",
		"example.com..":      "example.com",
		"[::1]:8080":         "[::1]",
		"[::1]":              "[::1]",
		"[::1].":             "[::1]",
		"::1":                "[::1]",
		"::1.":               "[::1]",
		"[2001:DB8::1]:80":   "[2001:db8::1]",
		"127.0.0.1:80":       "127.0.0.1",
		"":                   "",
		":80":                "",
		"a:b:c":              "a:b:c",
		"[unterminated:8080": "[unterminated:8080",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			if got := normalizeHost(in); got != want {
				t.Errorf("normalizeHost(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

func fuzzSeeds(f *testing.F) {
	for _, s := range []string{"", "example.com", "EXAMPLE.com:8080", "example.com.", "[::1]:8080", "::1", "[::1",
		"a.b.example.org", "x.example.org.:1", "::1.", "a..", "[]:", "\xff\xfe", "İ.example.com", "K.example.org", ":"} {
		f.Add(s)
	}
}

// FuzzNormalizeHost checks that normalizing never panics, is idempotent,
// and yields a lowercase name without a port or trailing dot.
func FuzzNormalizeHost(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, host string) {
		n := normalizeHost(host)
		if again := normalizeHost(n); again != n {
			t.Errorf("normalizeHost(%q) = %q, but normalizeHost(%q) = %q", host, n, n, again)
		}
		if strings.HasSuffix(n, ".") {
			t.Errorf("normalizeHost(%q) = %q ends in a dot", host, n)
		}
		if strings.ContainsAny(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			t.Errorf("normalizeHost(%q) = %q is not lowercase", host, n)
		}
	})
}

// FuzzMatch checks that matching never panics, always finds a vhost on a
// listener with one, and picks the same vhost for a host as for its
// normalized form.
func FuzzMatch(f *testing.F) {
	fuzzSeeds(f)
	table, names := testTable(
		vh("first.test", false),
		vh("example.com", false, "www.example.com", "*.example.org", "[::1]"),
		vh("wild.test", false, "*.b.example.org", "*.k.example.org"),
	)
	f.Fuzz(func(t *testing.T, host string) {
		s := table.match(host)
		if s == nil {
			t.Fatalf("match(%q) = nil on a listener with a default", host)
		}
		if n := table.match(normalizeHost(host)); n != s {
			t.Errorf("match(%q) = %q but match(%q) = %q", host, names[s], normalizeHost(host), names[n])
		}
	})
}
