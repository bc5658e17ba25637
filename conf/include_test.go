package conf_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"httpd/conf"
	_ "httpd/modules/errorpages"
)

// writeTree writes files (path relative to a fresh folder → content),
// with an htdocs folder, and returns the folder.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "htdocs"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// site is a vhost with a document root, for the included files.
func site(name string) string {
	return fmt.Sprintf("vhost %q {\n  document_root = \"htdocs\"\n}\n", name)
}

// TestConfInclude loads configs that include other files and checks the
// vhosts they make, in order, with the file each comes from, or the
// diagnostics, as "file:line:col: summary" with the tree's folder as $DIR.
func TestConfInclude(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string // httpd.hcl is the main file
		vhosts []string          // "name file:line"
		diags  []string          // prefixes, in order
	}{
		{"glob, in place and in name order", map[string]string{
			"httpd.hcl":        site("first.test") + "include = [\"conf.d/*.hcl\"]\n" + site("last.test"),
			"conf.d/b.hcl":     site("b.test"),
			"conf.d/a.hcl":     "# a\n" + site("a.test") + site("a2.test"),
			"conf.d/x.conf":    "not read",
			"conf.d/sub/c.hcl": site("not-read.test"),
		}, []string{"first.test httpd.hcl:1", "a.test $DIR/conf.d/a.hcl:2", "a2.test $DIR/conf.d/a.hcl:5", "b.test $DIR/conf.d/b.hcl:1", "last.test httpd.hcl:5"}, nil},
		{"glob matching nothing", map[string]string{
			"httpd.hcl": "include = [\"conf.d/*.hcl\", \"none/*.hcl\"]\n" + site("a.test"),
		}, []string{"a.test httpd.hcl:2"}, nil},
		{"nested include, other top-level blocks", map[string]string{
			"httpd.hcl":      "include = [\"conf.d/*.hcl\"]\n" + site("a.test"),
			"conf.d/one.hcl": "include = [\"more/two.hcl\"]\nlog {\n  level = \"debug\"\n}\n",
			"more/two.hcl":   site("two.test"),
		}, []string{"two.test $DIR/more/two.hcl:1", "a.test httpd.hcl:2"}, nil},
		{"absolute pattern", map[string]string{
			"httpd.hcl":    "include = [\"$DIR/conf.d/*.hcl\"]\n",
			"conf.d/a.hcl": site("a.test"),
		}, []string{"a.test $DIR/conf.d/a.hcl:1"}, nil},
		{"missing file", map[string]string{
			"httpd.hcl": "include = [\"conf.d/*.hcl\", \"site.hcl\"]\n" + site("a.test"),
		}, nil, []string{"httpd.hcl:1:28: Cannot read included file: stat $DIR/site.hcl: no such file or directory; include paths are resolved against server_root ($DIR)."}},
		{"folder", map[string]string{
			"httpd.hcl":    "include = [\"conf.d\"]\n" + site("a.test"),
			"conf.d/a.hcl": site("b.test"),
		}, nil, []string{`httpd.hcl:1:12: Included path is a folder: $DIR/conf.d is a folder: name its files with a pattern, such as "conf.d/*.hcl".`}},
		{"bad pattern", map[string]string{
			"httpd.hcl": "include = [\"conf.d/[.hcl\"]\n" + site("a.test"),
		}, nil, []string{`httpd.hcl:1:12: Invalid include pattern: "conf.d/[.hcl" is not a glob`}},
		{"not a list", map[string]string{
			"httpd.hcl": "include = 3\n" + site("a.test"),
		}, nil, []string{`httpd.hcl:1:11: Invalid value for include: include must be a list of strings`}},
		{"syntax error in an included file", map[string]string{
			"httpd.hcl":    "include = [\"conf.d/*.hcl\"]\n" + site("a.test"),
			"conf.d/b.hcl": "vhost \"b.test\" {\n  document_root = \n}\n",
		}, nil, []string{"$DIR/conf.d/b.hcl:2:19: Invalid expression"}},
		{"errors in an included vhost", map[string]string{
			"httpd.hcl":    "include = [\"conf.d/*.hcl\"]\n" + site("a.test"),
			"conf.d/b.hcl": "vhost \"b.test\" {\n  document_root = \"htdocs\"\n  statc {}\n  error_pages = { \"700\" = \"/e.html\" }\n}\n",
		}, nil, []string{
			`$DIR/conf.d/b.hcl:3:3: Unsupported block type: Blocks of type "statc" are not expected here. Did you mean "static"?`,
			`$DIR/conf.d/b.hcl:4:19: Invalid error_pages key: 700 is not an error status`,
		}},
		{"cycle", map[string]string{
			"httpd.hcl": "include = [\"*.hcl\"]\n" + site("a.test"),
			"b.hcl":     site("b.test"),
		}, nil, []string{"httpd.hcl:1:12: Include cycle: $DIR/httpd.hcl includes $DIR/httpd.hcl: a file cannot include itself"}},
		{"nested cycle", map[string]string{
			"httpd.hcl":    "include = [\"conf.d/*.hcl\"]\n" + site("a.test"),
			"conf.d/b.hcl": "include = [\"conf.d/b.hcl\"]\n",
		}, nil, []string{"$DIR/conf.d/b.hcl:1:12: Include cycle: $DIR/httpd.hcl includes $DIR/conf.d/b.hcl includes $DIR/conf.d/b.hcl"}},
		{"included twice", map[string]string{
			"httpd.hcl":    "include = [\"conf.d/*.hcl\", \"conf.d/b.hcl\"]\n" + site("a.test"),
			"conf.d/b.hcl": site("b.test"),
		}, nil, []string{"httpd.hcl:1:28: File included twice: $DIR/conf.d/b.hcl is already included by httpd.hcl:1:12; include each file once."}},
		{"server_root in an included file", map[string]string{
			"httpd.hcl":    "include = [\"conf.d/*.hcl\"]\n" + site("a.test"),
			"conf.d/b.hcl": "server_root = \"/\"\n",
		}, nil, []string{"$DIR/conf.d/b.hcl:1:1: server_root in an included file: server_root is set in the main config file (httpd.hcl) only"}},
		{"duplicate blocks across files", map[string]string{
			"httpd.hcl":    "include = [\"conf.d/*.hcl\"]\nlog {}\n" + site("a.test"),
			"conf.d/b.hcl": "log {}\n" + site("a.test"),
		}, nil, []string{
			"httpd.hcl:2:1: Duplicate log block: Only one log block is allowed; the first is at $DIR/conf.d/b.hcl:1:1.",
			`httpd.hcl:3:1: Duplicate host name: "a.test" on :8080 already belongs to vhost "a.test" ($DIR/conf.d/b.hcl:2:1)`,
		}},
		{"include inside a vhost", map[string]string{
			"httpd.hcl": "vhost \"a.test\" {\n  document_root = \"htdocs\"\n  include = [\"x/*.hcl\"]\n}\n",
		}, nil, []string{`httpd.hcl:3:3: Unsupported argument: An argument named "include" is not expected here. include is a top-level attribute: write it outside every vhost block.`}},
		{"no vhost anywhere", map[string]string{
			"httpd.hcl": "include = [\"conf.d/*.hcl\"]\n",
		}, nil, []string{"httpd.hcl:1:1: No vhost block"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, nil)
			for name, src := range tt.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(strings.ReplaceAll(src, "$DIR", dir)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			t.Chdir(dir)
			cfg, diags := conf.Load("httpd.hcl")
			var got []string
			for _, d := range diags {
				line := d.Summary + ": " + d.Detail
				if d.Subject != nil {
					line = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, line)
				}
				got = append(got, strings.ReplaceAll(line, dir, "$DIR"))
			}
			if len(got) != len(tt.diags) {
				t.Fatalf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.diags, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.diags[i]) {
					t.Errorf("diagnostic %d:\n%s\nwant prefix\n%s", i, got[i], tt.diags[i])
				}
			}
			if tt.diags != nil {
				return
			}
			var vhosts []string
			for _, v := range cfg.VHosts {
				vhosts = append(vhosts, fmt.Sprintf("%s %s:%d", v.Name, strings.ReplaceAll(v.DefRange.Filename, dir, "$DIR"), v.DefRange.Start.Line))
			}
			if !slices.Equal(vhosts, tt.vhosts) {
				t.Errorf("vhosts:\n%s\nwant:\n%s", strings.Join(vhosts, "\n"), strings.Join(tt.vhosts, "\n"))
			}
			for _, f := range cfg.Includes {
				if cfg.Files[f] == nil {
					t.Errorf("Files lacks the included %s, for printing diagnostics", f)
				}
			}
		})
	}
}

