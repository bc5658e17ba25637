package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

func TestRegistryParseSize(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int64
		err  bool
	}{
		{"bytes", "1024", 1024, false},
		{"zero", "0", 0, false},
		{"b unit", "12b", 12, false},
		{"k", "64k", 64 << 10, false},
		{"KB", "64KB", 64 << 10, false},
		{"KiB", "64KiB", 64 << 10, false},
		{"mixed case", "10mIb", 10 << 20, false},
		{"MB", "10MB", 10 << 20, false},
		{"G", "1G", 1 << 30, false},
		{"GiB", "2GiB", 2 << 30, false},
		{"TiB", "1TiB", 1 << 40, false},
		{"fraction", "1.5KiB", 1536, false},
		{"space before unit", "1 MiB", 1 << 20, false},
		{"surrounding space", "  7  ", 7, false},
		{"empty", "", 0, true},
		{"unit only", "KiB", 0, true},
		{"negative", "-1", 0, true},
		{"unknown unit", "10 parsecs", 0, true},
		{"not whole bytes", "0.5", 0, true},
		{"two dots", "1.2.3", 0, true},
		{"overflow", "99999999999TiB", 0, true},
		{"hex", "0x10", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("ParseSize(%q) error = %v, want error %v", tt.in, err, tt.err)
			}
			if err == nil && got != tt.want {
				t.Errorf("ParseSize(%q) = %d, want %d", tt.in, got, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.in)) {
				t.Errorf("ParseSize(%q) error %q does not quote the input", tt.in, err)
			}
		})
	}
}

func TestRegistryMatchPrefix(t *testing.T) {
	tests := []struct {
		prefix, path string
		want         bool
	}{
		{"/", "/", true},
		{"/", "/anything/at/all", true},
		{"/app", "/app", true},
		{"/app", "/app/", true},
		{"/app", "/app/x/y", true},
		{"/app", "/apple", false},
		{"/app", "/ap", false},
		{"/app", "/", false},
		{"/cgi-bin/", "/cgi-bin/", true},
		{"/cgi-bin/", "/cgi-bin/x.cgi", true},
		{"/cgi-bin/", "/cgi-bin", false},
		{"/cgi-bin/", "/cgi-binx", false},
		{"/a/b", "/a/b/c", true},
		{"/a/b", "/a/bc", false},
		{"/App", "/app", false},
	}
	for _, tt := range tests {
		t.Run(tt.prefix+" "+tt.path, func(t *testing.T) {
			if got := MatchPrefix(tt.prefix, tt.path); got != tt.want {
				t.Errorf("MatchPrefix(%q, %q) = %v, want %v", tt.prefix, tt.path, got, tt.want)
			}
		})
	}
}

func TestRegistryMatchMount(t *testing.T) {
	tests := []struct {
		prefix, path     string
		ok               bool
		scriptName, rest string
	}{
		{"/", "/", true, "", "/"},
		{"/", "/a/b", true, "", "/a/b"},
		{"/app", "/app", true, "/app", ""},
		{"/app", "/app/", true, "/app", "/"},
		{"/app", "/app/x/y", true, "/app", "/x/y"},
		{"/app", "/apple", false, "", ""},
		{"/cgi-bin/", "/cgi-bin/", true, "/cgi-bin", "/"},
		{"/cgi-bin/", "/cgi-bin/x.cgi/info", true, "/cgi-bin", "/x.cgi/info"},
		{"/cgi-bin/", "/cgi-bin", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.prefix+" "+tt.path, func(t *testing.T) {
			m, ok := MatchMount(tt.prefix, tt.path)
			want := Mount{}
			if tt.ok {
				want = Mount{Prefix: tt.prefix, ScriptName: tt.scriptName, Path: tt.rest}
			}
			if ok != tt.ok || m != want {
				t.Errorf("MatchMount(%q, %q) = %+v, %v; want %+v, %v", tt.prefix, tt.path, m, ok, want, tt.ok)
			}
			if ok && m.ScriptName+m.Path != tt.path {
				t.Errorf("ScriptName+Path = %q, want the whole path %q", m.ScriptName+m.Path, tt.path)
			}
		})
	}
}

