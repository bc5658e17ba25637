package rewrite

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"httpd/internal/testutil"
	"httpd/registry"
)

// next stands for the rest of the pipeline.
var next = registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	fmt.Fprint(w, "next")
	return nil
})

// pipeline stands for Env.Pipeline: it shows the path and query it got.
var pipeline = registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	fmt.Fprintf(w, "path=%s query=%s n=%d", r.URL.Path, r.URL.RawQuery, registry.Reentries(r))
	return nil
})

func decode(t testing.TB, src string) *Module {
	t.Helper()
	m := new(Module)
	if diags := m.Decode(testutil.ParseBlock(t, src), &registry.DecodeContext{ServerRoot: "/srv"}); diags.HasErrors() {
		t.Fatalf("decode: %s", diags.Error())
	}
	return m
}

func newHandler(t *testing.T, src string, env *registry.Env) http.Handler {
	t.Helper()
	m := decode(t, src)
	if env == nil {
		env = &registry.Env{Pipeline: pipeline}
	}
	if err := m.Provision(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	stage := m.Wrap(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := stage.ServeHTTP(w, r); err != nil {
			w.WriteHeader(registry.StatusOf(err))
			fmt.Fprint(w, err)
		}
	})
}

func TestRewrite(t *testing.T) {
	post := `rewrite "^/post/([0-9]+)$" { to = "/index.php?p=$1" }`
	old := `rewrite "^/old/(.*)$" {
		to     = "/new/$1"
		status = 301
	}`
	named := `rewrite "^/u/(?P<user>[^/]+)/(?P<rest>.*)$" { to = "/users/$${user}/$rest" }`
	keepQuery := `rewrite "^/a/(.*)$" { to = "/b/$1" }`
	query := `rewrite "^/s/(.*)$" { to = "/search?q=$1" }`
	absolute := `rewrite "^/go/(.*)$" {
		to     = "https://example.org/$1?from=go"
		status = 308
	}`
	everything := `rewrite "^/(.*)$" {
		to     = "/$1"
		status = 302
	}`
	dollar := `rewrite "^/price$" { to = "/cost$$" }`

	tests := []struct {
		name, block, target string
		status              int
		loc                 string // "" means absent
		body                string // part of the body
	}{
		{name: "internal", block: post, target: "/post/42", status: 200, body: "path=/index.php query=p=42 n=1"},
		{name: "internal replaces query", block: post, target: "/post/42?x=1", status: 200, body: "path=/index.php query=p=42 n=1"},
		{name: "internal no match", block: post, target: "/post/x", status: 200, body: "next"},
		{name: "internal anchored", block: post, target: "/post/42/more", status: 200, body: "next"},
		{name: "named groups", block: named, target: "/u/ann/a/b", status: 200, body: "path=/users/ann/a/b query= n=1"},
		{name: "query kept", block: keepQuery, target: "/a/x?y=1&z=2", status: 200, body: "path=/b/x query=y=1&z=2 n=1"},
		{name: "escaped path decoded", block: keepQuery, target: "/a/x%20y", status: 200, body: "path=/b/x y query= n=1"},
		{name: "group query-escaped", block: query, target: "/s/a%20b%26c=d", status: 200, body: "path=/search query=q=a+b%26c%3Dd n=1"},
		{name: "dollar", block: dollar, target: "/price", status: 200, body: "path=/cost$ query= n=1"},
		{name: "redirect", block: old, target: "/old/a/b", status: 301, loc: "/new/a/b", body: `<a href="/new/a/b">Moved Permanently</a>`},
		{name: "redirect keeps query", block: old, target: "/old/a?x=1", status: 301, loc: "/new/a?x=1"},
		{name: "redirect escapes group", block: old, target: "/old/a%20b%09c", status: 301, loc: "/new/a%20b%09c"},
		{name: "redirect no match", block: old, target: "/older/a", status: 200, body: "next"},
		{name: "absolute", block: absolute, target: "/go/x?y=1", status: 308, loc: "https://example.org/x?from=go"},
		{name: "no host invented", block: everything, target: "//evil.example/x", status: 302, loc: "/evil.example/x"},
		{name: "no backslash host", block: everything, target: "/%5Cevil.example", status: 302, loc: "/%5Cevil.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(t, tt.block, nil)
			req := httptest.NewRequest("GET", "http://example.com"+tt.target, nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Errorf("status %d, want %d (body %q)", rec.Code, tt.status, rec.Body)
			}
			if got := rec.Header().Get("Location"); got != tt.loc {
				t.Errorf("Location %q, want %q", got, tt.loc)
			}
			if !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("body %q, want %q in it", rec.Body, tt.body)
			}
		})
	}
}

