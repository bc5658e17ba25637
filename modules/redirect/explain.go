package redirect

import (
	"fmt"
	"net/http"

	"httpd/registry"
)

// Explain says whether the block redirects the request, and where to.
func (m *Module) Explain(r *http.Request, _ registry.Mount) registry.Explanation {
	switch {
	case !registry.MatchPrefix(m.prefix, r.URL.Path):
		return registry.Explanation{Says: fmt.Sprintf("does not apply: %s is not under %s", r.URL.Path, m.prefix)}
	case hasDotSegment(r.URL.Path[len(m.prefix):]):
		return registry.Explanation{Says: fmt.Sprintf("does not apply: the path below %s has a \".\" or \"..\" segment", m.prefix)}
	case m.status == http.StatusGone:
		return registry.Explanation{Says: fmt.Sprintf("answers 410 Gone: everything under %s is gone for good", m.prefix), Status: http.StatusGone, Ends: true}
	}
	return registry.Explanation{
		Says:   fmt.Sprintf("answers %d %s with Location: %s", m.status, http.StatusText(m.status), m.Target(r.URL)),
		Status: m.status,
		Ends:   true,
	}
}

var _ registry.Explainer = (*Module)(nil)