func TestRegistryCheckPrefix(t *testing.T) {
	tests := []struct {
		name   string
		labels []string
		want   string // part of the detail; "" for no diagnostic
	}{
		{"no label", nil, ""},
		{"root", []string{"/"}, ""},
		{"dir", []string{"/cgi-bin/"}, ""},
		{"no slash", []string{"/app"}, ""},
		{"nested", []string{"/a/b/"}, ""},
		{"dots inside a name", []string{"/a..b/"}, ""},
		{"relative", []string{"cgi-bin/"}, `must start with "/"`},
		{"empty", []string{""}, `must start with "/"`},
		{"query", []string{"/a?b"}, "cannot hold '?'"},
		{"fragment", []string{"/a#b"}, "cannot hold '?'"},
		{"backslash", []string{`/a\b`}, "cannot hold '?'"},
		{"space", []string{"/a b"}, "cannot hold '?'"},
		{"nul", []string{"/a\x00"}, "cannot hold '?'"},
		{"empty segment", []string{"/a//b"}, "empty segment"},
		{"dotdot", []string{"/a/../b"}, `".."`},
		{"dot", []string{"/./"}, `".."`},
		{"trailing dotdot", []string{"/a/.."}, `".."`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := hcl.Range{Filename: "x.hcl", Start: hcl.Pos{Line: 3, Column: 5}}
			b := &hcl.Block{Type: "alias", Labels: tt.labels, DefRange: rng}
			for range tt.labels {
				b.LabelRanges = append(b.LabelRanges, rng)
			}
			d := CheckPrefix(b)
			if tt.want == "" {
				if d != nil {
					t.Fatalf("CheckPrefix(%q) = %q: %q, want none", tt.labels, d.Summary, d.Detail)
				}
				return
			}
			if d == nil {
				t.Fatalf("CheckPrefix(%q) = nil, want a diagnostic", tt.labels)
			}
			if d.Severity != hcl.DiagError || d.Summary != "Invalid URL prefix" || !strings.Contains(d.Detail, tt.want) {
				t.Errorf("CheckPrefix(%q) = %q: %q, want detail holding %q", tt.labels, d.Summary, d.Detail, tt.want)
			}
			if d.Subject == nil || *d.Subject != rng {
				t.Errorf("CheckPrefix(%q) subject = %v, want the label range", tt.labels, d.Subject)
			}
		})
	}
}

// content parses src as a block body and returns its attributes.
func content(t *testing.T, src string) *hcl.BodyContent {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "t.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %q: %s", src, diags)
	}
	attrs, diags := f.Body.JustAttributes()
	if diags.HasErrors() {
		t.Fatalf("attributes %q: %s", src, diags)
	}
	return &hcl.BodyContent{Attributes: attrs}
}

var testEval = &hcl.EvalContext{
	Variables: map[string]cty.Value{"unknown": cty.UnknownVal(cty.String)},
	Functions: map[string]function.Function{},
}

// checkDiag checks that diags is empty when want is "", else that it holds
// one error whose summary or detail contains want and that points at line 1.
func checkDiag(t *testing.T, diags hcl.Diagnostics, want string) {
	t.Helper()
	if want == "" {
		if len(diags) != 0 {
			t.Fatalf("unexpected diagnostics: %s", diags)
		}
		return
	}
	if !diags.HasErrors() {
		t.Fatalf("no error, want one about %q", want)
	}
	d := diags[0]
	if !strings.Contains(d.Summary+": "+d.Detail, want) {
		t.Errorf("diagnostic %q: %q does not mention %q", d.Summary, d.Detail, want)
	}
	if d.Subject == nil || d.Subject.Filename != "t.hcl" || d.Subject.Start.Line != 1 {
		t.Errorf("diagnostic subject = %v, want t.hcl line 1", d.Subject)
	}
}

