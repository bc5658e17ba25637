package compress

import (
	"net/http"
	"strings"
	"testing"

	"httpd/registry"
)

// nopWriter is a ResponseWriter that discards everything.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(int)             {}

func benchStage(b *testing.B, accept string, body string) {
	m, diags := decodeSrc(b, `compress {}`)
	if len(diags) > 0 {
		b.Fatal(diags)
	}
	if err := m.Provision(b.Context(), &registry.Env{}); err != nil {
		b.Fatal(err)
	}
	ctype := []string{"text/html; charset=utf-8"}
	length := []string{"1024"}
	h := m.Wrap(registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		hd := w.Header()
		hd["Content-Type"] = ctype
		hd["Content-Length"] = length
		w.WriteHeader(200)
		_, err := w.Write([]byte(body))
		return err
	}))
	r, _ := http.NewRequest("GET", "/", nil)
	if accept != "" {
		r.Header.Set("Accept-Encoding", accept)
	}
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		if err := h.ServeHTTP(w, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPassthrough is the cost of the stage for a client that accepts
// no coding: what every request of a vhost with compress pays.
func BenchmarkPassthrough(b *testing.B) { benchStage(b, "", strings.Repeat("x", 1024)) }

// BenchmarkGzip1K encodes a 1 KiB body per request.
func BenchmarkGzip1K(b *testing.B) {
	benchStage(b, "gzip", strings.Repeat("<p>hello, world</p>\n", 52))
}
