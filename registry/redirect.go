package registry

import (
	"fmt"
	"html"
	"net/http"
)

// WriteRedirect answers r with status and Location loc, and for a GET
// a short HTML body linking to it, as redirect and rewrite both do.
func WriteRedirect(w http.ResponseWriter, r *http.Request, status int, loc string) {
	h := w.Header()
	h.Set("Location", loc)
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		h.Set("Content-Type", "text/html; charset=utf-8")
	}
	w.WriteHeader(status)
	if r.Method == http.MethodGet {
		fmt.Fprintf(w, "<a href=\"%s\">%s</a>.\n", html.EscapeString(loc), http.StatusText(status))
	}
}
