package static

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"httpd/internal/fileserver"
	"httpd/internal/testutil"
	"httpd/registry"
)

func TestRegistered(t *testing.T) {
	info, ok := registry.Lookup("static")
	if !ok {
		t.Fatal("static is not registered")
	}
	if info.Phase != registry.PhaseContent || !info.Implicit || len(info.Labels) != 0 {
		t.Errorf("info = %+v", info)
	}
	if _, ok := info.New().(*Module); !ok {
		t.Errorf("New returns %T", info.New())
	}
}

func TestDecode(t *testing.T) {
	dc := &registry.DecodeContext{ServerRoot: "/srv", DocumentRoot: "/srv/htdocs", VHost: "test"}
	tests := []struct {
		name  string
		src   string
		want  fileserver.Options
		diags []string // parts of the diagnostics, in order
	}{
		{name: "defaults", src: `static {}`, want: fileserver.Options{Index: []string{"index.html"}}},
		{name: "all set", src: `static {
			index         = ["index.htm", "default.html"]
			browse        = true
			dotfiles      = true
			cache_control = "public, max-age=3600"
		}`, want: fileserver.Options{Index: []string{"index.htm", "default.html"}, Browse: true, Dotfiles: true, CacheControl: "public, max-age=3600"}},
		{name: "empty index", src: `static { index = [] }`, want: fileserver.Options{Index: []string{}}},
		{name: "misspelt attribute", src: `static { brwose = true }`, diags: []string{`test.hcl:1:10: Unsupported argument; An argument named "brwose" is not expected here. Did you mean "browse"?`}},
		{name: "not a bool", src: `static { browse = "maybe" }`, diags: []string{"test.hcl:1:19: Invalid value for browse"}},
		{name: "index not a list", src: `static { index = {a = 1} }`, diags: []string{"Invalid value for index"}},
		{name: "index with slash", src: `static { index = ["a/index.html", ".."] }`, diags: []string{
			`Invalid index file name; "a/index.html" is not a file name`, `Invalid index file name; ".." is not a file name`}},
		{name: "cache_control with newline", src: `static { cache_control = "a\nb" }`, diags: []string{"Invalid cache_control"}},
		{name: "every error at once", src: `static {
			browse   = 1
			dotfiles = "no"
			idnex    = []
		}`, diags: []string{"Unsupported argument", "Invalid value for browse", "Invalid value for dotfiles"}},
		{name: "unexpected block", src: `static {
			listing {}
		}`, diags: []string{"Unsupported block type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := new(Module)
			diags := m.Decode(testutil.ParseBlock(t, tt.src), dc)
			got := diagStrings(diags)
			if len(got) != len(tt.diags) {
				t.Fatalf("diagnostics %q, want %d matching %q", got, len(tt.diags), tt.diags)
			}
			for i := range got {
				if !strings.Contains(got[i], tt.diags[i]) {
					t.Errorf("diagnostic %q, want it to contain %q", got[i], tt.diags[i])
				}
			}
			if len(tt.diags) == 0 && !optionsEqual(m.opts, tt.want) {
				t.Errorf("options %+v, want %+v", m.opts, tt.want)
			}
		})
	}
}

func TestDecodeImplicit(t *testing.T) {
	for _, tt := range []struct {
		name string
		b    *hcl.Block
	}{
		{"nil block", nil},
		{"empty body", &hcl.Block{Type: "static", Body: hcl.EmptyBody()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := new(Module)
			if diags := m.Decode(tt.b, &registry.DecodeContext{}); len(diags) != 0 {
				t.Fatalf("diagnostics: %s", diags.Error())
			}
			if !optionsEqual(m.opts, fileserver.Options{Index: []string{"index.html"}}) {
				t.Errorf("options %+v", m.opts)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file.txt")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, root string
		block      bool
		diag       string
	}{
		{name: "directory", root: dir, block: true},
		{name: "implicit directory", root: dir},
		{name: "no document_root", root: "", block: true, diag: "test.hcl:1:1: Missing document_root; The static block of vhost \"test\" serves document_root"},
		{name: "missing", root: filepath.Join(dir, "nope"), block: true, diag: "does not exist"},
		{name: "missing implicit", root: filepath.Join(dir, "nope"), diag: "<nil>: Missing document_root"},
		{name: "a file", root: file, block: true, diag: "is not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dc := &registry.DecodeContext{ServerRoot: dir, DocumentRoot: tt.root, VHost: "test"}
			m := new(Module)
			var b *hcl.Block
			if tt.block {
				b = testutil.ParseBlock(t, "static {}")
			}
			if diags := m.Decode(b, dc); diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			got := strings.Join(diagStrings(m.Validate(dc)), "\n")
			if tt.diag == "" && got != "" || !strings.Contains(got, tt.diag) {
				t.Errorf("diagnostics %q, want %q", got, tt.diag)
			}
		})
	}
}

func TestProvisionCleanupDescribe(t *testing.T) {
	root := t.TempDir()
	dc := &registry.DecodeContext{ServerRoot: filepath.Dir(root), DocumentRoot: root, VHost: "test"}
	m := new(Module)
	if diags := m.Decode(testutil.ParseBlock(t, `static { browse = true }`), dc); diags.HasErrors() {
		t.Fatalf("decode: %s", diags.Error())
	}
	if err := m.Provision(context.Background(), &registry.Env{VHost: "test", DocumentRoot: root}); err != nil {
		t.Fatalf("provision: %v", err)
	}
	if got, want := m.Describe(), "static "+root+" (browse on, dotfiles off, index index.html)"; got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
	if err := m.Cleanup(); err != nil {
		t.Errorf("Cleanup: %v", err)
	}
	if err := m.Cleanup(); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}
	if err := new(Module).Cleanup(); err != nil {
		t.Errorf("Cleanup before Provision: %v", err)
	}
}

func diagStrings(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		pos := "<nil>"
		if d.Subject != nil {
			pos = fmt.Sprintf("%s:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		out = append(out, pos+": "+d.Summary+"; "+d.Detail)
	}
	return out
}

func optionsEqual(a, b fileserver.Options) bool {
	return slices.Equal(a.Index, b.Index) && a.Browse == b.Browse && a.Dotfiles == b.Dotfiles && a.CacheControl == b.CacheControl
}
