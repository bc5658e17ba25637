package alias

import (
	"net/http"

	"httpd/internal/fileserver"
	"httpd/registry"
)

// Explain says which file under the aliased path the rest of the
// request's path names, and what the answer would be.
func (m *Module) Explain(r *http.Request, mt registry.Mount) registry.Explanation {
	e := fileserver.Explain(m.path, m.opts, r, mt.Path)
	e.Says = "maps " + m.prefix + " onto " + m.path + ": " + e.Says
	return e
}

var _ registry.Explainer = (*Module)(nil)
