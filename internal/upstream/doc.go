// Package upstream is an HTTP/1.1 client for a reverse proxy's
// upstreams: a pool of kept connections per upstream and a RoundTrip
// that runs on the caller's goroutine.
//
// # Why not http.Transport
//
// http.Transport gives each connection two goroutines, a readLoop and a
// writeLoop, and hands every request and every response between them and
// the caller over channels. For a proxy in front of a fast upstream that
// is most of the cost: on one CPU, wrk -c50 through reverse_proxy to a Go
// server answering 1 KiB ran at 0.50× nginx's proxy_pass with upstream
// keepalive, and a CPU profile was dominated by the scheduler (the
// hand-offs wake three goroutines per request) and their syscalls. See
// bench/RESULTS.md, "Proxy and FastCGI: where the time went", for the
// figures before and after.
//
// Here the caller's goroutine takes an idle connection, writes the
// request with (*http.Request).Write into the connection's buffer, and
// parses the answer with http.ReadResponse from its bufio.Reader: the
// standard library's own framing (Content-Length, chunked with
// trailers, until close, HEAD, 1xx, 204 and 304), without its
// goroutines. The response's body reads from the connection as the
// caller reads it, so back-pressure is the caller's.
//
// # Keeping connections
//
// A connection goes back to the pool only when the body was read to its
// end, nothing more was buffered, the request was sent whole and
// neither side asked to close (Connection: close, HTTP/1.0 without
// keep-alive, a body delimited by closing). Closing a body before its
// end closes the connection. The pool is a stack: the most recently used
// connection is taken first, and one idle longer than the idle timeout
// is closed instead.
//
// An idle connection may have been closed by the upstream meanwhile. A
// request without a body that then gets no answer at all (EOF or reset
// before the first byte), or a GET, HEAD, OPTIONS or TRACE whose answer
// broke off, is sent once more on a new connection. A request with a
// body cannot be sent twice, so for it a kept connection is checked
// first with a non-blocking MSG_PEEK.
//
// # Request bodies
//
// A request with a body is written by a goroutine of its own while the
// caller reads the answer, so that an upstream may answer before it has
// read the body, and full-duplex streams work. The response header
// timeout then counts from the end of the request, as with
// http.Transport. A failure to read the client's body is a *BodyError
// and ends the exchange.
//
// # Not here
//
// TLS, protocol switches (Upgrade, WebSocket) and "Expect:
// 100-continue" stay with http.Transport, which the caller keeps for
// them; they are not where a proxy's time goes.
package upstream
