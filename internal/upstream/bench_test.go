package upstream

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkRoundTrip compares this client with http.Transport on one kept
// connection to an upstream answering 1 KiB, as reverse_proxy uses them.
// Run with -cpu 1 to see the goroutine hand-offs that http.Transport adds.
func BenchmarkRoundTrip(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 1024)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1024")
		w.Write(payload)
	}))
	defer up.Close()
	addr := strings.TrimPrefix(up.URL, "http://")
	buf := make([]byte, 32<<10)
	drain := func(b *testing.B, resp *http.Response) {
		for {
			_, err := resp.Body.Read(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		resp.Body.Close()
	}
	b.Run("upstream", func(b *testing.B) {
		p := NewPool(4, 0)
		defer p.CloseIdle()
		o := &Options{Dial: func(ctx context.Context) (net.Conn, error) { return net.Dial("tcp", addr) }}
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		b.ReportAllocs()
		for b.Loop() {
			resp, err := p.RoundTrip(req, o, nil)
			if err != nil {
				b.Fatal(err)
			}
			drain(b, resp)
		}
	})
	b.Run("http.Transport", func(b *testing.B) {
		tr := &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		b.ReportAllocs()
		for b.Loop() {
			resp, err := tr.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			drain(b, resp)
		}
	})
}