// TestRewriteLoop checks that a rule rewriting onto itself stops after
// MaxReentries with a 500 naming the loop.
func TestRewriteLoop(t *testing.T) {
	m := decode(t, `rewrite "^/a$" { to = "/a" }`)
	env := &registry.Env{}
	if err := m.Provision(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	stage := m.Wrap(next)
	env.Pipeline = stage
	err := stage.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/a", nil))
	if err == nil || registry.StatusOf(err) != 500 {
		t.Fatalf("err %v, want a 500", err)
	}
	want := fmt.Sprintf("rewrite: loop: /a → /a after %d rewrites (test.hcl:1", registry.MaxReentries)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("err %q, want %q in it", err, want)
	}
}

func TestRewriteDecodeErrors(t *testing.T) {
	tests := []struct{ name, block, want string }{
		{"bad regexp", `rewrite "^/(a$" { to = "/b" }`, "missing closing )"},
		{"no to", `rewrite "^/a$" {}`, "needs to"},
		{"bad status", `rewrite "^/a$" {
			to     = "/b"
			status = 200
		}`, "not a redirect status"},
		{"missing group", `rewrite "^/(a)$" { to = "/b/$3" }`, "refers to group 3 but the pattern has 1"},
		{"missing name", `rewrite "^/(?P<x>a)$" { to = "/b/$${y}" }`, `group named "y"`},
		{"digit then text", `rewrite "^/(a)$" { to = "/b/$1x" }`, "${1}x"},
		{"internal not a path", `rewrite "^/a$" { to = "b" }`, `does not start with "/"`},
		{"unknown attribute", `rewrite "^/a$" {
			to   = "/b"
			flag = "L"
		}`, "Unsupported argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diags := new(Module).Decode(testutil.ParseBlock(t, tt.block), &registry.DecodeContext{})
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tt.want) {
				t.Errorf("diags %q, want an error with %q", diags.Error(), tt.want)
			}
		})
	}
	// The bad regexp points at the label.
	diags := new(Module).Decode(testutil.ParseBlock(t, `rewrite "^/(a$" { to = "/b" }`), &registry.DecodeContext{})
	if len(diags) == 0 || diags[0].Subject == nil || diags[0].Subject.Start.Column != 9 {
		t.Errorf("diag subject %v, want the label at column 9", diags)
	}
}

func TestRewriteExplainDescribe(t *testing.T) {
	m := decode(t, `rewrite "^/post/([0-9]+)$" { to = "/index.php?p=$1" }`)
	e := m.Explain(httptest.NewRequest("GET", "/post/7", nil), registry.Mount{})
	if e.Path != "/index.php" || e.Ends || !strings.Contains(e.Says, "/index.php?p=7") {
		t.Errorf("explain %+v", e)
	}
	if e := m.Explain(httptest.NewRequest("GET", "/x", nil), registry.Mount{}); e.Path != "" || e.Ends {
		t.Errorf("explain of a miss %+v", e)
	}
	r := decode(t, `rewrite "^/old/(.*)$" {
		to     = "/new/$1"
		status = 301
	}`)
	e = r.Explain(httptest.NewRequest("GET", "/old/x", nil), registry.Mount{})
	if e.Status != 301 || !e.Ends || !strings.Contains(e.Says, "/new/x") {
		t.Errorf("explain %+v", e)
	}
	if got := r.Describe(); got != `rewrite ^/old/(.*)$ -> /new/$1 (301)` {
		t.Errorf("describe %q", got)
	}
}

