package wsgi

import (
	"fmt"
	"net/http"
	"os"
	"strings"

	"httpd/registry"
)

// Explain says which WSGI application the request goes to, in which
// pool, and with what SCRIPT_NAME and PATH_INFO. The status is the
// application's to choose.
func (m *Module) Explain(r *http.Request, mt registry.Mount) registry.Explanation {
	var b strings.Builder
	fmt.Fprintf(&b, "passes it to the WSGI app %s (callable %s) in %d %s × %d %s of %s, with SCRIPT_NAME=%q and PATH_INFO=%q",
		m.Script, m.Callable, m.Processes, plural(m.Processes, "process", "processes"), m.Threads, plural(m.Threads, "thread", "threads"),
		m.Python, mt.ScriptName, mt.Path)
	if m.RequestTimeout > 0 {
		fmt.Fprintf(&b, "; past request_timeout %s it gets 504 and the worker is replaced", m.RequestTimeout)
	}
	if _, err := os.Stat(m.Script); err != nil {
		fmt.Fprintf(&b, "; but the script cannot be read (%v), so 500", unwrapPath(err))
		return registry.Explanation{Says: b.String(), Status: http.StatusInternalServerError, Ends: true}
	}
	b.WriteString("; the application chooses the status")
	return registry.Explanation{Says: b.String(), Ends: true}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

var _ registry.Explainer = (*Module)(nil)
