package static

import (
	"net/http"
	"strings"

	"httpd/internal/fileserver"
	"httpd/registry"
)

// Explain says which file under document_root the request names and
// what the answer would be: the file, an index file, a listing, a
// redirect to the slash form of a directory, 403 or 404.
func (m *Module) Explain(r *http.Request, _ registry.Mount) registry.Explanation {
	if m.root == "" {
		return registry.Explanation{Says: "has no document_root to serve, so 404 Not Found", Status: http.StatusNotFound, Ends: true}
	}
	if !strings.HasPrefix(r.URL.Path, "/") {
		return registry.Explanation{Says: "refuses a path that does not start with \"/\" (404)", Status: http.StatusNotFound, Ends: true}
	}
	e := fileserver.Explain(m.root, m.opts, r, r.URL.Path)
	e.Says = "takes the request from document_root " + m.root + ": " + e.Says
	return e
}

var _ registry.Explainer = (*Module)(nil)
