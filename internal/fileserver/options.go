package fileserver

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"httpd/registry"
)

// OptionAttributes is the schema of the attributes Options are decoded
// from, for modules that embed the file server's settings (alias).
var OptionAttributes = []hcl.AttributeSchema{
	{Name: "index"},
	{Name: "browse"},
	{Name: "dotfiles"},
	{Name: "cache_control"},
	{Name: "cache"},
	{Name: "cache_max_file"},
	{Name: "cache_size"},
}

// DefaultIndex is the index list used when a block sets none.
var DefaultIndex = []string{"index.html"}

// DecodeOptions reads the attributes of OptionAttributes from a block's
// content, with their defaults for absent ones. Index names must be plain
// file names.
func DecodeOptions(content *hcl.BodyContent, dc *registry.DecodeContext) (Options, hcl.Diagnostics) {
	var o Options
	var diags, d hcl.Diagnostics
	o.Index, d = registry.StringList(content, "index", dc.Eval, DefaultIndex)
	diags = append(diags, d...)
	if attr, ok := content.Attributes["index"]; ok && !d.HasErrors() {
		for _, name := range o.Index {
			if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
				diags = append(diags, registry.AttrError(attr, "Invalid index file name",
					fmt.Sprintf("%q is not a file name: index lists names looked up in each directory, such as \"index.html\".", name)))
			}
		}
	}
	o.Browse, d = registry.Bool(content, "browse", dc.Eval, false)
	diags = append(diags, d...)
	o.Dotfiles, d = registry.Bool(content, "dotfiles", dc.Eval, false)
	diags = append(diags, d...)
	o.CacheControl, d = registry.String(content, "cache_control", dc.Eval, "")
	diags = append(diags, d...)
	if attr, ok := content.Attributes["cache_control"]; ok && strings.ContainsAny(o.CacheControl, "\r\n\x00") {
		diags = append(diags, registry.AttrError(attr, "Invalid cache_control",
			"cache_control is one header value and cannot hold line breaks."))
	}
	cacheOn, d := registry.Bool(content, "cache", dc.Eval, true)
	diags = append(diags, d...)
	o.Cache.Off = !cacheOn
	for _, sz := range []struct {
		name string
		def  int64
		dst  *int64
	}{
		{"cache_max_file", DefaultCacheMaxFile, &o.Cache.MaxFile},
		{"cache_size", DefaultCacheSize, &o.Cache.Size},
	} {
		*sz.dst, d = registry.Size(content, sz.name, dc.Eval, sz.def)
		diags = append(diags, d...)
		if attr, ok := content.Attributes[sz.name]; ok && !d.HasErrors() && *sz.dst <= 0 {
			diags = append(diags, registry.AttrError(attr, "Invalid "+sz.name,
				sz.name+" must be more than 0 bytes; to turn the cache off, set cache = false."))
		}
	}
	return o, diags
}

// ServeOrNext calls s.Serve and, when the file is simply missing, hands
// the request to next instead (when next is not nil).
func ServeOrNext(s *FileServer, w http.ResponseWriter, r *http.Request, urlPath string, next registry.Handler) error {
	err := s.Serve(w, r, urlPath)
	if err != nil && next != nil && errors.Is(err, fs.ErrNotExist) && statusOf(err) == http.StatusNotFound {
		return next.ServeHTTP(w, r)
	}
	return err
}

// statusOf is registry.StatusOf without its allocation in the common
// case of a *registry.StatusError.
func statusOf(err error) int {
	if se, ok := err.(*registry.StatusError); ok {
		return se.Status
	}
	return registry.StatusOf(err)
}