func TestRegistryDuration(t *testing.T) {
	const def = 7 * time.Second
	tests := []struct {
		name string
		src  string
		want time.Duration
		diag string
	}{
		{"absent", ``, def, ""},
		{"null", `d = null`, def, ""},
		{"seconds", `d = "30s"`, 30 * time.Second, ""},
		{"minutes", `d = "5m"`, 5 * time.Minute, ""},
		{"compound", `d = "1h30m"`, 90 * time.Minute, ""},
		{"zero", `d = "0s"`, 0, ""},
		{"no unit", `d = "30"`, def, `"30" is not a duration`},
		{"garbage", `d = "soon"`, def, "Invalid duration for d"},
		{"negative", `d = "-1s"`, def, "is not a duration"},
		{"number", `d = 30`, def, "Write durations as strings"},
		{"bool", `d = true`, def, "Write durations as strings"},
		{"unknown", `d = unknown`, def, "must be known"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := Duration(content(t, tt.src), "d", testEval, def)
			checkDiag(t, diags, tt.diag)
			if got != tt.want {
				t.Errorf("Duration = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRegistrySize(t *testing.T) {
	const def = 99
	tests := []struct {
		name string
		src  string
		want int64
		diag string
	}{
		{"absent", ``, def, ""},
		{"number", `s = 4096`, 4096, ""},
		{"string bytes", `s = "4096"`, 4096, ""},
		{"KiB", `s = "64KiB"`, 64 << 10, ""},
		{"MiB", `s = "10MiB"`, 10 << 20, ""},
		{"fraction number", `s = 1.5`, def, "not a whole number"},
		{"negative number", `s = -1`, def, "Invalid size for s"},
		{"bad unit", `s = "10 furlongs"`, def, "unknown unit"},
		{"bool", `s = false`, def, "Write sizes as a number"},
		{"list", `s = [1]`, def, "Write sizes as a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := Size(content(t, tt.src), "s", testEval, def)
			checkDiag(t, diags, tt.diag)
			if got != tt.want {
				t.Errorf("Size = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRegistryInt(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want int
		diag string
	}{
		{"absent", ``, 2, ""},
		{"in range", `n = 5`, 5, ""},
		{"min", `n = 1`, 1, ""},
		{"max", `n = 64`, 64, ""},
		{"numeric string", `n = "8"`, 8, ""},
		{"below", `n = 0`, 2, "from 1 to 64"},
		{"above", `n = 65`, 2, "from 1 to 64"},
		{"fraction", `n = 1.5`, 2, "whole number"},
		{"huge", `n = 1e30`, 2, "whole number"},
		{"string", `n = "many"`, 2, "must be a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := Int(content(t, tt.src), "n", testEval, 2, 1, 64)
			checkDiag(t, diags, tt.diag)
			if got != tt.want {
				t.Errorf("Int = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRegistryStringList(t *testing.T) {
	def := []string{"d"}
	tests := []struct {
		name string
		src  string
		want []string
		diag string
	}{
		{"absent", ``, def, ""},
		{"empty", `l = []`, []string{}, ""},
		{"two", `l = ["a", "b"]`, []string{"a", "b"}, ""},
		{"numbers convert", `l = [1, 2]`, []string{"1", "2"}, ""},
		{"not a list", `l = "a"`, def, "must be a list of strings"},
		{"nested", `l = [["a"]]`, def, "must be a list of strings"},
		{"null element", `l = ["a", null]`, def, "must not hold null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := StringList(content(t, tt.src), "l", testEval, def)
			checkDiag(t, diags, tt.diag)
			if strings.Join(got, ",") != strings.Join(tt.want, ",") || (got == nil) != (tt.want == nil) {
				t.Errorf("StringList = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestRegistryStringBoolMap(t *testing.T) {
	c := content(t, "s = \"x\"\nb = true\nm = { A = \"1\", B = 2 }\nbad = [1]\n")
	if s, diags := String(c, "s", testEval, "def"); s != "x" || diags.HasErrors() {
		t.Errorf("String = %q, %s", s, diags)
	}
	if s, diags := String(c, "missing", testEval, "def"); s != "def" || diags.HasErrors() {
		t.Errorf("String(missing) = %q, %s", s, diags)
	}
	if _, diags := String(c, "bad", testEval, ""); !diags.HasErrors() {
		t.Error("String of a list: no error")
	}
	if b, diags := Bool(c, "b", testEval, false); !b || diags.HasErrors() {
		t.Errorf("Bool = %v, %s", b, diags)
	}
	if _, diags := Bool(c, "s", testEval, false); !diags.HasErrors() {
		t.Error(`Bool of "x": no error`)
	}
	m, diags := StringMap(c, "m", testEval)
	if diags.HasErrors() || m["A"] != "1" || m["B"] != "2" || len(m) != 2 {
		t.Errorf("StringMap = %v, %s", m, diags)
	}
}

func TestRegistryStatusOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"status error", Error(http.StatusForbidden, nil), 403},
		{"wrapped", fmt.Errorf("x: %w", Errorf(404, "gone %d", 1)), 404},
		{"max bytes", fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 1}), 413},
		{"plain", errors.New("boom"), 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StatusOf(tt.err); got != tt.want {
				t.Errorf("StatusOf = %d, want %d", got, tt.want)
			}
		})
	}
	if got := Error(404, nil).Error(); got != "Not Found" {
		t.Errorf("Error(404, nil) = %q", got)
	}
	inner := errors.New("inner")
	if !errors.Is(Error(500, inner), inner) {
		t.Error("StatusError does not unwrap")
	}
}

type nopModule struct{}

func (nopModule) Decode(*hcl.Block, *DecodeContext) hcl.Diagnostics { return nil }
func (nopModule) Provision(context.Context, *Env) error             { return nil }
func (nopModule) Wrap(next Handler) Handler                         { return next }

func TestRegistryRegister(t *testing.T) {
	newNop := func() Module { return nopModule{} }
	Register(Info{Name: "registry_test_a", Phase: PhaseMount, Labels: []string{"url_prefix"}, New: newNop})
	Register(Info{Name: "registry_test_b", Phase: PhaseAccess, New: newNop})

	tests := []struct {
		name string
		info Info
	}{
		{"duplicate", Info{Name: "registry_test_a", New: newNop}},
		{"nil New", Info{Name: "registry_test_nil"}},
		{"empty name", Info{New: newNop}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%+v) did not panic", tt.info)
				}
			}()
			Register(tt.info)
		})
	}
	if _, ok := Lookup("registry_test_nil"); ok {
		t.Error("a module with a nil New was registered")
	}
	info, ok := Lookup("registry_test_a")
	if !ok || info.Phase != PhaseMount || info.New == nil {
		t.Fatalf("Lookup(registry_test_a) = %+v, %v", info, ok)
	}

	// Modules are ordered by phase, then name.
	mods := Modules()
	for i := 1; i < len(mods); i++ {
		a, b := mods[i-1], mods[i]
		if a.Phase > b.Phase || a.Phase == b.Phase && a.Name >= b.Name {
			t.Errorf("Modules out of order: %s(%s) before %s(%s)", a.Name, a.Phase, b.Name, b.Phase)
		}
	}
	names := strings.Join(Names(), " ")
	if !strings.Contains(names, "registry_test_b") || strings.Index(names, "registry_test_b") > strings.Index(names, "registry_test_a") {
		t.Errorf("Names() = %q: want the headers module before the mount module", names)
	}
}

func TestRegistryPhaseString(t *testing.T) {
	for p, want := range map[Phase]string{PhaseAccess: "access", PhaseHeader: "header", PhaseEncode: "encode", PhaseErrors: "errors", PhaseRewrite: "rewrite", PhaseRedirect: "redirect", PhaseMount: "mount", PhaseContent: "content", 7: "phase(7)"} {
		if got := p.String(); got != want {
			t.Errorf("Phase(%d).String() = %q, want %q", int(p), got, want)
		}
	}
}

func TestRegistryPath(t *testing.T) {
	dc := &DecodeContext{ServerRoot: "/srv"}
	for in, want := range map[string]string{"": "", "htdocs": "/srv/htdocs", "/abs/x/": "/abs/x", "a/../b": "/srv/b"} {
		if got := dc.Path(in); got != want {
			t.Errorf("Path(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRegistryNotice(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"status error", Notice(Errorf(404, "x")), true},
		{"wrapped", fmt.Errorf("cgi: %w", Notice(Errorf(404, "x"))), true},
		{"unmarked", Errorf(404, "x"), false},
		{"plain error", Notice(errors.New("x")), false},
		{"nil", Notice(nil), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsNotice(tt.err); got != tt.want {
				t.Errorf("IsNotice = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRegistryShared(t *testing.T) {
	var s Shared
	made := 0
	mk := func() any { made++; return new(int) }
	a := s.Get("fastcgi unix /a", mk)
	b := s.Get("fastcgi unix /a", mk)
	c := s.Get("fastcgi unix /b", mk)
	if a != b || made != 2 || c == a {
		t.Errorf("same key gave %p and %p, other key %p, made %d times; want one value per key", a, b, c, made)
	}
	var none *Shared
	if x, y := none.Get("k", func() any { return new(int) }), none.Get("k", func() any { return new(int) }); x == y {
		t.Error("a nil Shared shared a value")
	}
}
