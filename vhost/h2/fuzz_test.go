package h2_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"httpd/vhost/h2"
)

// FuzzConn feeds arbitrary frames after the client preface. Whatever
// comes, the server must not panic, and once the client hangs up its
// connection must end: no goroutine may stay blocked on the stream
// states, windows or body pipes the input left behind.
func FuzzConn(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	srv := &h2.Server{
		MaxConcurrentStreams: 8,
		MaxHeaderBytes:       4 << 10,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-T")
			b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			w.Write(b)
			w.(http.Flusher).Flush()
			w.Write(bytes.Repeat([]byte("x"), 70000)) // beyond the default window
			w.Header().Set("X-T", "t")
		}),
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.ServeConn(server)
		}()
		go io.Copy(io.Discard, client)
		client.SetWriteDeadline(time.Now().Add(time.Second))
		client.Write([]byte(http2.ClientPreface))
		client.Write(in)
		client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("connection still served 5s after the client hung up; input %q", in)
		}
	})
}

// fuzzSeeds are well-formed conversations to mutate: a GET, a POST with
// a body and trailers, and control frames.
func fuzzSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	frames := func(write func(fr *http2.Framer, enc func(...string) []byte)) []byte {
		var b, hb bytes.Buffer
		fr := http2.NewFramer(&b, nil)
		e := hpack.NewEncoder(&hb)
		enc := func(kv ...string) []byte {
			hb.Reset()
			for i := 0; i+1 < len(kv); i += 2 {
				e.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
			}
			return bytes.Clone(hb.Bytes())
		}
		if err := fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 100}); err != nil {
			t.Fatal(err)
		}
		write(fr, enc)
		return b.Bytes()
	}
	req := []string{":method", "GET", ":scheme", "https", ":path", "/", ":authority", "a.test"}
	seeds = append(seeds, frames(func(fr *http2.Framer, enc func(...string) []byte) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(req...), EndStream: true, EndHeaders: true})
		fr.WriteWindowUpdate(1, 1<<20)
		fr.WriteWindowUpdate(0, 1<<20)
	}))
	seeds = append(seeds, frames(func(fr *http2.Framer, enc func(...string) []byte) {
		post := []string{":method", "POST", ":scheme", "https", ":path", "/up", ":authority", "a.test",
			"content-length", "5", "trailer", "x-r"}
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: enc(post...), EndHeaders: true})
		fr.WriteData(3, false, []byte("hel"))
		fr.WriteData(3, false, []byte("lo"))
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: enc("x-r", "v"), EndStream: true, EndHeaders: true})
		fr.WriteRSTStream(3, http2.ErrCodeCancel)
	}))
	seeds = append(seeds, frames(func(fr *http2.Framer, enc func(...string) []byte) {
		fr.WritePing(false, [8]byte{1, 2, 3})
		fr.WritePriority(5, http2.PriorityParam{StreamDep: 1, Weight: 9})
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: enc(req...)[:3], EndStream: true})
		fr.WriteContinuation(5, true, enc(req...)[3:])
		fr.WriteGoAway(0, http2.ErrCodeNo, nil)
	}))
	return seeds
}
