// Package gatewaytest holds what the tests of the gateway modules share
// to stand in for the vhost around a mount's handler.
package gatewaytest

import "net/http"

// TrackingWriter notes whether the response has started, as the vhost's
// writer does: a handler's error after that is only logged, not turned
// into an error page. Unwrap lets http.ResponseController reach the
// writer underneath.
type TrackingWriter struct {
	http.ResponseWriter
	Wrote bool // WriteHeader or Write was called
}

func (w *TrackingWriter) WriteHeader(code int) {
	w.Wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *TrackingWriter) Write(b []byte) (int, error) {
	w.Wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap returns the writer underneath.
func (w *TrackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
