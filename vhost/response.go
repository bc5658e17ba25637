package vhost

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// responseWriter records what the access log needs and forwards the
// optional interfaces net/http's writer has, so that sendfile (via
// io.ReaderFrom), flushing and hijacking still work through it.
type responseWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
	abort       bool      // the handler failed mid-response
	start       time.Time // set only when the access log records durations
}

var rwPool = sync.Pool{New: func() any { return new(responseWriter) }}

var serverHeader = []string{"httpd"}

func newResponseWriter(w http.ResponseWriter, r *http.Request) *responseWriter {
	rw := rwPool.Get().(*responseWriter)
	*rw = responseWriter{ResponseWriter: w, status: http.StatusOK}
	w.Header()["Server"] = serverHeader
	return rw
}

func (rw *responseWriter) release() {
	rw.ResponseWriter = nil
	rwPool.Put(rw)
}

func (rw *responseWriter) WriteHeader(code int) {
	if !rw.wroteHeader {
		if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
			rw.ResponseWriter.WriteHeader(code) // informational: the real status follows
			return
		}
		rw.status = code
		rw.wroteHeader = true
	}
	rw.ResponseWriter.WriteHeader(code)
}

// headerBlockWriter is the engine's writer (vhost/h1) taking a header
// block prepared in advance (see h1's WriteHeaderBlock).
type headerBlockWriter interface {
	WriteHeaderBlock(code int, block, more []byte, length int64, closing bool)
}

// writeHeaderBlock sends a prepared head when the engine takes one; false
// when it does not or a header went out already, and nothing was written.
func (rw *responseWriter) writeHeaderBlock(code int, block, more []byte, length int64, closing bool) bool {
	bw, ok := rw.ResponseWriter.(headerBlockWriter)
	if !ok || rw.wroteHeader {
		return false
	}
	rw.status = code
	rw.wroteHeader = true
	bw.WriteHeaderBlock(code, block, more, length, closing)
	return true
}

// serverLine is the Server field that newResponseWriter puts in the map,
// as a header line.
var serverLine = []byte("Server: " + serverHeader[0] + "\r\n")

// WriteFixedHead sends the head of an answer whose fields are known in
// advance (the file server's cached files): fields holds them as
// "Name: value\r\n" lines, sorted, all of them sorting before "Server",
// with the Content-Length line for length bytes and a Content-Type line.
// It works only where the header map holds nothing but the Server field
// put there for every answer, and the engine takes a ready head (HTTP/1);
// otherwise it writes nothing and reports false, and the caller goes
// through the map.
func (rw *responseWriter) WriteFixedHead(code int, fields []byte, length int64) bool {
	if !onlyServerField(rw.ResponseWriter.Header()) {
		return false
	}
	return rw.writeHeaderBlock(code, fields, serverLine, length, false)
}

func (rw *responseWriter) Write(p []byte) (int, error) {
	rw.wroteHeader = true
	n, err := rw.ResponseWriter.Write(p)
	rw.bytes += int64(n)
	return n, err
}

// ReadFrom lets net/http send files with sendfile.
func (rw *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	rw.wroteHeader = true
	var n int64
	var err error
	if rf, ok := rw.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(rw.ResponseWriter, src)
	}
	rw.bytes += n
	return n, err
}

func (rw *responseWriter) Flush() {
	rw.wroteHeader = true
	if f, ok := rw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (rw *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(rw.ResponseWriter).Hijack()
	if err == nil && !rw.wroteHeader {
		// A handler takes the connection over to switch protocols
		// (a proxied WebSocket): the access log records the 101 it
		// writes itself.
		rw.status = http.StatusSwitchingProtocols
	}
	rw.wroteHeader = true
	return c, brw, err
}

// Unwrap gives http.ResponseController the writer beneath.
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.ResponseWriter }
