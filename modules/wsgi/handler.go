package wsgi

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"httpd/internal/gateway"
	"httpd/registry"
)

// serve runs one request through a worker.
func (m *Module) serve(w http.ResponseWriter, r *http.Request, mt registry.Mount) error {
	p := m.pool
	if p == nil {
		return registry.Errorf(503, "wsgi %s: no worker pool", m.Prefix)
	}
	mode := byte(frameRequest)
	var body []byte
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		if r.ContentLength > 0 && r.ContentLength <= PushLimit {
			body = make([]byte, r.ContentLength)
			if _, err := io.ReadFull(r.Body, body); err != nil {
				return bodyError(m.Prefix, err)
			}
			mode = frameRequestPush
		} else {
			mode = frameRequestStream
		}
	}
	c, err := p.acquire(r.Context(), m.RequestTimeout)
	if err != nil {
		return err
	}
	ex := &exchange{m: m, mount: mt, c: c, w: w, r: r, declared: -1}
	var timedOut atomic.Bool
	var timer *time.Timer
	if m.RequestTimeout > 0 {
		timer = time.AfterFunc(m.RequestTimeout, func() {
			timedOut.Store(true)
			m.logStack(c, r)
			p.killForTimeout(c.w)
		})
	}
	err, ok := ex.run(mode, body)
	if timer != nil && !timer.Stop() {
		ok = false // the worker is being killed
	}
	p.release(c, ok)
	if timedOut.Load() && !ok {
		err = fmt.Errorf("wsgi %s: request ran past request_timeout %s; worker %d stopped", m.Prefix, m.RequestTimeout, c.w.pid)
		if !ex.started {
			return registry.Error(http.StatusGatewayTimeout, err)
		}
	}
	return err
}

func bodyError(prefix string, err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("wsgi %s: request body: %w", prefix, err)
	}
	return registry.Error(http.StatusBadRequest, fmt.Errorf("wsgi %s: reading the request body: %w", prefix, err))
}

// exchange is one request's conversation with a worker thread.
type exchange struct {
	m     *Module
	mount registry.Mount // what the router matched
	c     *conn
	w     http.ResponseWriter
	r     *http.Request
	rc    *http.ResponseController

	resp      response
	gotHead   bool
	started   bool  // WriteHeader called
	failed    error // the response cannot be sent; frames are drained
	declared  int64 // Content-Length the application set, or -1
	written   int64
	overflow  bool
	clientErr error
	bodyEOF   bool
	bodyErr   error
}

// run sends the request and relays frames until the response ends. ok
// reports whether the connection is still in step and may serve again.
func (ex *exchange) run(mode byte, body []byte) (err error, ok bool) {
	c := ex.c
	if err := ex.send(mode, body); err != nil {
		return err, false
	}
	for {
		typ, payload, buf, err := readFrame(c.br, c.buf)
		c.buf = buf
		if err != nil {
			return ex.broken(err), false
		}
		switch typ {
		case frameHeaders:
			if ex.gotHead {
				return ex.broken(errors.New("second header frame")), false
			}
			ex.gotHead = true
			ex.resp, err = parseHeaders(payload)
			if err != nil {
				ex.fail(fmt.Errorf("wsgi %s: the application sent %w", ex.m.Prefix, err))
			}
		case frameBody:
			if !ex.gotHead {
				return ex.broken(errors.New("body before headers")), false
			}
			ex.writeBody(payload)
		case frameFile:
			if !ex.gotHead {
				return ex.broken(errors.New("file before headers")), false
			}
			if err := ex.sendFile(payload); err != nil {
				return ex.broken(err), false
			}
		case frameRead:
			if len(payload) != 4 {
				return ex.broken(errors.New("malformed read frame")), false
			}
			if err := ex.readBody(binary.BigEndian.Uint32(payload)); err != nil {
				return ex.broken(err), false
			}
		case frameLog:
			ex.m.log.Error("wsgi.errors", "text", strings.TrimRight(string(payload), "\n"),
				"method", ex.r.Method, "uri", ex.r.RequestURI, "remote", ex.r.RemoteAddr)
		case frameEnd:
			if !ex.gotHead {
				return ex.broken(errors.New("end before headers")), false
			}
			return ex.finish(), true
		case frameError:
			return ex.appError(string(payload)), true
		default:
			return ex.broken(fmt.Errorf("unknown frame type %q", typ)), false
		}
	}
}

