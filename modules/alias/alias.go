package alias

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"

	"github.com/hashicorp/hcl/v2"

	"httpd/internal/fileserver"
	"httpd/registry"
)

func init() {
	registry.Register(registry.Info{
		Name:   "alias",
		Labels: []string{"url_prefix"},
		Phase:  registry.PhaseMount,
		Doc:    "serve a directory or file outside document_root at a URL prefix",
		New:    func() registry.Module { return new(Module) },
	})
}

// schema is the alias block: path plus the static file server's options.
var schema = &hcl.BodySchema{
	Attributes: append([]hcl.AttributeSchema{{Name: "path", Required: true}}, fileserver.OptionAttributes...),
}

// Module is one alias block: it maps the URL prefix (the block's label)
// onto a directory or a single file.
type Module struct {
	prefix    string
	path      string    // absolute, resolved against server_root
	pathRange hcl.Range // the path value, for diagnostics
	opts      fileserver.Options
	fs        *fileserver.FileServer
}

// Decode reads the block. path is required and resolved against
// server_root; index, browse, dotfiles and cache_control are static's.
// The prefix is checked by the core.
func (m *Module) Decode(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	if len(b.Labels) > 0 {
		m.prefix = b.Labels[0]
	}
	content, diags := b.Body.Content(schema)
	if attr, ok := content.Attributes["path"]; ok {
		p, d := registry.String(content, "path", dc.Eval, "")
		diags = append(diags, d...)
		m.pathRange = attr.Expr.Range()
		if !d.HasErrors() && p == "" {
			diags = append(diags, registry.AttrError(attr, "Invalid path",
				"path is the directory or file served at "+m.prefix+", such as \"icons/\"."))
		}
		m.path = dc.Path(p)
	}
	opts, d := fileserver.DecodeOptions(content, dc)
	m.opts = opts
	return append(diags, d...)
}

// Validate checks that path exists and is a directory or a regular file.
func (m *Module) Validate(dc *registry.DecodeContext) hcl.Diagnostics {
	if m.path == "" {
		return nil // Decode reported it
	}
	diag := func(summary, detail string) hcl.Diagnostics {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: m.pathRange.Ptr()}}
	}
	fi, err := os.Stat(m.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return diag("Missing alias path", fmt.Sprintf("The path of alias %q, %s, does not exist.", m.prefix, m.path))
	case err != nil:
		return diag("Unreadable alias path", fmt.Sprintf("The path of alias %q cannot be read: %s.", m.prefix, err))
	case !fi.IsDir() && !fi.Mode().IsRegular():
		return diag("Invalid alias path", fmt.Sprintf("The path of alias %q, %s, is neither a directory nor a regular file.", m.prefix, m.path))
	}
	return nil
}

// Provision opens the aliased path.
func (m *Module) Provision(ctx context.Context, env *registry.Env) error {
	s, err := fileserver.New(m.path, m.opts)
	if err != nil {
		return fmt.Errorf("alias %s: %w", m.prefix, err)
	}
	m.fs = s
	return nil
}

// Wrap returns the handler for requests under the prefix: the rest of the
// URL path maps into path by static's rules. A missing file, or a request
// outside the prefix, runs next.
func (m *Module) Wrap(next registry.Handler) registry.Handler {
	return registry.MountFunc(func(w http.ResponseWriter, r *http.Request, mt registry.Mount) error {
		// mt.Path keeps the slash that starts it: "/icons/" and
		// "/icons/a/b" give "/a/b"; "/icons" and "/icons" give "" (the
		// aliased path itself, without a trailing slash).
		return fileserver.ServeOrNext(m.fs, w, r, mt.Path, next)
	})
}

// Cleanup closes the aliased path.
func (m *Module) Cleanup() error {
	if m.fs == nil {
		return nil
	}
	err := m.fs.Close()
	m.fs = nil
	return err
}

// Describe says what the block serves, for httpd -S.
func (m *Module) Describe() string {
	browse := "off"
	if m.opts.Browse {
		browse = "on"
	}
	return fmt.Sprintf("alias %s -> %s (browse %s)", m.prefix, m.path, browse)
}

var (
	_ registry.Module    = (*Module)(nil)
	_ registry.Validator = (*Module)(nil)
	_ registry.Cleaner   = (*Module)(nil)
	_ registry.Describer = (*Module)(nil)
)
