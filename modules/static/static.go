package static

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"httpd/internal/fileserver"
	"httpd/registry"
)

func init() {
	registry.Register(registry.Info{
		Name:     "static",
		Phase:    registry.PhaseContent,
		Doc:      "serve files from document_root (index files, listings, ranges)",
		New:      func() registry.Module { return new(Module) },
		Implicit: true,
	})
}

// Module is the static block: it serves the vhost's document_root. A vhost
// with a document_root and no static block gets one with the defaults.
type Module struct {
	opts     fileserver.Options
	defRange hcl.Range // the block, for diagnostics; zero for the implicit one
	root     string    // document_root, set by Provision
	fs       *fileserver.FileServer
	// try is the try_files list; nil when the block has none.
	try *fileserver.TryFiles
}

// schema is the block's: the file server's options and try_files.
var schema = &hcl.BodySchema{Attributes: append(append([]hcl.AttributeSchema(nil),
	fileserver.OptionAttributes...), hcl.AttributeSchema{Name: "try_files"})}

// Decode reads the block's attributes. A nil block (the implicit instance)
// leaves the defaults.
func (m *Module) Decode(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	m.opts = fileserver.Options{Index: fileserver.DefaultIndex}
	if dc != nil {
		m.root = dc.DocumentRoot
	}
	if b == nil {
		return nil
	}
	m.defRange = b.DefRange
	content, diags := b.Body.Content(schema)
	opts, d := fileserver.DecodeOptions(content, dc)
	m.opts = opts
	diags = append(diags, d...)
	list, d := registry.StringList(content, "try_files", dc.Eval, nil)
	diags = append(diags, d...)
	if attr := content.Attributes["try_files"]; attr != nil && !d.HasErrors() {
		t, err := fileserver.ParseTryFiles(list)
		if err != nil {
			diags = append(diags, registry.AttrError(attr, "Invalid try_files",
				err.Error()+`: write paths below document_root with {path} for the request's path, then a fallback path or "=404", such as ["{path}", "{path}/", "/index.html"].`))
		} else {
			m.try = &t
		}
	}
	return diags
}

// Validate checks that the vhost has a document_root and that it is a
// directory.
func (m *Module) Validate(dc *registry.DecodeContext) hcl.Diagnostics {
	var subject *hcl.Range
	if m.defRange != (hcl.Range{}) {
		subject = m.defRange.Ptr()
	}
	diag := func(summary, detail string) hcl.Diagnostics {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: subject}}
	}
	if dc.DocumentRoot == "" {
		return diag("Missing document_root", fmt.Sprintf("The static block of vhost %q serves document_root: set document_root in the vhost.", dc.VHost))
	}
	fi, err := os.Stat(dc.DocumentRoot)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return diag("Missing document_root", fmt.Sprintf("The document_root of vhost %q, %s, does not exist.", dc.VHost, dc.DocumentRoot))
	case err != nil:
		return diag("Unreadable document_root", fmt.Sprintf("The document_root of vhost %q cannot be read: %s.", dc.VHost, err))
	case !fi.IsDir():
		return diag("Invalid document_root", fmt.Sprintf("The document_root of vhost %q, %s, is not a directory.", dc.VHost, dc.DocumentRoot))
	}
	return nil
}

// Provision opens the document root.
func (m *Module) Provision(ctx context.Context, env *registry.Env) error {
	m.root = env.DocumentRoot
	if m.root == "" {
		return fmt.Errorf("static: vhost %s has no document_root", env.VHost)
	}
	s, err := fileserver.New(m.root, m.opts)
	if err != nil {
		return err
	}
	if s.IsFile() {
		s.Close()
		return fmt.Errorf("static %s: document_root is not a directory", m.root)
	}
	m.fs = s
	if env.Logger != nil {
		env.Logger.Debug("static: serving", "root", m.root, "browse", m.opts.Browse, "dotfiles", m.opts.Dotfiles)
	}
	return nil
}

// Wrap returns the handler serving r.URL.Path below document_root. A
// missing file runs next; every other failure is returned (see
// FileServer.Serve).
func (m *Module) Wrap(next registry.Handler) registry.Handler {
	return registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if !strings.HasPrefix(r.URL.Path, "/") {
			return registry.Errorf(http.StatusNotFound, "static: path %q is not absolute", r.URL.Path)
		}
		if m.try != nil {
			return m.fs.ServeTry(w, r, r.URL.Path, m.try)
		}
		return fileserver.ServeOrNext(m.fs, w, r, r.URL.Path, next)
	})
}

// Cleanup closes the document root.
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
	root := m.root
	if root == "" {
		root = "document_root"
	}
	d := fmt.Sprintf("static %s (browse %s, dotfiles %s, index %s", root, onOff(m.opts.Browse), onOff(m.opts.Dotfiles), strings.Join(m.opts.Index, " "))
	if m.try != nil {
		fb := m.try.Fallback
		if fb == "" {
			fb = fmt.Sprintf("=%d", m.try.Status)
		}
		d += ", try_files " + strings.Join(m.try.Tries, " ") + " " + fb
	}
	return d + ")"
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

var (
	_ registry.Module    = (*Module)(nil)
	_ registry.Validator = (*Module)(nil)
	_ registry.Cleaner   = (*Module)(nil)
	_ registry.Describer = (*Module)(nil)
)
