package fastcgi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"httpd/internal/gateway"
	"httpd/internal/upstream"
	"httpd/modules/fastcgi/fcgi"
	"httpd/registry"
)

// Errors of a conversation with the responder.
var (
	errClosedEarly = errors.New("the responder closed the connection before the end of the request")
	errProtocol    = errors.New("FastCGI protocol error")
)

// stdinChunk is the most body one STDIN record carries.
const stdinChunk = 32 << 10

// maxStderrLine bounds a line of STDERR held before it is logged.
const maxStderrLine = 8 << 10

var (
	// stdinBufs hold a STDIN record being framed.
	stdinBufs = sync.Pool{New: func() any { b := make([]byte, fcgi.HeaderLen+stdinChunk+8); return &b }}
	// copyBufs hold response body on its way to the client.
	copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}
	// headerReaders read the CGI header blocks.
	headerReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
)

// responseOptions are what a responder may write beyond the strict CGI
// header block, as nginx reads it: no Status, Content-Type or Location
// (a 200 with the fields there are), an empty Location (ignored) and more
// than one Content-Type.
var responseOptions = gateway.ResponseOptions{Bare: true, EmptyLocation: true, RepeatedContentType: true}

// aLongTimeAgo is a deadline in the past, to wake blocked I/O at once.
var aLongTimeAgo = time.Unix(1, 0)

// exchange is one request's conversation with the responder over one
// connection. The handler's goroutine writes the head and reads the
// answer; when there is a body, a goroutine of its own feeds STDIN, so a
// responder may answer before it has read all of it. The handler never
// returns before that goroutine has ended.
type exchange struct {
	m    *Module
	c    *conn
	w    http.ResponseWriter
	r    *http.Request
	s    *script
	body io.Reader // nil for none

	dl  deadlines
	out stream

	gone atomic.Bool // the client went away

	// STDIN. stdinDone is closed when the feeding goroutine has ended;
	// bodyErr and stdinErr are its to write until then.
	stdinDone chan struct{}
	bodyErr   error       // reading the client's body failed
	stdinErr  error       // writing STDIN to the responder failed
	abandoned atomic.Bool // the handler no longer wants the body sent
	reading   atomic.Bool // the goroutine is inside a body Read

	stderr []byte // a STDERR line not yet ended
	log    *slog.Logger
}

// run carries the request head and body to the responder and its answer
// to the client. retry reports that a kept connection turned out closed
// before any answer to a request without a body, which may then be sent
// again on a new one.
func (ex *exchange) run(head []byte) (err error, retry bool) {
	m, c, w := ex.m, ex.c, ex.w
	ex.dl = deadlines{nc: c.nc, timeout: m.Timeout}
	ex.out = stream{ex: ex}
	// Watched late: most answers come back before watching the client
	// would pay for itself (see upstream.AfterFuncLate).
	stop := upstream.AfterFuncLate(ex.r.Context(), upstream.WatchDelay, func() {
		ex.gone.Store(true)
		ex.dl.abort()
	})
	// finish ends the exchange: STDIN is stopped, the connection kept if
	// ok and nothing went wrong on it, else closed.
	finished := false
	finish := func(ok bool) {
		if finished {
			return
		}
		finished = true
		ex.stopStdin()
		stopped := stop()
		ex.flushStderr()
		// Bytes after END_REQUEST would be taken for the next request's
		// answer: such a connection is not kept.
		reusable := ok && stopped && ex.stdinErr == nil && ex.bodyErr == nil &&
			ex.out.ended && ex.out.end.ProtocolStatus == fcgi.StatusRequestComplete &&
			c.rd.Buffered() == 0 && ex.dl.clear()
		m.pool.put(c, reusable)
	}
	defer finish(false)

	ex.dl.progress()
	if _, err := c.nc.Write(head); err != nil {
		finish(false)
		return ex.failure(err, "sending the request"), c.reused && retryable(err) && !ex.gone.Load()
	}
	ex.stdinDone = make(chan struct{})
	if ex.body == nil {
		close(ex.stdinDone)
	} else {
		go ex.feed()
	}

	br := headerReaders.Get().(*bufio.Reader)
	br.Reset(&ex.out)
	defer func() {
		br.Reset(nil)
		headerReaders.Put(br)
	}()
	hdr, err := gateway.ReadResponseHeader(br, MaxHeaderBytes, responseOptions)
	if err != nil {
		finish(false)
		// Only a request without a body can go again: a body Read that
		// stopStdin cut short may have left the body unusable.
		retry = c.reused && ex.body == nil && ex.out.records == 0 && retryable(err) && !ex.gone.Load()
		return ex.failure(err, "before the response header"), retry
	}
	ex.dl.gotHeader()
	m.pool.answered(c)

	if hdr.LocalRedirect() {
		// An internal redirect: the rest of the answer is discarded and
		// the connection given back before the new request runs.
		if _, err := io.Copy(io.Discard, br); err != nil {
			finish(false)
			return ex.failure(err, "after an internal redirect"), false
		}
		finish(true)
		return m.redirect(w, ex.r, ex.s, hdr.Location), false
	}

	hdr.WriteHeader(w)

	clientErr, respErr := ex.copyBody(br)
	switch {
	case clientErr != nil:
		ex.gone.Store(true)
		ex.dl.abort()
		finish(false)
		return registry.Error(StatusClientClosed, fmt.Errorf("fastcgi %s: client went away mid-response: %w", ex.s.filename, clientErr)), false
	case respErr != nil:
		finish(false)
		return ex.failure(respErr, "mid-response"), false
	}
	finish(true)
	return nil, false
}

