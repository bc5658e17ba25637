package asgi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"httpd/registry"
)

// stream is one request's conversation with a worker, multiplexed with
// the others on the worker's data socket. The pool's reader pushes the
// worker's frames; the request's goroutine takes them.
type stream struct {
	w  *worker
	id uint32

	abandoned atomic.Bool // the request gave up; frames are dropped
	ended     atomic.Bool // the worker sent frameEnd, or is gone

	ws   bool          // a WebSocket
	away chan struct{} // a WebSocket's: closed when its retiring worker's grace is over

	mu     sync.Mutex // guards q and dead
	q      []inFrame
	dead   bool
	notify chan struct{} // one pending wake-up
}

type inFrame struct {
	typ  byte
	data []byte
}

func newStream(w *worker, id uint32, ws bool) *stream {
	s := &stream{w: w, id: id, ws: ws, notify: make(chan struct{}, 1)}
	if ws {
		s.away = make(chan struct{})
	}
	return s
}

func (s *stream) push(typ byte, data []byte) {
	s.mu.Lock()
	s.q = append(s.q, inFrame{typ, data})
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// broken tells the stream that its worker is gone.
func (s *stream) broken() {
	s.mu.Lock()
	s.dead = true
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// take returns the frames received so far and whether the worker is
// gone.
func (s *stream) take(into []inFrame) ([]inFrame, bool) {
	s.mu.Lock()
	into = append(into[:0], s.q...)
	clear(s.q)
	s.q = s.q[:0]
	dead := s.dead
	s.mu.Unlock()
	return into, dead
}

func (s *stream) send(typ byte, payload ...[]byte) error {
	return s.w.write(appendFrame(nil, typ, s.id, payload...))
}

func (s *stream) ack(n int) error {
	var b [frameHeaderLen + 4]byte
	appendFrameHeader(b[:0], frameAck, s.id, 4)
	binary.BigEndian.PutUint32(b[frameHeaderLen:], uint32(n))
	return s.w.write(b[:])
}

// isWebSocket reports whether r asks to upgrade to a WebSocket (RFC 6455
// over HTTP/1.1).
func isWebSocket(r *http.Request) bool {
	return r.ProtoMajor == 1 && r.Method == http.MethodGet &&
		headerHasToken(r.Header, "Connection", "upgrade") &&
		headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// serve runs one request through a worker.
func (m *Module) serve(w http.ResponseWriter, r *http.Request, mt registry.Mount) error {
	p := m.pool
	if p == nil {
		return registry.Errorf(503, "asgi %s: no worker pool", m.Prefix)
	}
	ws := isWebSocket(r)
	sc := newScope(r, mt, ws)
	var body []byte
	if !ws && r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		if r.ContentLength > 0 && r.ContentLength <= pushLimit {
			body = make([]byte, 1+r.ContentLength)
			if _, err := io.ReadFull(r.Body, body[1:]); err != nil {
				return bodyError(m.Prefix, err)
			}
			sc.Body = bodyPushed
		} else {
			sc.Body = bodyPulled
		}
	}
	frame, err := appendRequest(nil, 0, &sc)
	if err != nil {
		return registry.Errorf(http.StatusBadRequest, "asgi %s: %v", m.Prefix, err)
	}
	s, err := p.open(r.Context(), m.RequestTimeout, ws)
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint32(frame[1:], s.id)
	if sc.Body == bodyPushed {
		frame = appendFrame(frame, frameData, s.id, body)
	}
	if err := s.w.write(frame); err != nil {
		p.abandon(s)
		return registry.Error(http.StatusBadGateway, fmt.Errorf("asgi %s: worker %d: send request: %w", m.Prefix, s.w.pid, err))
	}
	if ws {
		return m.serveWebSocket(w, r, s)
	}
	ex := &exchange{m: m, s: s, w: w, r: r, declared: -1}
	return ex.run()
}

func bodyError(prefix string, err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("asgi %s: request body: %w", prefix, err)
	}
	return registry.Error(http.StatusBadRequest, fmt.Errorf("asgi %s: reading the request body: %w", prefix, err))
}

// exchange is one HTTP request's side of a stream.
type exchange struct {
	m  *Module
	s  *stream
	w  http.ResponseWriter
	r  *http.Request
	rc *http.ResponseController

	timer    *time.Timer // watchAfter, then request_timeout
	watching bool        // the client is watched; timer counts request_timeout
	unacked  int         // body bytes written and not yet acknowledged

	resp      response
	gotHead   bool
	started   bool
	complete  bool
	failed    error
	declared  int64
	written   int64
	clientErr error
	bodyEOF   bool
	bodyErr   error
	buf       []byte
}

// watchAfter is how long a request waits for its answer before the
// client connection is watched for going away. Asking for the request
// context's Done costs the HTTP/1.1 engine a goroutine, a read and three
// deadline changes; most answers come back well before this.
const watchAfter = 5 * time.Millisecond

// run relays the stream's frames until the application returns, the
// worker dies, the client goes away or the request times out.
func (ex *exchange) run() error {
	s, m := ex.s, ex.m
	// One timer serves both: it first fires at watchAfter to start
	// watching the client, then at request_timeout.
	first := watchAfter
	if m.RequestTimeout > 0 && m.RequestTimeout < first {
		first = m.RequestTimeout
	}
	ex.timer = time.NewTimer(first)
	defer ex.timer.Stop()
	var done <-chan struct{}
	var frames []inFrame
	for {
		select {
		case <-s.notify:
		case <-done:
			return ex.gone()
		case <-ex.timer.C:
			if ex.watching {
				return ex.timedOut()
			}
			ex.watching = true
			done = ex.r.Context().Done()
			if m.RequestTimeout <= 0 {
				continue
			}
			if rest := m.RequestTimeout - first; rest > 0 {
				ex.timer.Reset(rest)
				continue
			}
			return ex.timedOut()
		}
		var dead bool
		frames, dead = s.take(frames)
		for _, f := range frames {
			end, err := ex.handle(f)
			if end || err != nil {
				if err != nil {
					ex.m.pool.abandon(s)
				}
				return err
			}
			if ex.clientErr != nil {
				return ex.gone()
			}
		}
		if dead {
			return ex.broken(errors.New("worker exited"))
		}
	}
}

// handle acts on one frame; end reports that the stream is over.
func (ex *exchange) handle(f inFrame) (end bool, err error) {
	switch f.typ {
	case frameStart:
		if ex.gotHead {
			return true, ex.broken(errors.New("second http.response.start"))
		}
		ex.gotHead = true
		ex.resp, err = parseStart(f.data)
		if err != nil {
			ex.failed = fmt.Errorf("asgi %s: the application sent %w", ex.m.Prefix, err)
		}
	case frameBody:
		if !ex.gotHead || len(f.data) == 0 {
			return true, ex.broken(errors.New("body before http.response.start"))
		}
		more := f.data[0] == 1
		ex.writeBody(f.data[1:], more)
		if ex.watching && ex.m.RequestTimeout > 0 {
			// Once the response has begun, request_timeout bounds the
			// wait for each next part: a stream that keeps sending
			// (server-sent events) lives on, one that stalls is cut.
			// (Before watching starts, the timer's next turn resets it.)
			ex.timer.Reset(ex.m.RequestTimeout)
		}
		if more {
			ex.unacked += len(f.data) - 1
			if ex.unacked >= ackBatch {
				if err := ex.s.ack(ex.unacked); err != nil {
					return true, ex.broken(err)
				}
				ex.unacked = 0
			}
		} else {
			ex.complete = true
		}
	case frameRead:
		if len(f.data) != 4 {
			return true, ex.broken(errors.New("malformed read frame"))
		}
		if err := ex.readBody(int(binary.BigEndian.Uint32(f.data))); err != nil {
			return true, err
		}
	case frameEnd:
		return true, ex.finish(string(f.data))
	default:
		return true, ex.broken(fmt.Errorf("unexpected frame type %q", f.typ))
	}
	return false, nil
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
				ex.failed = registry.Errorf(500, "asgi %s: the application sent an invalid Content-Length %q", ex.m.Prefix, kv[1])
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

func (ex *exchange) writeBody(p []byte, more bool) {
	ex.start()
	if !ex.started || ex.clientErr != nil {
		return
	}
	if ex.declared >= 0 && int64(len(p)) > ex.declared-ex.written {
		p = p[:ex.declared-ex.written]
	}
	if len(p) > 0 {
		n, err := ex.w.Write(p)
		ex.written += int64(n)
		if err != nil {
			ex.clientErr = err
			return
		}
	}
	if more {
		if ex.rc == nil {
			ex.rc = http.NewResponseController(ex.w)
		}
		if err := ex.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			ex.clientErr = err
		}
	}
}

// readBody answers a frameRead with up to n bytes of the request body.
func (ex *exchange) readBody(n int) error {
	want := min(n, readChunk)
	if cap(ex.buf) < 1+want {
		ex.buf = make([]byte, 1+want)
	}
	b := ex.buf[:1+want]
	k := 0
	var err error
	if !ex.bodyEOF && want > 0 {
		for k == 0 && err == nil {
			k, err = ex.r.Body.Read(b[1:])
		}
	}
	switch {
	case err == io.EOF || ex.bodyEOF:
		ex.bodyEOF = true
		b[0] = 0
	case err != nil && k == 0:
		ex.bodyErr = err
		if serr := ex.s.send(frameDisconnect); serr != nil {
			return ex.broken(serr)
		}
		ex.m.pool.abandon(ex.s)
		return bodyError(ex.m.Prefix, err)
	default:
		b[0] = 1
	}
	if err := ex.s.send(frameData, b[:1+k]); err != nil {
		return ex.broken(err)
	}
	return nil
}

// finish completes the exchange when the application returned.
func (ex *exchange) finish(appErr string) error {
	if appErr != "" {
		err := fmt.Errorf("asgi %s: application error: %s", ex.m.Prefix, appErr)
		if ex.started {
			return err
		}
		return registry.Error(http.StatusInternalServerError, err)
	}
	if !ex.gotHead {
		return registry.Errorf(500, "asgi %s: %s %s: the application returned without sending a response", ex.m.Prefix, ex.r.Method, ex.r.RequestURI)
	}
	ex.start()
	if ex.failed != nil {
		return ex.failed
	}
	switch {
	case !ex.complete:
		return fmt.Errorf("asgi %s: %s %s: the application returned before the response was complete", ex.m.Prefix, ex.r.Method, ex.r.RequestURI)
	case ex.clientErr != nil:
		return fmt.Errorf("asgi %s: writing the response: %w", ex.m.Prefix, ex.clientErr)
	}
	return nil
}

// gone tells the worker that the client went away.
func (ex *exchange) gone() error {
	_ = ex.s.send(frameDisconnect)
	ex.m.pool.abandon(ex.s)
	err := ex.clientErr
	if err == nil {
		err = ex.r.Context().Err()
	}
	return registry.Error(registry.StatusClientClosed, fmt.Errorf("asgi %s: the client went away: %w", ex.m.Prefix, err))
}

// timedOut cancels the application's task; a worker that does not end it
// within cancelGrace is killed.
func (ex *exchange) timedOut() error {
	m := ex.m
	m.pool.cancel(ex.s)
	if ex.started {
		return fmt.Errorf("asgi %s: %s %s sent nothing for request_timeout %s; response cut, task cancelled (its stack is in the log)", m.Prefix, ex.r.Method, ex.r.RequestURI, m.RequestTimeout)
	}
	err := fmt.Errorf("asgi %s: %s %s ran past request_timeout %s; task cancelled (its stack is in the log)", m.Prefix, ex.r.Method, ex.r.RequestURI, m.RequestTimeout)
	return registry.Error(http.StatusGatewayTimeout, err)
}

// broken reports a stream that failed: the worker died or broke the
// protocol.
func (ex *exchange) broken(err error) error {
	ex.m.pool.abandon(ex.s)
	err = fmt.Errorf("asgi %s: worker %d: %w", ex.m.Prefix, ex.s.w.pid, err)
	if ex.started {
		return err
	}
	return registry.Error(http.StatusBadGateway, err)
}
