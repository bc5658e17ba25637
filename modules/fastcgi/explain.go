package fastcgi

import (
	"fmt"
	"net/http"
	"os"
	"strings"

	"httpd/internal/fileserver"
	"httpd/registry"
)

// Explain says whether the request runs a script on the responder (and
// which: SCRIPT_FILENAME, PATH_INFO) or gets a file of document_root, by
// the rules of route. It opens document_root to look, nothing else.
func (m *Module) Explain(r *http.Request, _ registry.Mount) registry.Explanation {
	if m.docRoot == "" {
		return registry.Explanation{Says: "has no document_root to find scripts in (500)", Status: http.StatusInternalServerError, Ends: true}
	}
	root, err := os.OpenRoot(m.docRoot)
	if err != nil {
		return registry.Explanation{Says: fmt.Sprintf("cannot open document_root %s: %v (500)", m.docRoot, err), Status: http.StatusInternalServerError, Ends: true}
	}
	defer root.Close()
	c := *m
	c.root = root
	if c.SplitPath == nil {
		c.SplitPath = DefaultSplitPath
	}
	if c.Index == nil {
		c.Index = DefaultIndex
	}
	rt, err := c.route(r.URL.Path, r.URL.EscapedPath())
	if err != nil {
		status := registry.StatusOf(err)
		return registry.Explanation{Says: fmt.Sprintf("%v (%d)", err, status), Status: status, Ends: true}
	}
	if rt.kind == routeFile {
		e := fileserver.Explain(m.docRoot, fileserver.Options{}, r, rt.file)
		e.Says = "serves it as a file, as the path names no script: " + e.Says
		return e
	}
	var b strings.Builder
	if rt.front {
		fmt.Fprintf(&b, "no file or script matches, so the front_controller %s runs: ", m.FrontController)
	}
	fmt.Fprintf(&b, "passes it to the FastCGI responder %s with SCRIPT_FILENAME=%s, SCRIPT_NAME=%q and PATH_INFO=%q",
		m.To, c.filename(rt.scriptName), rt.scriptName, rt.pathInfo)
	if m.Timeout > 0 {
		fmt.Fprintf(&b, "; 504 if no response header comes within %s", m.Timeout)
	}
	b.WriteString("; the script chooses the status (502 if the responder cannot be reached)")
	return registry.Explanation{Says: b.String(), Ends: true}
}

var _ registry.Explainer = (*Module)(nil)