// failure is the error for a conversation that failed with err: 499 when
// the client went away, the body's error when the request body failed,
// 504 when the response header did not come within the timeout, 503 when
// the responder says it is overloaded, else 502.
func (ex *exchange) failure(err error, when string) error {
	s, m := ex.s, ex.m
	switch {
	case ex.gone.Load():
		return registry.Error(StatusClientClosed, fmt.Errorf("fastcgi %s: client went away %s; connection to %s closed", s.filename, when, m.To))
	case ex.bodyErr != nil:
		return bodyError(s, ex.bodyErr)
	case errors.Is(err, os.ErrDeadlineExceeded) && !ex.dl.gotHeaderYet():
		return registry.Error(http.StatusGatewayTimeout, fmt.Errorf("fastcgi %s: no response header from %s within timeout %s; connection closed", s.filename, m.To, m.Timeout))
	case ex.out.ended && ex.out.end.ProtocolStatus == fcgi.StatusOverloaded:
		return registry.Error(http.StatusServiceUnavailable, fmt.Errorf("fastcgi %s: the responder at %s is overloaded", s.filename, m.To))
	}
	return registry.Error(http.StatusBadGateway, fmt.Errorf("fastcgi %s: %s %s: %w", s.filename, m.To, when, err))
}

// feed copies the request body to STDIN records, then ends the stream.
// It runs in its own goroutine and closes stdinDone when it returns.
func (ex *exchange) feed() {
	defer close(ex.stdinDone)
	bp := stdinBufs.Get().(*[]byte)
	defer stdinBufs.Put(bp)
	buf := *bp
	for {
		ex.reading.Store(true)
		n, rerr := ex.body.Read(buf[fcgi.HeaderLen : fcgi.HeaderLen+stdinChunk])
		ex.reading.Store(false)
		if n > 0 {
			if err := ex.writeStdin(buf, n); err != nil {
				ex.stdinErr = err
				return
			}
		}
		if rerr == io.EOF {
			if err := ex.writeStdin(buf, 0); err != nil {
				ex.stdinErr = err
			}
			return
		}
		if rerr != nil {
			if !ex.abandoned.Load() {
				ex.bodyErr = rerr
				ex.dl.abort()
			}
			return
		}
	}
}

// writeStdin frames the n bytes at buf[HeaderLen:] as a STDIN record and
// sends it; n == 0 ends the stream.
func (ex *exchange) writeStdin(buf []byte, n int) error {
	pad := fcgi.Padding(n)
	fcgi.PutHeader(buf, fcgi.TypeStdin, reqID, n, pad)
	clear(buf[fcgi.HeaderLen+n : fcgi.HeaderLen+n+pad])
	ex.dl.progress()
	_, err := ex.c.nc.Write(buf[:fcgi.HeaderLen+n+pad])
	return err
}

// stopStdin waits for the STDIN goroutine. When it is still running (the
// answer ended or failed before the body was sent), the connection is cut
// under it and a body Read blocked on a stalled client is cut short with
// a read deadline, which is lifted again after.
func (ex *exchange) stopStdin() {
	if ex.stdinDone == nil {
		return
	}
	select {
	case <-ex.stdinDone:
		return
	default:
	}
	ex.abandoned.Store(true)
	ex.dl.abort()
	forced := false
	if ex.reading.Load() {
		forced = http.NewResponseController(ex.w).SetReadDeadline(aLongTimeAgo) == nil
	}
	<-ex.stdinDone
	if forced {
		_ = http.NewResponseController(ex.w).SetReadDeadline(time.Time{})
	}
}

