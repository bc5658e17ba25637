package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"httpd/conf"
	"httpd/registry"

	_ "httpd/modules/access"
	_ "httpd/modules/alias"
	_ "httpd/modules/asgi"
	_ "httpd/modules/basicauth"
	_ "httpd/modules/cgi"
	_ "httpd/modules/compress"
	_ "httpd/modules/errorpages"
	_ "httpd/modules/header"
	_ "httpd/modules/metrics"
	_ "httpd/modules/redirect"
	_ "httpd/modules/rewrite"
	_ "httpd/modules/static"
	_ "httpd/modules/status"
	_ "httpd/modules/wsgi"
)

// hclFence matches a fenced hcl example, with the marker that may stand
// on the line before it: <!-- needs: BLOCK.ATTRIBUTE --> says the example
// uses an attribute that may not be built yet (see TestReadmeExamples).
var hclFence = regexp.MustCompile("(?s)(?:<!-- needs: ([a-z_]+)\\.([a-z_]+) -->\n)?```hcl\n(.*?)```")

// inlineBlock matches a block written inline in the text, such as
// `alias "/icons/" { path = "icons/" }`.
var inlineBlock = regexp.MustCompile("`([a-z_]+(?: \"[^\"`]*\")* \\{[^`]*\\})`")

// readmeOwner names the block type each module folder's README documents.
var readmeOwner = map[string]string{
	"access":     "access",
	"alias":      "alias",
	"asgi":       "asgi_app",
	"basicauth":  "basic_auth",
	"cgi":        "script_alias",
	"compress":   "compress",
	"errorpages": "error_pages",
	"header":     "header",
	"metrics":    "metrics",
	"redirect":   "redirect",
	"rewrite":    "rewrite",
	"static":     "static",
	"status":     "status",
	"wsgi":       "wsgi_script_alias",
}

// coreBlocks are the top-level blocks of a whole config.
var coreBlocks = map[string]bool{"server": true, "log": true, "acme": true, "vhost": true, "storage": true}

// example is one HCL snippet of a README.
type example struct {
	name  string // README path and position, for messages
	src   string
	needs [2]string // block type and attribute the example needs, or empty
}

// readmeExamples returns every hcl example of a README: the fenced ones,
// then the blocks written inline.
func readmeExamples(file string, src []byte) []example {
	var out []example
	for i, m := range hclFence.FindAllSubmatchIndex(src, -1) {
		ex := example{name: fmt.Sprintf("%s#%d", file, i), src: string(src[m[6]:m[7]])}
		if m[2] >= 0 {
			ex.needs = [2]string{string(src[m[2]:m[3]]), string(src[m[4]:m[5]])}
		}
		out = append(out, ex)
	}
	for _, m := range inlineBlock.FindAllSubmatchIndex(src, -1) {
		line := 1 + strings.Count(string(src[:m[0]]), "\n")
		out = append(out, example{name: fmt.Sprintf("%s:%d", file, line), src: string(src[m[2]:m[3]])})
	}
	return out
}

// TestReadmeExamples loads every hcl example of the README and of the
// module READMEs, fenced or inline, through the real config loader, which
// must accept it without a single diagnostic, so the documentation cannot
// drift from the code. An example is a whole config (it has server_root,
// server, log, acme or vhost at the top) or module blocks of a vhost body,
// loaded inside a vhost with a document_root. Each example is loaded in
// its own server root, where the relative paths it names (document_root,
// path, script, cert, ...) are made first: a name ending in "/" or without
// an extension as a folder, else as an empty file. An absolute path the
// example names that this machine lacks may be reported missing, and only
// that. Each fenced example of a module's README shows that module's
// block.
//
// An example marked <!-- needs: BLOCK.ATTRIBUTE --> is only parsed while
// BLOCK's module does not know ATTRIBUTE, and loaded like the others once
// it does.
func TestReadmeExamples(t *testing.T) {
	files, err := filepath.Glob("../modules/*/README.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../README.md")
	total := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		folder := filepath.Base(filepath.Dir(f))
		owner := readmeOwner[folder]
		if folder != ".." && owner == "" {
			t.Errorf("%s: no module named for this README in readmeOwner", f)
		}
		for _, ex := range readmeExamples(strings.TrimPrefix(f, "../"), src) {
			total++
			t.Run(ex.name, func(t *testing.T) {
				file, diags := hclsyntax.ParseConfig([]byte(ex.src), ex.name, hcl.InitialPos)
				if diags.HasErrors() {
					t.Fatalf("example does not parse: %s\n%s", diags.Error(), ex.src)
				}
				body := file.Body.(*hclsyntax.Body)
				if owner != "" && strings.Contains(ex.name, "#") && !hasBlock(body, owner) {
					t.Errorf("example has no %s block:\n%s", owner, ex.src)
				}
				if ex.needs[0] != "" && !moduleHas(ex.needs[0], ex.needs[1]) {
					t.Logf("only parsed: %s has no %s yet", ex.needs[0], ex.needs[1])
					return
				}
				loadExample(t, ex, body)
			})
		}
	}
	if total < 10 {
		t.Fatalf("found only %d hcl examples: is the fence pattern right?", total)
	}
}