// TestConfErrorPagesAttribute: error_pages is a vhost attribute that
// joins the vhost's stages at its phase; written as a block it is
// refused with a hint, and it is not offered as a block type.
func TestConfErrorPagesAttribute(t *testing.T) {
	tests := []struct {
		name, body string
		diags      []string
	}{
		{"attribute", `error_pages = { "404" = "/e.html" }`, nil},
		{"as a block", "error_pages {\n    x = 1\n  }", []string{`httpd.hcl:3:3: Unsupported block type: Blocks of type "error_pages" are not expected here. Did you mean to define argument "error_pages"?`}},
		{"misspelt", `error_page = { "404" = "/e.html" }`, []string{`httpd.hcl:3:3: Unsupported argument: An argument named "error_page" is not expected here. Did you mean "error_pages"?`}},
		{"bad value", `error_pages = { "404" = "e.html" }`, []string{`httpd.hcl:3:27: Invalid error page: "e.html" does not start with "/"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{"httpd.hcl": "vhost \"a.test\" {\n  document_root = \"htdocs\"\n  " + tt.body + "\n  statc {}\n}\n"})
			t.Chdir(dir)
			cfg, diags := conf.Load("httpd.hcl")
			var got []string
			for _, d := range diags {
				got = append(got, fmt.Sprintf("%s:%d:%d: %s: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, d.Summary, d.Detail))
			}
			// statc is there for the list of block types the hint gives.
			i := slices.IndexFunc(got, func(s string) bool { return strings.Contains(s, `"statc"`) })
			if i < 0 || !strings.Contains(got[i], "Block types a vhost may hold: tls, ") || strings.Contains(got[i], "error_pages") {
				t.Fatalf("the block types offered: %q", got)
			}
			got = slices.Delete(got, i, i+1)
			if len(got) != len(tt.diags) {
				t.Fatalf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.diags, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.diags[i]) {
					t.Errorf("diagnostic %d:\n%s\nwant prefix\n%s", i, got[i], tt.diags[i])
				}
			}
			if tt.diags == nil {
				var stages []string
				for _, mb := range cfg.VHosts[0].Modules {
					stages = append(stages, mb.Info.Name)
				}
				if !slices.Equal(stages, []string{"error_pages", "static"}) || !conf.IsAttribute("error_pages") || conf.IsAttribute("static") {
					t.Errorf("stages %q", stages)
				}
			}
		})
	}
}