// copyBody streams the answer after its header to the client: what br
// holds, then each STDOUT record as it comes. The response is flushed
// whenever no more of the answer has arrived, so a script's flush()
// reaches the client at once while a burst goes out in few writes.
// clientErr is a failed write to the client, respErr a failed read from
// the responder; both nil at the end of the request.
func (ex *exchange) copyBody(br *bufio.Reader) (clientErr, respErr error) {
	rc := http.NewResponseController(ex.w)
	discard := false
	write := func(b []byte) error {
		if discard || len(b) == 0 {
			return nil
		}
		_, err := ex.w.Write(b)
		if errors.Is(err, http.ErrBodyNotAllowed) {
			discard = true
			return nil
		}
		return err
	}
	flush := func() error {
		if discard || len(ex.out.pending) > 0 || ex.c.rd.Buffered() > 0 {
			return nil
		}
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil
	}
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		if err := write(b); err != nil {
			return err, nil
		}
		br.Discard(n)
	}
	if err := flush(); err != nil {
		return err, nil
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	for {
		n, err := ex.out.Read(*bp)
		if n > 0 {
			if err := write((*bp)[:n]); err != nil {
				return err, nil
			}
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if err := flush(); err != nil {
			return err, nil
		}
	}
}

// logStderr sends STDERR content to the error log a line at a time,
// tagged with the script and the request.
func (ex *exchange) logStderr(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			ex.stderr = append(ex.stderr, b...)
			if len(ex.stderr) >= maxStderrLine {
				ex.flushStderr()
			}
			return
		}
		ex.stderr = append(ex.stderr, b[:i]...)
		ex.flushStderr()
		b = b[i+1:]
	}
}

// flushStderr logs the STDERR line held, if any.
func (ex *exchange) flushStderr() {
	line := bytes.TrimRight(ex.stderr, "\r")
	ex.stderr = ex.stderr[:0]
	if len(line) == 0 {
		return
	}
	if ex.log == nil {
		ex.log = ex.m.scriptLog(ex.r, ex.s)
	}
	ex.log.Error("script stderr: " + string(line))
}

// stream reads the answer's records and is an io.Reader of its STDOUT:
// STDERR records go to the log as they come, END_REQUEST ends it (io.EOF)
// and anything else is an error. Only the handler's goroutine reads it.
type stream struct {
	ex      *exchange
	pending []byte // the rest of the current STDOUT record
	records int    // records read
	ended   bool   // END_REQUEST has come
	end     fcgi.EndRequest
	err     error // sticky
}

func (s *stream) Read(p []byte) (int, error) {
	for len(s.pending) == 0 {
		switch {
		case s.err != nil:
			return 0, s.err
		case s.ended:
			return 0, io.EOF
		}
		s.next()
	}
	n := copy(p, s.pending)
	s.pending = s.pending[n:]
	return n, nil
}

// next reads one record.
func (s *stream) next() {
	rec, err := s.ex.c.rd.Next()
	if err != nil {
		if err == io.EOF || errors.Is(err, fcgi.ErrTruncated) {
			err = fmt.Errorf("%w (%v)", errClosedEarly, err)
		}
		s.err = err
		return
	}
	s.records++
	if rec.ID != reqID {
		if rec.ID == 0 {
			return // a management record, such as UNKNOWN_TYPE: nothing for us
		}
		s.err = fmt.Errorf("%w: %s record for request %d, not %d", errProtocol, rec.Type, rec.ID, reqID)
		return
	}
	switch rec.Type {
	case fcgi.TypeStdout:
		s.pending = rec.Content
	case fcgi.TypeStderr:
		s.ex.logStderr(rec.Content)
	case fcgi.TypeEndRequest:
		end, err := fcgi.ParseEndRequest(rec.Content)
		if err != nil {
			s.err = fmt.Errorf("%w: %v", errProtocol, err)
			return
		}
		s.end, s.ended = end, true
	default:
		s.err = fmt.Errorf("%w: unexpected %s record", errProtocol, rec.Type)
	}
}

// deadlines keeps the connection's deadlines for one exchange: while the
// response header has not come, the responder has Timeout from the last
// byte of the request sent to answer, and every write must go through
// within Timeout. Its mutex orders the STDIN goroutine's updates against
// the handler's, so that a deadline cleared or forced is not set again.
type deadlines struct {
	mu      sync.Mutex // guards the fields and the connection's deadlines
	nc      net.Conn
	timeout time.Duration
	header  bool // the response header has come
	aborted bool // the deadlines were forced into the past
}

// progress starts the timeout again: called before and after each write.
func (d *deadlines) progress() {
	if d.timeout <= 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.aborted {
		return
	}
	t := time.Now().Add(d.timeout)
	_ = d.nc.SetWriteDeadline(t)
	if !d.header {
		_ = d.nc.SetReadDeadline(t)
	}
}

// gotHeader lifts the read deadline: a script may take its time with the
// body (long polls, server-sent events).
func (d *deadlines) gotHeader() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.header = true
	if !d.aborted {
		_ = d.nc.SetReadDeadline(time.Time{})
	}
}

func (d *deadlines) gotHeaderYet() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.header
}

// abort wakes every blocked read and write on the connection at once;
// the connection is then done for.
func (d *deadlines) abort() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.aborted {
		d.aborted = true
		_ = d.nc.SetDeadline(aLongTimeAgo)
	}
}

// clear lifts the deadlines of a connection about to be kept, reporting
// false if it was aborted.
func (d *deadlines) clear() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.aborted {
		return false
	}
	_ = d.nc.SetDeadline(time.Time{})
	return true
}

var _ io.Reader = (*stream)(nil)