// TestRewriteNoMatchAllocs checks that a request no rule matches costs no
// more than the match.
func TestRewriteNoMatchAllocs(t *testing.T) {
	m := decode(t, `rewrite "^/post/([0-9]+)$" { to = "/index.php?p=$1" }`)
	stage := m.Wrap(registry.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil }))
	r := httptest.NewRequest("GET", "/other/path", nil)
	w := httptest.NewRecorder()
	stage.ServeHTTP(w, r)
	allocs := testing.AllocsPerRun(100, func() { stage.ServeHTTP(w, r) })
	if allocs > 0 {
		t.Errorf("%v allocations on a miss, want 0", allocs)
	}
}

// FuzzRewrite expands arbitrary paths: the rewrite never panics, an
// internal target is a path starting with one "/", and a Location never
// starts with "//".
func FuzzRewrite(f *testing.F) {
	for _, s := range []string{"/post/1", "/old/a b", "//evil", "/old/%zz", "/\\x", "/old/\n", "/u/a/b?c"} {
		f.Add(s)
	}
	internal := decode(f, `rewrite "^/(?P<first>[^/]*)(.*)$" { to = "/x/$${first}$2?q=$1" }`)
	redirect := decode(f, `rewrite "^/(.*)$" {
		to     = "/$1"
		status = 301
	}`)
	f.Fuzz(func(t *testing.T, p string) {
		u := &url.URL{Path: p, RawQuery: "k=v"}
		if idx := internal.re.FindStringSubmatchIndex(p); idx != nil {
			path, query := internal.Rewrite(u, idx)
			if !strings.HasPrefix(path, "/x/") {
				t.Errorf("path %q from %q", path, p)
			}
			if _, err := url.ParseQuery(query); err != nil {
				t.Errorf("query %q from %q: %v", query, p, err)
			}
		}
		if idx := redirect.re.FindStringSubmatchIndex(p); idx != nil {
			loc := redirect.location(u, idx)
			if strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") || strings.ContainsAny(loc, " \r\n") {
				t.Errorf("Location %q from %q", loc, p)
			}
		}
	})
}

// TestLeadingLiteral checks the literal a path must start with for the
// pattern to match, which lets most paths skip the regexp.
func TestLeadingLiteral(t *testing.T) {
	for _, tt := range []struct{ pattern, want string }{
		{`^/old/(.*)$`, "/old/"},
		{`^/blog/\d+$`, "/blog/"},
		{`^/a`, "/a"},
		{`/old/(.*)$`, ""},     // unanchored: a match may start anywhere
		{`(?i)^/old/`, "/"},    // case folded: only the slash is literal
		{`^/a|^/b`, ""},        // either
		{`(?m)^/old/`, ""},     // a line start, not the path's
		{`^(/x|/y)/z`, ""},     // no single literal
		{`^.*\.php$`, ""},      // no literal at all
		{`^/a/b(c)?$`, "/a/b"}, // the literal stops at the group
	} {
		re := regexp.MustCompile(tt.pattern)
		got := leadingLiteral(tt.pattern, re)
		if got != tt.want {
			t.Errorf("leadingLiteral(%q) = %q, want %q", tt.pattern, got, tt.want)
		}
		// The claim itself: every path the pattern matches starts with it.
		for _, p := range []string{"/old/x", "/OLD/x", "/blog/12", "/a", "/b", "/x/z", "/y/z", "/i.php", "/a/bc", "/q/old/x"} {
			if re.MatchString(p) && !strings.HasPrefix(p, got) {
				t.Errorf("%q matches %q, which does not start with %q", tt.pattern, p, got)
			}
		}
	}
}
