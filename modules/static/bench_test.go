package static

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a ResponseWriter that keeps only its header map, so the
// benchmark measures the file server rather than a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

func BenchmarkServeSmallFile(b *testing.B) {
	root, _ := newTree(b)
	s, err := NewFileServer(root, Options{Index: DefaultIndex})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := httptest.NewRequest("GET", "/hello.txt", nil)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		if err := s.Serve(w, r, r.URL.Path); err != nil {
			b.Fatal(err)
		}
	}
}
