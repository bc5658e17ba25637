package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"httpd/registry"
)

// Redirect travels in the context of a request that a gateway redirected
// internally, for the gateway that serves it.
type Redirect struct {
	Depth    int    // 1 for the first redirect of a client's request
	URL      string // the path of the request that redirected (REDIRECT_URL)
	Query    string // its raw query (REDIRECT_QUERY_STRING)
	HadQuery bool   // whether it had a query, even an empty one
}

type redirectKey struct{}

// RedirectOf returns the Redirect that r came by, or nil for a request
// that no gateway redirected.
func RedirectOf(r *http.Request) *Redirect {
	rd, _ := r.Context().Value(redirectKey{}).(*Redirect)
	return rd
}

// InternalRedirect serves an internal redirect to loc (RFC 3875 §6.2.2),
// a local path and query that a response's Location gave: it hands
// dispatch, the vhost's own handler (registry.Env.Dispatch), a GET for
// loc with r's headers but those about a body, and a Redirect one deeper
// than r's in its context. The chain of redirects is one however many
// gateways it passes through.
//
// It returns the errors before dispatch, each with its status: 500 when
// the chain would be longer than max or there is no dispatch, 502 when
// loc is not a request URI. The caller adds what names the script.
func InternalRedirect(w http.ResponseWriter, r *http.Request, loc string, max int, dispatch func(http.ResponseWriter, *http.Request)) error {
	rd := &Redirect{Depth: 1, URL: r.URL.Path, Query: r.URL.RawQuery, HadQuery: r.URL.RawQuery != "" || r.URL.ForceQuery}
	if prev := RedirectOf(r); prev != nil {
		rd.Depth = prev.Depth + 1
	}
	if rd.Depth > max {
		return registry.Error(http.StatusInternalServerError, fmt.Errorf("more than %d internal redirects (the last to %q)", max, loc))
	}
	if dispatch == nil {
		return registry.Error(http.StatusInternalServerError, fmt.Errorf("internal redirect to %q: no dispatcher", loc))
	}
	u, err := url.ParseRequestURI(loc)
	if err != nil {
		return registry.Error(http.StatusBadGateway, fmt.Errorf("bad Location %q: %w", loc, err))
	}
	r2 := r.Clone(context.WithValue(r.Context(), redirectKey{}, rd))
	r2.Method = http.MethodGet
	r2.URL = u
	r2.RequestURI = loc
	r2.Body = http.NoBody
	r2.GetBody = nil
	r2.ContentLength = 0
	r2.TransferEncoding = nil
	r2.Trailer = nil
	r2.Form, r2.PostForm, r2.MultipartForm = nil, nil, nil
	for _, k := range []string{"Content-Length", "Content-Type", "Transfer-Encoding", "Content-Encoding", "Expect"} {
		r2.Header.Del(k)
	}
	dispatch(w, r2)
	return nil
}
