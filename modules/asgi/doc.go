// Package asgi is the asgi_app module: it mounts a Python ASGI 3.0
// application (FastAPI, Starlette, Django's async handler, or a plain
// async callable; ASGI 2 double callables are adapted) at a URL prefix,
// for HTTP requests and WebSockets, and runs it in a pool of worker
// processes, each one asyncio event loop with any number of requests in
// flight.
//
// # Workers
//
// Each worker is the configured python running the embedded worker.py
// ("python -" with the program on stdin), in its own process group, with
// SIGKILL as its parent-death signal. It inherits two socket pairs: fd 3,
// the control socket, and fd 4, the data socket that every request of the
// worker shares. The worker imports the app, runs the lifespan startup
// and reports on the control socket: ctrlHello (version), then ctrlReady
// or ctrlFailed with the traceback or the lifespan.startup.failed
// message. Closing the control socket asks the worker to stop: it
// finishes what is in flight, runs the lifespan shutdown and exits. A
// worker that dies fails only its own streams (502) and is replaced with
// backoff. A worker whose event loop does not end a cancelled task gets
// SIGUSR1, on which its faulthandler writes every thread's stack to
// stderr, and is then killed.
//
// A worker retires (max_requests, stop, reload): it takes no new stream,
// and its control socket is closed once its streams have ended. Its
// WebSockets get WebSocketGrace; then each is closed with 1001 and the
// application gets a disconnect frame with that code. A worker whose
// streams have not ended StopGrace later is told to stop all the same.
// A retired worker's exit counts as a restart, not a crash.
//
// With the configuration frame's "check" set, the worker only imports
// the application, checks that it is callable, reports and exits: that
// is httpd -t's import check (CheckImport).
//
// # Frames
//
// A frame on either socket is a 1-byte type, a 4-byte big-endian stream
// id, a 4-byte big-endian length and the payload. Server to worker:
//
//	Q  a new stream; the scope as NUL-terminated fields: type, body mode
//	   (0 none, 1 pulled, 2 pushed), http_version, method, scheme, path,
//	   raw_path, query_string, root_path, client host, client port,
//	   server host, server port, then header names and values
//	D  request body: 1 byte more_body, the bytes
//	C  the client went away (WebSocket: 2-byte close code)
//	K  request_timeout: cancel the task and log its stack
//	W  a WebSocket message: 1 byte (0 text, 1 binary), the data
//	a  4-byte count: response bytes written to the client (sent once
//	   64 KiB have been)
//
// Worker to server:
//
//	H  http.response.start: status, then header names and values, NUL-separated
//	B  http.response.body: 1 byte more_body, the bytes
//	R  receive() wants body: 4-byte count; answered with one D
//	E  the application returned: "" or the exception, one line
//	L  text for the error log (tracebacks, task stacks)
//	A  websocket.accept: subprotocol, then header names and values
//	X  websocket.close: 2-byte code, the reason
//	W  websocket.send, as above
//	a  4-byte count: a WebSocket message taken by receive()
//
// Flow control: the request body is pulled one chunk (≤ 64 KiB) per
// receive(), so an upload is never held whole; a pushed body is one of at
// most 64 KiB sent with the request. Response bodies and outgoing
// WebSocket messages may run at most 256 KiB ahead of what the server has
// written to the client, acknowledged with a; incoming WebSocket messages
// at most 16 ahead of the application's receive(). So a slow client or a
// slow application holds up only its own stream, with bounded buffers on
// both sides.
//
// The server side of the WebSocket protocol (RFC 6455 over HTTP/1.1
// Upgrade) is github.com/coder/websocket.
package asgi