// send writes the request frame: the environ, and the body when it is
// pushed.
func (ex *exchange) send(mode byte, body []byte) error {
	m, r := ex.m, ex.r
	b := appendFrameHeader(ex.c.out[:0], mode, 0)
	pairs := 0
	add := func(k, v string) {
		b = appendPair(b, k, v)
		pairs++
	}
	add("SCRIPT_NAME", ex.mount.ScriptName)
	add("PATH_INFO", ex.mount.Path)
	add("SCRIPT_FILENAME", m.Script)
	add("DOCUMENT_ROOT", m.docRoot)
	switch {
	case mode == frameRequestPush:
		add("CONTENT_LENGTH", strconv.Itoa(len(body)))
	case r.ContentLength > 0:
		add("CONTENT_LENGTH", strconv.FormatInt(r.ContentLength, 10))
	case r.Header.Get("Content-Length") != "":
		add("CONTENT_LENGTH", "0")
	}
	if len(r.TransferEncoding) > 0 {
		// net/http takes Transfer-Encoding out of r.Header; frameworks
		// look for it to know that a body without CONTENT_LENGTH is
		// there all the same.
		add("HTTP_TRANSFER_ENCODING", strings.Join(r.TransferEncoding, ", "))
	}
	if r.TLS != nil {
		add("wsgi.url_scheme", "https")
	} else {
		add("wsgi.url_scheme", "http")
	}
	gateway.RequestVars(r, gateway.Options{Software: m.software, PassAuth: m.PassAuth}, add)
	if bytes.Count(b[frameHeaderLen:], []byte{0}) != 2*pairs {
		ex.c.out = b
		return registry.Errorf(http.StatusBadRequest, "wsgi %s: request holds a NUL byte", m.Prefix)
	}
	setFrameLength(b, 0)
	if mode == frameRequestPush {
		b = appendFrameHeader(b, frameData, len(body))
		b = append(b, body...)
	}
	ex.c.out = b
	if _, err := ex.c.nc.Write(b); err != nil {
		return registry.Error(http.StatusBadGateway, fmt.Errorf("wsgi %s: worker %d: send request: %w", m.Prefix, ex.c.w.pid, err))
	}
	return nil
}

func (ex *exchange) fail(err error) {
	if ex.failed == nil {
		ex.failed = err
	}
}

// start sends the status and headers once.
func (ex *exchange) start() {
	if ex.started || ex.failed != nil {
		return
	}
	h := ex.w.Header()
	for _, kv := range ex.resp.header {
		if strings.EqualFold(kv[0], "Content-Length") {
			n, err := strconv.ParseInt(strings.TrimSpace(kv[1]), 10, 64)
			if err != nil || n < 0 {
				ex.fail(registry.Errorf(500, "wsgi %s: the application sent an invalid Content-Length %q", ex.m.Prefix, kv[1]))
				return
			}
			ex.declared = n
		}
	}
	for _, kv := range ex.resp.header {
		h.Add(kv[0], kv[1])
	}
	ex.started = true
	ex.w.WriteHeader(ex.resp.status)
}

func (ex *exchange) writeBody(p []byte) {
	ex.start()
	if !ex.started || ex.clientErr != nil {
		return
	}
	if ex.declared >= 0 && int64(len(p)) > ex.declared-ex.written {
		p = p[:ex.declared-ex.written]
		ex.overflow = true
	}
	if len(p) > 0 {
		n, err := ex.w.Write(p)
		ex.written += int64(n)
		if err != nil {
			ex.clientErr = err
			return
		}
	}
	if ex.c.br.Buffered() == 0 {
		ex.flush()
	}
}

