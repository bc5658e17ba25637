package vhost

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// blockRecorder is an engine's writer that takes ready heads, as h1's.
type blockRecorder struct {
	*httptest.ResponseRecorder
	head string // block and more as given, "" if none
}

func (b *blockRecorder) WriteHeaderBlock(code int, block, more []byte, length int64, closing bool) {
	b.head = string(block) + string(more)
	b.WriteHeader(code)
}

// TestWriteFixedHead: a ready head goes to the engine, with the Server
// line after the caller's fields, only while the map holds nothing but
// the Server field every answer starts with; else nothing is written and
// the caller goes through the map.
func TestWriteFixedHead(t *testing.T) {
	const fields = "Content-Length: 2\r\nContent-Type: text/plain\r\n"
	for _, tt := range []struct {
		name  string
		setup func(h http.Header)
		want  bool
	}{
		{"only Server", func(http.Header) {}, true},
		{"another field", func(h http.Header) { h.Set("X-Frame-Options", "DENY") }, false},
		{"Server replaced", func(h http.Header) { h.Set("Server", "other") }, false},
		{"Server removed", func(h http.Header) { h.Del("Server") }, false},
	} {
		rec := &blockRecorder{ResponseRecorder: httptest.NewRecorder()}
		rw := newResponseWriter(rec, httptest.NewRequest("GET", "/", nil))
		tt.setup(rw.Header())
		got := rw.WriteFixedHead(200, []byte(fields), 2)
		if got != tt.want {
			t.Errorf("%s: WriteFixedHead = %v, want %v", tt.name, got, tt.want)
		}
		switch {
		case got && rec.head != fields+"Server: httpd\r\n":
			t.Errorf("%s: head %q", tt.name, rec.head)
		case !got && (rec.head != "" || rw.wroteHeader):
			t.Errorf("%s: refused, yet wrote %q", tt.name, rec.head)
		}
		rw.release()
	}
}
