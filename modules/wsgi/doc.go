// Package wsgi is the wsgi_script_alias module: it mounts a Python WSGI
// application (PEP 3333) at a URL prefix and runs it in a pool of Python
// worker processes that the server starts and supervises, like mod_wsgi in
// daemon mode.
//
// # Workers
//
// Each mount has its own pool of Processes workers. A worker is the
// configured python running the bootstrap program embedded from worker.py
// (standard library only). It loads the script as a module, looks up the
// callable and serves Threads requests at a time, one per thread. The
// server talks to a worker over socket pairs it creates and passes down
// as inherited descriptors: fd 3 is the control socket, fds 4 … 3+Threads
// are the connections, one per worker thread. No socket files exist, so
// nothing else can reach a worker.
//
// A worker's command line is short and names it: the server runs
//
//	python - "httpd wsgi MOUNT (VHOST) worker N"
//
// with the program on standard input, which the application then finds
// at end of file. So ps and top tell the workers of each mount apart; N
// counts the workers the pool has started.
//
// On the control socket the server first sends a C frame saying what to
// run: "key\0value\0…" pairs for script, callable, mount, threads,
// processes, virtualenv and python_path (repeated, one directory each).
// The worker answers V ("version\0executable": its sys.version number
// and sys.executable) before it loads the application, which the pool
// logs once, and then reports once more: R ("ready", its pid) after the
// application loaded, or I ("import error") with the traceback. The
// server closes the control socket to tell a worker to exit once its
// threads are done. Meanwhile the server may send T with a thread's
// number ("3" for thread wsgi-3); the worker answers T with that
// thread's Python stack (sys._current_frames, without the worker's own
// frames), which the server logs for a request that ran past
// RequestTimeout. For httpd -t, a C frame with "check" set makes the
// worker exit after R or I without serving.
//
// # Framing
//
// Every message on a connection is a frame: a 1-byte type, a 4-byte
// big-endian payload length, then the payload (at most 4 MiB). The
// exchange is lock-step, one request at a time per connection, so each
// worker thread blocks in its own recv loop and no request is handed from
// thread to thread.
//
// Server to worker:
//
//	Q  request without a body; payload is the environ as
//	   "KEY\0VALUE\0KEY\0VALUE\0..." (latin-1): one read, one split
//	P  request whose whole body (at most PushLimit bytes) follows at once
//	   in a D frame, in the same write
//	S  request whose body the worker pulls with R frames
//	D  body bytes answering R; an empty D means the end of the body
//	X  answering R: the body could not be read (the worker raises OSError)
//	K  answering F: the server sends the file itself
//	N  answering F: the worker must iterate the file instead
//
// Worker to server:
//
//	H  "status\0name\0value\0..." — sent with the first non-empty body
//	   chunk, or at the end of an empty response
//	B  a body chunk (at most 1 MiB; larger chunks are split); each is
//	   written and flushed to the client when no further frame is already
//	   waiting
//	F  "path\0offset\0length": the application returned a
//	   wsgi.file_wrapper over a regular file; path is /proc/PID/fd/N, which
//	   the server opens and sends (sendfile when the response has a length)
//	R  4-byte count: wsgi.input needs up to this many more bytes; the
//	   server answers with D holding at most that many, so wsgi.input never
//	   takes more of the body than the application asked for
//	L  text written to wsgi.errors; logged with the request's method, URI
//	   and client address
//	E  the response is complete
//	X  the application raised; payload is the exception's one-line summary
//	   (its traceback went out before in an L frame). Before any header was
//	   sent this is a 500, afterwards the response is cut short.
//
// A worker sends E before it calls the iterable's close(), so close() does
// not delay the response; what close() writes to wsgi.errors goes to the
// worker's stderr, which the server logs too.
//
// # Supervision
//
// A request that finds every worker thread busy waits for one, up to
// RequestTimeout (then 503). If its client goes away meanwhile, it is
// dropped without reaching a worker with a registry.StatusClientClosed
// (499) error, which the vhost logs at info level and never sends;
// watching for that costs a goroutine and a read, so it starts once the
// request has waited watchAfter.
//
// The pool keeps Processes workers. A worker that exits unexpectedly is
// replaced after a backoff (100ms doubling to 10s, reset once a worker
// is ready); only the requests it was serving fail, with 502. A request
// running past RequestTimeout gets 504 and its worker is killed and
// replaced; first the Python stack of the thread running it is logged
// with the request's method, URI and client (the worker has StackWait to
// send it). After MaxRequests requests a worker takes no more, finishes
// the ones it has and exits while a fresh one starts. With Reload the
// script's modification time is polled every second; on a change fresh
// workers start and each one that is ready retires an old one, so no
// request is refused. A script that fails to load makes every request a
// 500 until a worker loads it; the traceback is logged and the load is
// retried with a backoff (1s doubling to 30s) or at once when the script
// changes.
//
// Workers die with the server: each runs in its own process group, is
// started with a parent-death signal (SIGKILL), exits when its control
// socket closes or its parent changes, and Cleanup stops every group that
// has not exited after StopGrace.
package wsgi