func (ex *exchange) flush() {
	if ex.rc == nil {
		ex.rc = http.NewResponseController(ex.w)
	}
	if err := ex.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		ex.clientErr = err
	}
}

// sendFile answers a frameFile: it opens the worker's file and copies it
// to the client (sendfile where the connection allows), or tells the
// worker to iterate it.
func (ex *exchange) sendFile(payload []byte) error {
	offer, err := parseFileOffer(payload)
	if err != nil {
		return err
	}
	if !isWorkerFD(offer.path, ex.c.w.pid) {
		return fmt.Errorf("wsgi: file frame names %q, not one of the worker's descriptors", offer.path)
	}
	f, err := os.Open(offer.path)
	if err == nil {
		var st os.FileInfo
		st, err = f.Stat()
		if err == nil && !st.Mode().IsRegular() {
			err = errors.New("not a regular file")
		}
		if err == nil {
			_, err = f.Seek(offer.offset, io.SeekStart)
		}
		if err != nil {
			f.Close()
		}
	}
	reply := byte(frameFileOK)
	if err != nil {
		reply = frameFileNo
	}
	if _, werr := ex.c.nc.Write(appendFrameHeader(nil, reply, 0)); werr != nil {
		if f != nil && err == nil {
			f.Close()
		}
		return werr
	}
	if err != nil {
		return nil
	}
	defer f.Close()
	n := offer.length
	if !ex.started && ex.failed == nil && !hasHeader(ex.resp.header, "Content-Length") && bodyAllowed(ex.resp.status) {
		ex.resp.header = append(ex.resp.header, [2]string{"Content-Length", strconv.FormatInt(n, 10)})
	}
	ex.start()
	if !ex.started || ex.clientErr != nil {
		return nil
	}
	if ex.declared >= 0 && n > ex.declared-ex.written {
		n = ex.declared - ex.written
	}
	copied, err := io.Copy(ex.w, io.LimitReader(f, n))
	ex.written += copied
	if err != nil {
		ex.clientErr = err
	}
	return nil
}

func hasHeader(h [][2]string, name string) bool {
	for _, kv := range h {
		if strings.EqualFold(kv[0], name) {
			return true
		}
	}
	return false
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != 204 && status != 304
}

// readBody answers a frameRead with up to n bytes of the request body.
func (ex *exchange) readBody(n uint32) error {
	want := min(int(n), maxRead, 256<<10)
	out := ex.c.out[:0]
	if cap(out) < frameHeaderLen+want {
		out = make([]byte, 0, frameHeaderLen+want)
	}
	out = out[:frameHeaderLen+want]
	k := 0
	if !ex.bodyEOF && ex.bodyErr == nil && want > 0 {
		var err error
		for k == 0 && err == nil {
			k, err = ex.r.Body.Read(out[frameHeaderLen:])
		}
		switch {
		case err == io.EOF:
			if k == 0 {
				ex.bodyEOF = true
			}
		case err != nil && k == 0:
			ex.bodyErr = err
			msg := "reading the request body: " + err.Error()
			out = append(appendFrameHeader(out[:0], frameReadError, len(msg)), msg...)
			ex.c.out = out
			_, werr := ex.c.nc.Write(out)
			return werr
		}
	}
	out = out[:frameHeaderLen+k]
	out[0] = frameData
	setFrameLength(out, 0)
	ex.c.out = out
	_, err := ex.c.nc.Write(out)
	return err
}

// finish completes a response that ended normally.
func (ex *exchange) finish() error {
	ex.start()
	if ex.failed != nil {
		return ex.failed
	}
	switch {
	case ex.overflow:
		return fmt.Errorf("wsgi %s: %s %s: the application sent more than its Content-Length %d; truncated", ex.m.Prefix, ex.r.Method, ex.r.RequestURI, ex.declared)
	case ex.declared >= 0 && ex.written < ex.declared && ex.clientErr == nil && ex.r.Method != http.MethodHead && bodyAllowed(ex.resp.status):
		return fmt.Errorf("wsgi %s: %s %s: the application sent %d bytes of its Content-Length %d", ex.m.Prefix, ex.r.Method, ex.r.RequestURI, ex.written, ex.declared)
	case ex.clientErr != nil:
		return fmt.Errorf("wsgi %s: writing the response: %w", ex.m.Prefix, ex.clientErr)
	}
	return nil
}

