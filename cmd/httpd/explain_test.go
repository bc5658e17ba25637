package main

import (
	"context"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"httpd/conf"
	"httpd/registry"
)

// explainTestConfig is a small config over a temporary folder.
func explainTestConfig(t testing.TB) *conf.Config {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "htdocs", "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htdocs", "index.html"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `server {
  listen = ["127.0.0.1:8080", "[::1]:8080"]
}
vhost "a.test" {
  document_root = "htdocs"
  redirect "/old" {
    to = "/new"
  }
  rewrite "^/r/(.*)$" {
    to = "/r/$1"
  }
}
`
	cfg, diags := conf.Parse([]byte(src), filepath.Join(dir, "httpd.hcl"), dir)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return cfg
}

func TestExplainWalk(t *testing.T) {
	cfg := explainTestConfig(t)
	tests := []struct {
		url     string
		headers []string
		want    []string
	}{
		{"http://a.test:8080/", nil, []string{"Listener:  127.0.0.1:8080 (plain HTTP)", "VHost:     a.test", "Result:    200 OK"}},
		{"http://[::1]:8080/", nil, []string{"Listener:  [::1]:8080 (plain HTTP): it listens on ::1 itself", "the listener's default answers", "Result:    200 OK"}},
		{"a.test:8080/old/x", nil, []string{"answers 302 Found with Location: /new/x", "Result:    302 Found"}},
		{"http://a.test:8080/d", nil, []string{"redirects to /d/ with 301", "Result:    301"}},
		{"http://a.test:8080/r/x", nil, []string{"rewrites it to /r/x", "rewritten more than 10 times", "Result:    500"}},
		{"http://a.test:8080/", []string{"Host: b.test"}, []string{"with Host: b.test", "no vhost on 127.0.0.1:8080 has the name b.test"}},
		{"/", nil, []string{"Request:   GET http://a.test:8080/ from 127.0.0.1"}},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			r, target, err := explainRequest(cfg, tc.url, "GET", tc.headers, netip.MustParseAddr("127.0.0.1"))
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			explain(&b, cfg, r, target)
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("explain %s lacks %q:\n%s", tc.url, w, b.String())
				}
			}
		})
	}
}

// opaque is a stage that cannot explain itself.
type opaque struct{}

func (opaque) Decode(*hcl.Block, *registry.DecodeContext) hcl.Diagnostics { return nil }
func (opaque) Provision(context.Context, *registry.Env) error             { return nil }
func (opaque) Wrap(next registry.Handler) registry.Handler                { return next }

func TestExplainStageGeneric(t *testing.T) {
	mb := &conf.ModuleBlock{Info: &registry.Info{Name: "compress", Doc: "compress responses"}, Module: opaque{}}
	r, _ := http.NewRequest("GET", "/", nil)
	e := explainStage(mb, r, registry.Mount{})
	if e.Ends || e.Status != 0 || !strings.Contains(e.Says, "compress responses") {
		t.Errorf("generic explanation = %+v", e)
	}
	mount := &conf.ModuleBlock{Info: &registry.Info{Name: "asgi_app", Phase: registry.PhaseMount, Doc: "an ASGI app"}, Module: opaque{}}
	if e := explainStage(mount, r, registry.Mount{}); !e.Ends || e.Status != 0 || !strings.Contains(e.Says, "an ASGI app") {
		t.Errorf("generic explanation of a mount = %+v", e)
	}
}

// FuzzExplain feeds explain arbitrary URLs and a Host header: it must
// answer every one without panicking.
func FuzzExplain(f *testing.F) {
	for _, s := range []string{"/", "/old/../x", "http://a.test:8080/%2e%2e/", "https://a.test/", "http://[::1]:8080/d/", "a.test:8080/r/x?y", "/\x00", "http://:8080/"} {
		f.Add(s, "a.test")
	}
	cfg := explainTestConfig(f)
	f.Fuzz(func(t *testing.T, u, host string) {
		r, target, err := explainRequest(cfg, u, "GET", []string{"Host: " + host}, netip.MustParseAddr("127.0.0.1"))
		if err != nil {
			return
		}
		var b strings.Builder
		explain(&b, cfg, r, target)
		if !strings.Contains(b.String(), "Result:") {
			t.Errorf("explain %q gave no result:\n%s", u, b.String())
		}
	})
}
