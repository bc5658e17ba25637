package conf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"httpd/registry"
)

// includes reads the files that content's include attribute names, and
// those they include in turn, and returns content's blocks with the
// blocks of the included files put where the include attribute stands.
// file is the file content comes from; chain holds it and the files that
// included it (canonical paths), to tell a cycle.
//
// Patterns are globs (filepath.Match syntax) resolved against
// server_root like every relative path (SPEC §2); the files of one
// pattern are read in name order. A pattern with wildcards may match
// nothing; one without must name a file. A file read twice, or one that
// includes itself, is an error.
func (d *decoder) includes(content *hcl.BodyContent, chain []string) (hcl.Blocks, hcl.Diagnostics) {
	attr, ok := content.Attributes["include"]
	if !ok {
		return content.Blocks, nil
	}
	patterns, diags := registry.StringList(content, "include", d.ectx, nil)
	if diags.HasErrors() {
		return content.Blocks, diags
	}
	var elems []hclsyntax.Expression
	if tc, ok := attr.Expr.(*hclsyntax.TupleConsExpr); ok && len(tc.Exprs) == len(patterns) {
		elems = tc.Exprs
	}
	at := func(i int) *hcl.Range {
		if elems != nil {
			return elems[i].Range().Ptr()
		}
		return attr.Expr.Range().Ptr()
	}

	var included hcl.Blocks
	for i, pat := range patterns {
		abs := pat
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(d.cfg.ServerRoot, pat)
		}
		wild := strings.ContainsAny(pat, "*?[")
		matches, err := filepath.Glob(abs)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Invalid include pattern",
				Detail:  fmt.Sprintf("%q is not a glob: %s. Write patterns such as \"conf.d/*.hcl\".", pat, err),
				Subject: at(i), Context: attr.Range.Ptr(),
			})
			continue
		}
		if !wild {
			st, err := os.Stat(abs)
			switch {
			case err != nil:
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError, Summary: "Cannot read included file",
					Detail:  fmt.Sprintf("%s; include paths are resolved against server_root (%s). A pattern with a wildcard, such as \"conf.d/*.hcl\", may match nothing.", err, d.cfg.ServerRoot),
					Subject: at(i), Context: attr.Range.Ptr(),
				})
				continue
			case st.IsDir():
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError, Summary: "Included path is a folder",
					Detail:  fmt.Sprintf("%s is a folder: name its files with a pattern, such as %q.", abs, filepath.Join(pat, "*.hcl")),
					Subject: at(i), Context: attr.Range.Ptr(),
				})
				continue
			}
		}
		for _, m := range matches {
			if st, err := os.Stat(m); err == nil && st.IsDir() {
				continue // a folder a wildcard matched
			}
			bs, ds := d.includeFile(m, at(i), chain)
			diags = append(diags, ds...)
			included = append(included, bs...)
		}
	}
	// The included blocks take the include attribute's place among the
	// file's own.
	pos := attr.Range.Start.Byte
	var out hcl.Blocks
	for _, b := range content.Blocks {
		if b.DefRange.Start.Byte < pos {
			out = append(out, b)
		}
	}
	out = append(out, included...)
	for _, b := range content.Blocks {
		if b.DefRange.Start.Byte >= pos {
			out = append(out, b)
		}
	}
	return out, diags
}

// includeFile parses one included file and returns its blocks, with
// those of the files it includes. from is the include entry that named
// it.
func (d *decoder) includeFile(path string, from *hcl.Range, chain []string) (hcl.Blocks, hcl.Diagnostics) {
	key := canonical(path)
	for _, c := range chain {
		if c == key {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError, Summary: "Include cycle",
				Detail:  fmt.Sprintf("%s: a file cannot include itself or a file that includes it. Narrow the pattern, such as \"conf.d/*.hcl\".", strings.Join(append(chain[:len(chain):len(chain)], key), " includes ")),
				Subject: from,
			}}
		}
	}
	if prev, dup := d.included[key]; dup {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "File included twice",
			Detail:  fmt.Sprintf("%s is already included by %s; include each file once.", path, rangeString(prev)),
			Subject: from,
		}}
	}
	d.included[key] = *from
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Cannot read included file",
			Detail: err.Error() + ".", Subject: from,
		}}
	}
	d.cfg.Includes = append(d.cfg.Includes, path)
	file, diags := d.parser.ParseHCL(src, path)
	if diags.HasErrors() {
		return nil, diags
	}
	content, ds := file.Body.Content(rootSchema)
	diags = append(diags, ds...)
	if a, ok := content.Attributes["server_root"]; ok {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "server_root in an included file",
			Detail:  fmt.Sprintf("server_root is set in the main config file (%s) only; the files it includes share it.", d.cfg.File),
			Subject: a.NameRange.Ptr(), Context: a.Range.Ptr(),
		})
	}
	blocks, ds := d.includes(content, append(chain[:len(chain):len(chain)], key))
	return blocks, append(diags, ds...)
}

// canonical is path made absolute, with symbolic links resolved where
// that works, so that one file has one name.
func canonical(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	return abs
}
