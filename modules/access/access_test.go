package access

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"httpd/internal/forwarded"
	"httpd/internal/testutil"
	"httpd/registry"
)

// next stands for the rest of the pipeline.
var next = registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	fmt.Fprint(w, "next")
	return nil
})

func decode(t testing.TB, src string) *Module {
	t.Helper()
	m := new(Module)
	if diags := m.Decode(testutil.ParseBlock(t, src), &registry.DecodeContext{ServerRoot: "/srv"}); diags.HasErrors() {
		t.Fatalf("decode: %s", diags.Error())
	}
	if err := m.Provision(context.Background(), &registry.Env{}); err != nil {
		t.Fatal(err)
	}
	return m
}

// pipeline wraps the blocks as the vhost does, the last one innermost,
// and records the error a stage returns.
func pipeline(t testing.TB, errp *error, srcs ...string) http.Handler {
	t.Helper()
	var h registry.Handler = next
	for i := len(srcs) - 1; i >= 0; i-- {
		h = decode(t, srcs[i]).Wrap(h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h.ServeHTTP(w, r); err != nil {
			*errp = err
			w.WriteHeader(registry.StatusOf(err))
		}
	})
}

func TestAccess(t *testing.T) {
	private := `access "/private/" {
  allow = ["10.0.0.0/8", "127.0.0.1/32"]
  deny  = []
}`
	denyLocal := `access "/private/" {
  deny = ["127.0.0.1/32"]
}`
	denyWins := `access "/" {
  allow = ["10.0.0.0/8"]
  deny  = ["10.9.0.0/16"]
}`
	bare := `access "/" {
  allow = ["192.0.2.7", "2001:db8::1"]
}`
	v6net := `access "/" {
  allow = ["2001:db8::/32"]
}`
	root := `access "/" {
  allow = ["10.0.0.0/8"]
}`
	public := `access "/private/public/" {
  deny = []
}`
	tighter := `access "/private/admin" {
  allow = ["10.1.0.0/16"]
}`

	tests := []struct {
		name   string
		blocks []string
		remote string
		target string
		status int
		err    string // part of the logged error
	}{
		{name: "allowed loopback", blocks: []string{private}, remote: "127.0.0.1:5000", target: "/private/x", status: 200},
		{name: "allowed net", blocks: []string{private}, remote: "10.200.3.4:1", target: "/private/", status: 200},
		{name: "not in allow", blocks: []string{private}, remote: "192.0.2.1:1", target: "/private/x", status: 403,
			err: `access: 192.0.2.1 denied by allow, which does not hold it (test.hcl:2)`},
		{name: "outside prefix", blocks: []string{private}, remote: "192.0.2.1:1", target: "/public/x", status: 200},
		{name: "prefix without slash", blocks: []string{private}, remote: "192.0.2.1:1", target: "/private", status: 200},
		{name: "denied", blocks: []string{denyLocal}, remote: "127.0.0.1:1", target: "/private/a", status: 403,
			err: `access: 127.0.0.1 denied by deny "127.0.0.1/32" (test.hcl:2)`},
		{name: "deny only passes others", blocks: []string{denyLocal}, remote: "127.0.0.2:1", target: "/private/a", status: 200},
		{name: "deny wins", blocks: []string{denyWins}, remote: "10.9.1.1:1", target: "/", status: 403, err: `deny "10.9.0.0/16"`},
		{name: "deny wins not", blocks: []string{denyWins}, remote: "10.8.1.1:1", target: "/", status: 200},
		{name: "bare v4", blocks: []string{bare}, remote: "192.0.2.7:80", target: "/", status: 200},
		{name: "bare v4 is /32", blocks: []string{bare}, remote: "192.0.2.8:80", target: "/", status: 403},
		{name: "bare v6", blocks: []string{bare}, remote: "[2001:db8::1]:80", target: "/", status: 200},
		{name: "bare v6 is /128", blocks: []string{bare}, remote: "[2001:db8::2]:80", target: "/", status: 403},
		{name: "v6 net", blocks: []string{v6net}, remote: "[2001:db8:5::1]:80", target: "/", status: 200},
		{name: "v6 zone ignored", blocks: []string{v6net}, remote: "[2001:db8::1%eth0]:80", target: "/", status: 200},
		{name: "v4 not in v6 net", blocks: []string{v6net}, remote: "10.0.0.1:80", target: "/", status: 403},
		{name: "mapped v4", blocks: []string{private}, remote: "[::ffff:10.1.2.3]:80", target: "/private/", status: 200},
		{name: "forwarded client without port", blocks: []string{private}, remote: "10.1.2.3", target: "/private/", status: 200},
		{name: "forwarded client denied", blocks: []string{private}, remote: "203.0.113.9", target: "/private/", status: 403, err: "access: 203.0.113.9 denied"},
		{name: "unix peer", blocks: []string{private}, remote: "@", target: "/private/", status: 403, err: `access: "@" denied`},
		{name: "longest decides, outer denies", blocks: []string{root, public}, remote: "192.0.2.1:1", target: "/x", status: 403},
		{name: "longest decides, inner opens", blocks: []string{root, public}, remote: "192.0.2.1:1", target: "/private/public/a", status: 200},
		{name: "longest decides in any order", blocks: []string{public, root}, remote: "192.0.2.1:1", target: "/private/public/a", status: 200},
		{name: "longest decides, tighter", blocks: []string{private, tighter}, remote: "10.2.0.1:1", target: "/private/admin/x", status: 403},
		{name: "longest decides, tighter allows", blocks: []string{tighter, private}, remote: "10.1.0.1:1", target: "/private/admin", status: 200},
		{name: "longest decides, loosest", blocks: []string{private, tighter}, remote: "10.2.0.1:1", target: "/private/other", status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			h := pipeline(t, &err, tt.blocks...)
			r := httptest.NewRequest("GET", tt.target, nil)
			r.RemoteAddr = tt.remote
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d (err %v)", w.Code, tt.status, err)
			}
			if tt.status == 200 && w.Body.String() != "next" {
				t.Errorf("body %q, want next", w.Body.String())
			}
			if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("error %v, want it to hold %q", err, tt.err)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, src string
		errs      []string // parts of the error diagnostics, in order
		describe  string
	}{
		{name: "both", src: `access "/p/" {
  allow = ["10.0.0.0/8", "127.0.0.1"]
  deny  = []
}`, describe: "access /p/ allow [10.0.0.0/8, 127.0.0.1] deny []"},
		{name: "deny only", src: `access "/" { deny = ["::1"] }`, describe: "access / allow [] deny [::1]"},
		{name: "neither", src: `access "/p/" {}`, errs: []string{`test.hcl:1:1: Missing allow or deny; The access block "/p/" needs allow, deny or both`}},
		{name: "bad cidr", src: `access "/p/" {
  allow = ["10.0.0.0/8", "10.0.0.0/33"]
}`, errs: []string{`test.hcl:2:26: Invalid network in allow; "10.0.0.0/33" is not a CIDR or an IP address`}},
		{name: "not an address", src: `access "/p/" { deny = ["localhost"] }`, errs: []string{`test.hcl:1:24: Invalid network in deny; "localhost"`}},
		{name: "zone", src: `access "/p/" { deny = ["fe80::1%eth0"] }`, errs: []string{"Invalid network in deny"}},
		{name: "not a list", src: `access "/p/" { allow = "10.0.0.0/8" }`, errs: []string{"Invalid value for allow"}},
		{name: "misspelt", src: `access "/p/" { alow = ["10.0.0.0/8"] }`, errs: []string{`Did you mean "allow"?`}},
		{name: "bad prefix", src: `access "p" { allow = ["10.0.0.0/8"] }`, errs: []string{"Invalid URL prefix"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := new(Module)
			diags := m.Decode(testutil.ParseBlock(t, tt.src), &registry.DecodeContext{ServerRoot: "/srv"})
			var errs []string
			for _, d := range diags {
				s := d.Summary + "; " + d.Detail
				if d.Subject != nil {
					s = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, s)
				}
				if d.Severity == hcl.DiagError {
					errs = append(errs, s)
				}
			}
			if len(errs) != len(tt.errs) {
				t.Fatalf("errors %q, want %d matching %q", errs, len(tt.errs), tt.errs)
			}
			for i := range errs {
				if !strings.Contains(errs[i], tt.errs[i]) {
					t.Errorf("error %q, want it to contain %q", errs[i], tt.errs[i])
				}
			}
			if tt.describe != "" && m.Describe() != tt.describe {
				t.Errorf("Describe() = %q, want %q", m.Describe(), tt.describe)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	m := decode(t, `access "/private/" {
  allow = ["10.0.0.0/8"]
  deny  = ["10.9.0.0/16"]
}`)
	tests := []struct {
		remote, target string
		status         int
		says           string
	}{
		{"10.1.1.1:1", "/private/a", 0, `allowed by allow "10.0.0.0/8" (test.hcl:2)`},
		{"10.9.1.1:1", "/private/a", 403, `denied by deny "10.9.0.0/16" (test.hcl:3)`},
		{"192.0.2.1:1", "/private/a", 403, "denied by allow"},
		{"192.0.2.1:1", "/other", 0, "does not apply"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", tt.target, nil)
		r.RemoteAddr = tt.remote
		e := m.Explain(r, registry.Mount{})
		if e.Status != tt.status || e.Ends != (tt.status != 0) || !strings.Contains(e.Says, tt.says) {
			t.Errorf("%s %s: %+v, want status %d saying %q", tt.remote, tt.target, e, tt.status, tt.says)
		}
	}
}

func TestPassAllocatesNothing(t *testing.T) {
	h := decode(t, `access "/private/" {
  allow = ["10.0.0.0/8", "127.0.0.1/32"]
  deny  = ["10.9.0.0/16"]
}`).Wrap(registry.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil }))
	r := httptest.NewRequest("GET", "/private/x", nil)
	r.RemoteAddr = "10.1.2.3:4567"
	if n := testing.AllocsPerRun(100, func() { _ = h.ServeHTTP(nil, r) }); n != 0 {
		t.Errorf("%v allocations per allowed request, want 0", n)
	}
}

func TestRegistered(t *testing.T) {
	info, ok := registry.Lookup("access")
	if !ok {
		t.Fatal("access is not registered")
	}
	if info.Phase != registry.PhaseAccess || len(info.Labels) != 1 || info.Labels[0] != "url_prefix" {
		t.Errorf("info = %+v", info)
	}
}

// FuzzAccessDecode decodes arbitrary allow and deny entries and checks
// every address against what was decoded: no panic, and a decoded entry
// always contains the address it was written from.
func FuzzAccessDecode(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "127.0.0.1", "::1", "::ffff:10.0.0.0/104", "2001:db8::/32", "1.2.3.4/33", "x", "fe80::1%eth0"} {
		f.Add(s, "10.1.2.3:80")
	}
	f.Fuzz(func(t *testing.T, entry, remote string) {
		for _, c := range []byte(entry) {
			if c < 0x20 || c > 0x7e || strings.IndexByte("\"\\$%{}", c) >= 0 {
				return // not an HCL string literal as %q writes it
			}
		}
		m := new(Module)
		src := fmt.Sprintf("access \"/\" {\n  deny = [%q]\n}", entry)
		diags := m.Decode(testutil.ParseBlock(t, src), &registry.DecodeContext{})
		if diags.HasErrors() {
			return
		}
		a, ok := forwarded.Addr(remote)
		rule, pass := m.Check(a)
		if pass == (rule != "") {
			t.Fatalf("Check(%v) = %q, %v", a, rule, pass)
		}
		if p, err := netip.ParsePrefix(entry); err == nil && ok && p.Masked().Contains(a) && pass {
			t.Errorf("%s passes deny %q", a, entry)
		}
	})
}
