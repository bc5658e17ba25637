package vhost

import (
	"io"
	"net/http/httptest"
	"testing"
)

type discardCloser struct{}

func (discardCloser) Write(p []byte) (int, error) { return len(p), nil }
func (discardCloser) Close() error                { return nil }

var _ io.WriteCloser = discardCloser{}

// BenchmarkAccessLog measures one combined-format line from many
// goroutines at once.
func BenchmarkAccessLog(b *testing.B) {
	a := newAccessLog(discardCloser{}, "combined")
	defer a.Close()
	r := httptest.NewRequest("GET", "/index.html?q=1", nil)
	r.RemoteAddr = "192.0.2.1:1234"
	r.Header.Set("User-Agent", "bench/1.0")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		rw := &responseWriter{status: 200, bytes: 1024}
		for pb.Next() {
			a.log(rw, r, "x")
		}
	})
}