// appError reports an exception the application raised; its traceback
// has gone to the log through wsgi.errors.
func (ex *exchange) appError(summary string) error {
	if ex.bodyErr != nil && !ex.started {
		return bodyError(ex.m.Prefix, ex.bodyErr)
	}
	err := fmt.Errorf("wsgi %s: application error: %s", ex.m.Prefix, summary)
	if ex.started {
		return err
	}
	return registry.Error(http.StatusInternalServerError, err)
}

// broken reports a connection that failed mid-exchange: the worker died
// or broke the protocol.
func (ex *exchange) broken(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = errors.New("worker exited")
	}
	err = fmt.Errorf("wsgi %s: worker %d: %w", ex.m.Prefix, ex.c.w.pid, err)
	if ex.started {
		return err
	}
	return registry.Error(http.StatusBadGateway, err)
}

// isWorkerFD reports whether path is /proc/PID/fd/N for the worker's own
// pid: the server opens only descriptors the worker already holds, never
// a path a worker could choose freely.
func isWorkerFD(path string, pid int) bool {
	rest, ok := strings.CutPrefix(path, "/proc/"+strconv.Itoa(pid)+"/fd/")
	if !ok || rest == "" {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	return true
}

// StackWait bounds how long a worker has to send the Python stack of a
// request that ran past request_timeout before it is killed.
const StackWait = 2 * time.Second

// maxStack bounds the stack text a worker sends.
const maxStack = 1 << 20

// logStack logs the Python stack of the worker thread serving r on c,
// which ran past request_timeout, tagged with the request, so that the
// line it hung on can be found from the error log alone. It waits at
// most StackWait for the worker; a worker that cannot answer (it holds
// the interpreter lock in C code, or died) is logged as such.
func (m *Module) logStack(c *conn, r *http.Request) {
	args := []any{"method", r.Method, "uri", r.RequestURI, "remote", r.RemoteAddr, "pid", c.w.pid,
		"thread", fmt.Sprintf("wsgi-%d", c.idx), "timeout", m.RequestTimeout.String()}
	if id := r.Header.Get("X-Request-Id"); id != "" {
		args = append(args, "request_id", id)
	}
	stack, err := c.w.stack(c.idx, StackWait)
	if err != nil {
		m.log.Error("wsgi request ran past request_timeout; no Python stack", append(args, "err", err)...)
		return
	}
	m.log.Error("wsgi request ran past request_timeout; Python stack of its thread", append(args, "stack", stack)...)
}

// stack asks the worker for the Python stack of thread i over the
// control socket and waits at most wait for the answer.
func (w *worker) stack(i int, wait time.Duration) (string, error) {
	w.stackMu.Lock()
	defer w.stackMu.Unlock()
	deadline := time.Now().Add(wait)
	if err := w.ctrl.SetDeadline(deadline); err != nil {
		return "", err
	}
	defer func() { _ = w.ctrl.SetDeadline(time.Time{}) }()
	req := strconv.Itoa(i)
	if _, err := w.ctrl.Write(append(appendFrameHeader(nil, ctrlStack, len(req)), req...)); err != nil {
		return "", fmt.Errorf("asking worker %d for the stack: %w", w.pid, err)
	}
	br := bufio.NewReader(io.LimitReader(w.ctrl, frameHeaderLen+maxStack))
	typ, payload, _, err := readFrame(br, nil)
	switch {
	case err != nil:
		return "", fmt.Errorf("worker %d sent no stack within %s: %w", w.pid, wait, err)
	case typ != ctrlStack:
		return "", fmt.Errorf("worker %d answered the stack request with frame %q", w.pid, typ)
	}
	return strings.TrimRight(string(payload), "\n"), nil
}
