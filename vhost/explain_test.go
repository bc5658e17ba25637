package vhost

import (
	"strings"
	"testing"

	"httpd/conf"
)

// TestChoose checks that Choose picks what the server's host table picks
// and says why, including the HTTPS redirect of a TLS vhost's plain
// listener.
func TestChoose(t *testing.T) {
	plain := []conf.Listener{{Addr: "127.0.0.1:8080"}}
	withListen := func(v *conf.VHost, ls []conf.Listener) *conf.VHost {
		v.Listeners, v.TLS.Mode = ls, conf.TLSOff
		return v
	}
	secure := withListen(vh("secure.test", false), []conf.Listener{{Addr: "127.0.0.1:8080"}, {Addr: "127.0.0.1:8443", TLS: true}})
	secure.TLS.Mode = conf.TLSInternal
	cfg := &conf.Config{VHosts: []*conf.VHost{
		withListen(vh("first.test", false), plain),
		withListen(vh("example.com", false, "www.example.com", "*.example.org"), plain),
		withListen(vh("wild.test", false, "*.b.example.org"), plain),
		secure,
	}}
	withDefault := &conf.Config{VHosts: []*conf.VHost{
		withListen(vh("first.test", false), plain),
		withListen(vh("fallback.test", true), plain),
	}}
	tests := []struct {
		name     string
		cfg      *conf.Config
		addr     string
		host     string
		want     string
		why      string
		redirect bool
	}{
		{"name", cfg, "127.0.0.1:8080", "example.com:8080", "example.com", "example.com is its name", false},
		{"alias, case", cfg, "127.0.0.1:8080", "WWW.example.com", "example.com", "www.example.com is one of its aliases", false},
		{"wildcard", cfg, "127.0.0.1:8080", "a.example.org", "example.com", "matches its wildcard alias *.example.org", false},
		{"longest wildcard", cfg, "127.0.0.1:8080", "a.b.example.org", "wild.test", "matches its wildcard alias *.b.example.org", false},
		{"first declared", cfg, "127.0.0.1:8080", "nowhere.test", "first.test", "the first vhost declared for the listener", false},
		{"default = true", withDefault, "127.0.0.1:8080", "nowhere.test", "fallback.test", "it sets default = true", false},
		{"no host", withDefault, "127.0.0.1:8080", "", "fallback.test", "the request has no host name", false},
		{"plain listener of a TLS vhost", cfg, "127.0.0.1:8080", "secure.test", "secure.test", "secure.test is its name", true},
		{"its TLS listener", cfg, "127.0.0.1:8443", "secure.test", "secure.test", "secure.test is its name", false},
		{"no vhost there", cfg, "127.0.0.1:9999", "example.com", "", "no vhost listens on 127.0.0.1:9999", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Choose(tc.cfg, tc.addr, tc.host)
			got := ""
			if c.VHost != nil {
				got = c.VHost.Name
			}
			if got != tc.want || !strings.Contains(c.Why, tc.why) || c.HTTPSRedirect != tc.redirect {
				t.Errorf("Choose(%q, %q) = %q, %q, redirect %v; want %q, %q, redirect %v", tc.addr, tc.host, got, c.Why, c.HTTPSRedirect, tc.want, tc.why, tc.redirect)
			}
			if tc.redirect && c.HTTPSPort != "8443" {
				t.Errorf("HTTPSPort = %q, want 8443", c.HTTPSPort)
			}
		})
	}
}
