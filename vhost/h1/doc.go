// Package h1 is httpd's HTTP/1.1 server engine for plain (non-TLS)
// listeners. It runs ordinary http.Handlers, as net/http's Server does,
// but costs less per request and far less per idle connection.
//
// # Connections
//
// A connection that is serving a request has a goroutine and pooled
// buffers: one for what the client sent, one for the answer, and the
// parsed head. Between requests it has none of them. Once the answer has
// gone out and nothing else is buffered, the goroutine returns them to
// their pools and waits for the next request in Go's netpoller through
// syscall.RawConn, which needs no buffer. When bytes arrive, it reads
// them into a pooled buffer and serves them.
//
// The waiting goroutine keeps the stack that grew while the handler ran.
// That is what makes a busy keep-alive connection cheap: no goroutine
// start and no stack growth per request. It is also what made net/http
// cost about 20 KiB per idle connection. So at most maxHot connections
// wait that way, each for at most shrinkAfter (one second). A sweep moves
// the others to a fresh goroutine with a minimal stack. An idle keep-alive
// connection then costs its net.Conn, this package's conn (under 300
// bytes) and a stack of 2 to 8 KiB.
//
// Before it looks for its next request, a connection that has just
// answered yields to the others, so that the read usually finds the
// request there. Go polls the network only when it runs out of
// goroutines, so connections that always yield and always find work
// would keep one that waits in the netpoller unread for up to 10ms. A
// second epoll instance sees every connection's incoming bytes; when no
// connection has woken for a while, yieldNow checks it, and if one that
// waits has bytes, yielding stops until it is served (starve.go).
//
// # Requests
//
// The head is parsed in place from the read buffer (parse.go) without
// allocating. The *http.Request is then built with every string a
// substring of one copy of the head. Bodies are streamed from the
// connection: Content-Length bodies are read straight into the handler's
// buffer when the read buffer is empty, and chunked bodies are decoded
// with a strict framing parser. "100 Continue" goes out on the first read
// of the body. Several requests in one read (pipelining) are served in
// order, and their answers leave in one write.
//
// # Answers
//
// The ResponseWriter holds up to 4 KiB of body before it commits the head,
// so short answers get an exact Content-Length and leave in a single
// write(2) with their head. Longer answers without a declared length are
// chunked (HTTP/1.1) or delimited by closing (HTTP/1.0). With a declared
// length, io.ReaderFrom hands files to the connection's ReadFrom, which
// uses sendfile(2). The head and the file's first 256 KiB go out under
// TCP_CORK, so that the head shares full segments with the file (nginx's
// tcp_nopush); the rest goes out uncorked, as lighttpd does, which the
// client receives faster. Before the first file larger than 128 KiB, the
// connection gets TCP_NOTSENT_LOWAT, so the socket queues at most that
// much unsent (see notSentLowat). Large writes go out with writev(2)
// rather than being copied. The writer also supports Flush,
// http.ResponseController (deadlines, EnableFullDuplex) and Hijack.
// A 101 Switching Protocols goes out with the handler's fields,
// Connection and Upgrade included, and no framing; a Hijack after it
// hands the connection over (one no handler takes is closed).
//
// # Context
//
// A request's context carries http.ServerContextKey and
// http.LocalAddrContextKey, and it is cancelled when the handler returns.
// It is also cancelled when the client goes away (resets the connection;
// a client that only shut down its sending side still reads the answer,
// and a failed write ends the request anyway), but watching for that
// costs a goroutine and a read, so this starts only once a handler asks
// for Done() and the request body has been read. Static files never ask,
// while CGI and WSGI do. A Hijack stops the watching for good: the
// connection is then the handler's alone.
//
// # Protections
//
// The engine refuses everything net/http refuses before a handler runs,
// and more. Content-Length together with Transfer-Encoding gets 400, and so
// do differing Content-Lengths and a malformed Host. Transfer-Encoding on
// HTTP/1.0 gets 501. A head over MaxHeaderBytes, or with more than 100
// fields, gets 431. Bare CR or LF inside chunked framing gets 400. A head
// that does not arrive within ReadHeaderTimeout gets 408. A body left
// unread by the handler is discarded up to 256 KiB; beyond that the
// connection is closed. Answers the engine gives itself take net/http's
// form.
package h1
