// Package h2 is httpd's HTTP/2 server engine (RFC 9113) for connections
// that chose "h2" by ALPN on TLS listeners. It runs ordinary
// http.Handlers, as net/http's own HTTP/2 server does, with the same
// request and response semantics.
//
// # Goroutines
//
// A connection has two goroutines of its own, and one more per stream
// while the stream's handler runs.
//
//   - The reader (conn.serve) reads frames with x/net's http2.Framer,
//     which also decodes HPACK and checks frame-level rules. It keeps the
//     stream states, answers SETTINGS and PING, takes WINDOW_UPDATE, feeds
//     request bodies, and hands each new stream to a handler goroutine.
//     One that has served a stream waits (up to two seconds, at most 128
//     in the process) for the next, keeping the stack the handler path
//     grew (see workers.go).
//   - The writer (conn.writeLoop) owns the socket's write side. Everyone
//     else appends whole frames to one output buffer under the
//     connection's mutex and wakes it. It yields once before taking the
//     buffer, so that handlers that are ready to run add their answers
//     first, and then writes everything in one call. Under load, one
//     write to the TLS connection carries the answers of many streams.
//   - Handlers write their responses themselves: the HEADERS frame is
//     HPACK-encoded and queued under the connection's mutex, which keeps
//     the encoder's state in the order the frames go out, and DATA frames
//     are queued as the stream's and the connection's send windows allow.
//     A handler blocks when a window is closed, or when the output buffer
//     holds more than 256 KiB the writer has not taken.
//
// net/http's HTTP/2 server instead routes every frame through one serve
// goroutine, and starts a goroutine for any write that does not fit its
// buffer. That hand-off, and the goroutine starts and stack growth it
// causes, was most of its cost per request.
//
// # Responses
//
// The header is snapshotted at WriteHeader as HPACK fields. Up to 8 KiB of
// body is held back: a response that fits leaves when the handler
// returns, with a Content-Length, as one HEADERS and one DATA frame. Date
// is added, Content-Type is sniffed when absent, 1xx answers and
// 100 Continue are sent, and trailers are sent declared ("Trailer") or
// prefixed (http.TrailerPrefix), as net/http does. Flush sends what is
// held at once.
//
// # Limits
//
// The server offers 1 MiB receive windows per stream and per connection,
// which bound what a connection can make it buffer, and gives window back
// as handlers read. It advertises MaxConcurrentStreams and refuses streams
// beyond it; a client that resets streams faster than their handlers end
// is cut off with ENHANCE_YOUR_CALM, as is one that sends SETTINGS or
// PINGs without reading the answers. A header list over MaxHeaderBytes
// gets 431. A malformed request, such as one with connection-specific
// header fields, is a stream error of type PROTOCOL_ERROR.
//
// Conformance is checked with h2spec (h2spec_test.go), and behaviour
// against net/http's HTTP/2 server by a differential test (diff_test.go).
package h2