// hasBlock reports whether body, or a vhost in it, holds a block of type
// typ (or, for a module configured by an attribute, that attribute).
func hasBlock(body *hclsyntax.Body, typ string) bool {
	if _, ok := body.Attributes[typ]; ok {
		return true
	}
	for _, b := range body.Blocks {
		if b.Type == typ || b.Type == "vhost" && hasBlock(b.Body, typ) {
			return true
		}
	}
	return false
}

// isWholeConfig reports whether an example is a config of its own rather
// than blocks of a vhost body.
func isWholeConfig(body *hclsyntax.Body) bool {
	if len(body.Attributes) > 0 {
		return true
	}
	for _, b := range body.Blocks {
		if coreBlocks[b.Type] {
			return true
		}
	}
	return false
}

// loadExample loads the example with conf.Parse in a fresh server root
// and fails the test on any diagnostic but a missing absolute path.
func loadExample(t *testing.T, ex example, body *hclsyntax.Body) {
	t.Helper()
	src := ex.src
	if !isWholeConfig(body) {
		src = "vhost \"example.com\" {\n  document_root = \"htdocs\"\n" + src + "\n}\n"
		f, diags := hclsyntax.ParseConfig([]byte(src), ex.name, hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("example inside a vhost does not parse: %s\n%s", diags.Error(), src)
		}
		body = f.Body.(*hclsyntax.Body)
	}
	// The config sits in conf/ of a fresh tree, as the shipped one does,
	// so that server_root = ".." stays inside the tree.
	confDir := filepath.Join(t.TempDir(), "conf")
	if err := os.Mkdir(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	root := confDir
	if a, ok := body.Attributes["server_root"]; ok {
		if v, diags := a.Expr.Value(nil); !diags.HasErrors() && v.Type() == cty.String {
			root = filepath.Join(confDir, v.AsString())
			if filepath.IsAbs(v.AsString()) {
				// An absolute server_root ("/srv/mysite") moves into the
				// tree, with the paths below it.
				root = filepath.Join(filepath.Dir(confDir), "root")
				if err := os.Mkdir(root, 0o755); err != nil {
					t.Fatal(err)
				}
				r := a.Expr.Range()
				src = src[:r.Start.Byte] + strconv.Quote(root) + src[r.End.Byte:]
			}
		}
	}
	var absent []string
	for _, p := range examplePaths(body) {
		if filepath.IsAbs(p.value) {
			if _, err := os.Stat(p.value); err != nil {
				absent = append(absent, p.value)
			}
			continue
		}
		makePath(t, filepath.Join(root, p.value), p.dir)
	}
	_, diags := conf.Parse([]byte(src), ex.name, confDir)
	for _, d := range diags {
		if missing := mentions(d, absent); missing != "" {
			t.Logf("%s is not on this machine: %s", missing, d.Error())
			continue
		}
		t.Errorf("%s\nin:\n%s", d.Error(), src)
	}
}

// pathValue is a path an example names.
type pathValue struct {
	value string
	dir   bool // made as a folder
}

// pathAttrs are the attributes that name a file or folder, and whether
// it is always a folder.
var pathAttrs = map[string]bool{
	"document_root": true, "path": false, "script": false, "cert": false, "key": false,
	"ca_root": false, "virtualenv": true, "python_path": true, "program": false, "python": false,
	"htpasswd": false,
}

// examplePaths returns the paths named by path attributes anywhere in
// body.
func examplePaths(body *hclsyntax.Body) []pathValue {
	var out []pathValue
	for name, a := range body.Attributes {
		alwaysDir, ok := pathAttrs[name]
		if !ok {
			continue
		}
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() || v.IsNull() {
			continue
		}
		var list []string
		switch {
		case v.Type() == cty.String:
			list = []string{v.AsString()}
		case v.CanIterateElements():
			for it := v.ElementIterator(); it.Next(); {
				if _, e := it.Element(); e.Type() == cty.String {
					list = append(list, e.AsString())
				}
			}
		}
		for _, s := range list {
			if s == "" || name == "python" && !strings.Contains(s, "/") {
				continue // a name looked up on PATH
			}
			dir := alwaysDir || strings.HasSuffix(s, "/") || filepath.Ext(s) == ""
			if name == "program" || name == "python" || name == "htpasswd" {
				dir = false
			}
			out = append(out, pathValue{s, dir})
		}
	}
	for _, b := range body.Blocks {
		out = append(out, examplePaths(b.Body)...)
	}
	return out
}

// makePath creates a folder, or an empty file and its folder.
func makePath(t *testing.T, p string, dir bool) {
	t.Helper()
	if dir {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, nil, 0o755); err != nil {
		t.Fatal(err)
	}
}

// mentions returns the first of paths that d's text names, or "".
func mentions(d *hcl.Diagnostic, paths []string) string {
	for _, p := range paths {
		if strings.Contains(d.Summary+" "+d.Detail, p) {
			return p
		}
	}
	return ""
}

// moduleHas reports whether the module of block type typ decodes the
// attribute attr rather than rejecting it as unsupported.
func moduleHas(typ, attr string) bool {
	info, ok := registry.Lookup(typ)
	if !ok {
		return false
	}
	header := typ
	for range info.Labels {
		header += ` "/probe/"`
	}
	src := fmt.Sprintf("%s {\n  %s = \"x\"\n}\n", header, attr)
	f, diags := hclsyntax.ParseConfig([]byte(src), "probe.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		return false
	}
	b := f.Body.(*hclsyntax.Body).Blocks[0].AsHCLBlock()
	dc := &registry.DecodeContext{ServerRoot: "/srv", DocumentRoot: "/srv/htdocs", DataDir: "/srv/var", VHost: "example.com"}
	for _, d := range info.New().Decode(b, dc) {
		if d.Summary == "Unsupported argument" {
			return false
		}
	}
	return true
}

// layoutRow is a row of the README's Layout table.
var layoutRow = regexp.MustCompile("(?m)^\\| (`[^|]*`) \\|")

// TestReadmeLayout: the Layout table of the README names every folder of
// the repository, down to two levels (modules/static, vhost/h2), that
// holds files, by its path or a pattern such as modules/*. Hidden folders,
// testdata and what .gitignore leaves out are not asked for.
func TestReadmeLayout(t *testing.T) {
	src, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, layout, ok := strings.Cut(string(src), "\n## Layout\n")
	if !ok {
		t.Fatal("README.md has no Layout section")
	}
	if i := strings.Index(layout, "\n## "); i >= 0 {
		layout = layout[:i]
	}
	var named []string
	for _, m := range layoutRow.FindAllStringSubmatch(layout, -1) {
		for _, p := range strings.Split(m[1], ",") {
			named = append(named, strings.Trim(strings.TrimSpace(p), "`"))
		}
	}
	ignored := map[string]bool{"var": true, "bench/results": true}
	var folders []string
	seen := map[string]bool{}
	err = filepath.WalkDir("..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", p)
		rel = filepath.ToSlash(rel)
		if !d.IsDir() {
			if dir := filepath.ToSlash(filepath.Dir(rel)); dir != "." && !seen[dir] {
				seen[dir] = true
				folders = append(folders, dir)
			}
			return nil
		}
		if rel == "." {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || ignored[rel] || strings.Count(rel, "/") > 1 {
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range folders {
		covered := false
		for _, n := range named {
			if ok, _ := filepath.Match(n, f); ok || n == f {
				covered = true
				break
			}
		}
		if !covered {
			t.Errorf("the Layout table of README.md does not name %s/", f)
		}
	}
	if len(folders) < 10 {
		t.Fatalf("found only %d folders: %q", len(folders), folders)
	}
}
