package registry

import (
	"context"
	"net/http"
)

// MaxReentries is how many times one request may run the pipeline again
// (internal rewrites, error pages) before it is taken for a loop.
const MaxReentries = 10

type reentryKey struct{}

// Reentered returns r carrying one more re-entry than it had, and that
// count. A stage about to call Env.Pipeline again with a new path calls
// it first and answers 500 (logging the loop) when the count is over
// MaxReentries.
func Reentered(r *http.Request) (*http.Request, int) {
	n, _ := r.Context().Value(reentryKey{}).(int)
	n++
	return r.WithContext(context.WithValue(r.Context(), reentryKey{}, n)), n
}

// Reentries reports how many times r has re-entered the pipeline.
func Reentries(r *http.Request) int {
	n, _ := r.Context().Value(reentryKey{}).(int)
	return n
}
