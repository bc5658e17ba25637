package cgi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"httpd/internal/gateway"
	"httpd/registry"
)

// handler serves the requests of one mount.
type handler struct {
	m *Module
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// stdoutReaders holds the readers of the scripts' header blocks.
var stdoutReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// ServeMount runs the script the URL names. See the package doc for the
// protocol; errors before the response starts carry the client's status.
//
// A 404 is marked registry.Notice, so the vhost logs it at info level
// with its reason: it logs other 404s at debug, so that the misses of
// static files do not flood the log, but a script that cannot be found
// under a CGI mount is rare and points at a broken link or config.
func (h *handler) ServeMount(w http.ResponseWriter, r *http.Request, mt registry.Mount) error {
	s, err := h.m.resolve(mt, r.URL.Path, r.URL.EscapedPath())
	if err != nil {
		return registry.Notice(err)
	}
	ex := &exchange{m: h.m, w: w, r: r, s: s, stdin: -1, contentLength: -1}
	defer ex.close()
	if err := ex.prepareBody(); err != nil {
		return err
	}
	if err := ex.start(); err != nil {
		return err
	}
	ex.feedStdin()
	hdr, err := ex.readHeader()
	if err != nil {
		return err
	}
	if hdr.LocalRedirect() {
		return ex.redirect(hdr.Location)
	}
	hdr.WriteHeader(ex.w)
	return ex.streamBody()
}

// exchange is one request's run of a script: ServeMount takes it through
// its steps in order (prepareBody, start, feedStdin, readHeader, then
// redirect or the header's WriteHeader and streamBody), and close undoes whatever was
// done. It is used by the request's goroutine and, for the fields marked
// so, by the goroutine that feeds stdin.
type exchange struct {
	m *Module
	w http.ResponseWriter
	r *http.Request
	s *script

	// The request body: streamed when its length is known (or when the
	// mount streams chunked bodies), else collected first so that
	// CONTENT_LENGTH can be set.
	body          io.Reader // what feedStdin copies to the pipe; nil for none
	stdin         int       // the child's stdin until start; -1 for /dev/null
	spooled       *os.File  // a body collected in a file; closed by close
	streaming     bool      // body is r.Body itself
	contentLength int64     // CONTENT_LENGTH, or -1 for none

	c      *child        // the running script, once started
	br     *bufio.Reader // the script's stdout, from stdoutReaders
	stdinW *os.File      // the server's end of stdin; nil without a body

	// Shared with the stdin goroutine.
	stdinDone chan struct{} // closed when feeding stdin has ended
	abandoned atomic.Bool   // the handler has stopped caring about stdin
	reading   atomic.Bool   // the stdin goroutine is inside a body Read
}

// prepareBody decides how the request body reaches stdin, collecting a
// body of unknown length first unless the mount streams it.
func (ex *exchange) prepareBody() error {
	r := ex.r
	switch {
	case r.ContentLength > 0:
		ex.body, ex.streaming, ex.contentLength = r.Body, true, r.ContentLength
	case r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody:
		if ex.m.StreamChunked {
			ex.body, ex.streaming = r.Body, true
			break
		}
		mem, f, n, err := spool(r.Body)
		if err != nil {
			return bodyError(ex.s, err)
		}
		ex.contentLength = n
		if f != nil {
			ex.spooled = f
			ex.stdin = int(f.Fd())
		} else if n > 0 {
			ex.body = bytes.NewReader(mem)
		}
	default:
		if _, ok := r.Header["Content-Length"]; ok {
			ex.contentLength = 0
		}
	}
	return nil
}

// start takes a process slot and starts the script, with a pipe for its
// stdin when there is a body to feed.
func (ex *exchange) start() error {
	m, r, s := ex.m, ex.r, ex.s
	if err := m.acquire(r.Context()); err != nil {
		if registry.StatusOf(err) == http.StatusServiceUnavailable {
			ex.w.Header().Set("Retry-After", "1")
		}
		return fmt.Errorf("cgi %s: %w", s.Filename, err)
	}
	stdin := ex.stdin
	if ex.body != nil {
		pw, pr, err := childPipe(false)
		if err != nil {
			<-m.slots
			return fmt.Errorf("cgi %s: %w", s.Filename, err)
		}
		stdin, ex.stdinW = pr, pw
	}
	c, err := m.start(r.Context(), s, m.environ(r, s, ex.contentLength), stdin, r.Method+" "+gateway.RequestURI(r), r.RemoteAddr)
	if ex.stdinW != nil {
		syscall.Close(stdin)
	}
	if err != nil {
		<-m.slots
		if ex.stdinW != nil {
			ex.stdinW.Close()
			ex.stdinW = nil
		}
		return startStatus(err)
	}
	ex.c = c
	ex.br = stdoutReaders.Get().(*bufio.Reader)
	ex.br.Reset(c.stdout)
	return nil
}

// feedStdin copies the body to the script's stdin from its own goroutine,
// so that the script may answer before it has read all of its input.
func (ex *exchange) feedStdin() {
	ex.stdinDone = make(chan struct{})
	if ex.stdinW == nil {
		close(ex.stdinDone)
		return
	}
	if ex.streaming {
		_ = http.NewResponseController(ex.w).EnableFullDuplex()
	}
	go func() {
		defer close(ex.stdinDone)
		er := &errReader{r: ex.body, reading: &ex.reading}
		_, _ = io.Copy(ex.stdinW, er)
		ex.stdinW.Close()
		if er.err != nil && !ex.abandoned.Load() {
			ex.c.cancel(fmt.Errorf("request body: %w", er.err))
		}
	}()
}

// responseOptions are what a script may write beyond the strict header
// block: an NPH status line and continuation lines.
var responseOptions = gateway.ResponseOptions{StatusLine: true, Folding: true}

// readHeader reads the script's CGI header block. Output that is not one
// stops the script and is a 502.
func (ex *exchange) readHeader() (*gateway.ResponseHeader, error) {
	hdr, err := gateway.ReadResponseHeader(ex.br, MaxHeaderBytes, responseOptions)
	if err != nil {
		if ex.c.stopped() {
			return nil, ex.stopped("before its headers")
		}
		ex.c.cancel(gateway.ErrBadResponse)
		return nil, registry.Error(http.StatusBadGateway, fmt.Errorf("cgi %s: %w", ex.s.Filename, err))
	}
	return hdr, nil
}

// redirect serves an internal redirect: the script's output is discarded,
// and the slot is free again before the new request runs.
func (ex *exchange) redirect(loc string) error {
	_, _ = io.Copy(io.Discard, ex.br)
	ex.c.finish()
	<-ex.c.done
	if ex.c.stopped() && !errors.Is(ex.c.cause(), errLinger) {
		return ex.stopped("before the end of its output")
	}
	return ex.m.redirect(ex.w, ex.r, ex.s, loc)
}

// streamBody copies the rest of the script's output to the client.
func (ex *exchange) streamBody() error {
	c := ex.c
	if err := copyBody(ex.w, ex.br, c.stdout); err != nil {
		if c.ctx.Err() == nil {
			c.cancel(errClientGone)
		}
		return registry.Error(registry.StatusClientClosed, fmt.Errorf("cgi %s: %w", ex.s.Filename, err))
	}
	if c.stopped() {
		return ex.stopped("mid-response")
	}
	return nil
}

// close ends the exchange: it tells the child the handler is done with
// its output, stops feeding stdin and waits for that goroutine, and
// releases the buffers and the spooled body.
func (ex *exchange) close() {
	if ex.br != nil {
		ex.br.Reset(nil)
		stdoutReaders.Put(ex.br)
	}
	if c := ex.c; c != nil {
		c.finish()
		c.stdout.Close()
		if ex.stdinW != nil {
			ex.abandoned.Store(true)
			ex.stdinW.Close()
			// A Read blocked on a stalled client is cut short with a
			// read deadline. Only a Read in progress is: on HTTP/1 a
			// deadline while the server's own background read runs
			// (after the body's end) would fail the connection.
			forced := false
			if ex.streaming && ex.reading.Load() {
				forced = http.NewResponseController(ex.w).SetReadDeadline(time.Now()) == nil
			}
			<-ex.stdinDone
			if forced {
				_ = http.NewResponseController(ex.w).SetReadDeadline(time.Time{})
			}
		}
	}
	if ex.spooled != nil {
		ex.spooled.Close()
	}
}

// stopped is the error for a script stopped by its context: 504 on
// timeout, 503 when the server stops, the body's error when the request
// body failed.
func (ex *exchange) stopped(when string) error {
	s := ex.s
	cause := ex.c.cause()
	switch {
	case errors.Is(cause, errTimeout):
		ex.m.timeouts.Add(1)
		return registry.Error(http.StatusGatewayTimeout, fmt.Errorf("cgi %s: timed out after %s %s; process group stopped", s.Filename, ex.m.Timeout, when))
	case errors.Is(cause, errStopping):
		return registry.Error(http.StatusServiceUnavailable, fmt.Errorf("cgi %s: stopped %s: %w", s.Filename, when, cause))
	case errors.Is(cause, errClientGone):
		return registry.Error(registry.StatusClientClosed, fmt.Errorf("cgi %s: client went away %s; process group stopped", s.Filename, when))
	}
	var mbe *http.MaxBytesError
	if errors.As(cause, &mbe) {
		return fmt.Errorf("cgi %s: %w", s.Filename, cause)
	}
	return registry.Error(http.StatusBadRequest, fmt.Errorf("cgi %s: stopped %s: %w", s.Filename, when, cause))
}

// bodyError maps a failure to read the request body.
func bodyError(s *script, err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("cgi %s: request body: %w", s.Filename, err)
	}
	return registry.Error(http.StatusBadRequest, fmt.Errorf("cgi %s: request body: %w", s.Filename, err))
}

// acquire takes a process slot, waiting up to QueueTimeout.
func (m *Module) acquire(ctx context.Context) error {
	select {
	case m.slots <- struct{}{}:
		return nil
	default:
	}
	full := registry.Errorf(http.StatusServiceUnavailable, "all %d process slots busy for %s", m.MaxProcesses, m.QueueTimeout)
	if m.QueueTimeout <= 0 {
		return full
	}
	t := time.NewTimer(m.QueueTimeout)
	defer t.Stop()
	m.queued.Add(1)
	defer m.queued.Add(-1)
	defer func(start time.Time) { m.queueWait.Add(int64(time.Since(start))) }(time.Now())
	select {
	case m.slots <- struct{}{}:
		return nil
	case <-t.C:
		return full
	case <-m.stop.Done():
		return registry.Error(http.StatusServiceUnavailable, errStopping)
	case <-ctx.Done():
		return registry.Error(registry.StatusClientClosed, fmt.Errorf("waiting for a process slot: %w", errClientGone))
	}
}

// copyBody streams the script's output after the headers: what br holds,
// then every read as it returns. The response is flushed whenever the
// script has nothing more to read right now, so output written a line at
// a time reaches the client a line at a time, while output written in a
// burst goes out in as few writes as possible. It returns nil at EOF and
// the error when the client cannot be written to.
func copyBody(w http.ResponseWriter, br *bufio.Reader, stdout *os.File) error {
	rc := http.NewResponseController(w)
	discard := false
	write := func(b []byte) error {
		if discard {
			return nil
		}
		_, err := w.Write(b)
		if errors.Is(err, http.ErrBodyNotAllowed) {
			discard = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("writing response: %w", err)
		}
		return nil
	}
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		if err := write(b); err != nil {
			return err
		}
	}
	raw, err := stdout.SyscallConn()
	if err != nil {
		_, err := io.Copy(writerFunc(write), stdout)
		return err
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var flushErr error
	for {
		var n int
		var rerr error
		flushed := false
		err := raw.Read(func(fd uintptr) bool {
			for {
				n, rerr = syscall.Read(int(fd), buf)
				if rerr != syscall.EINTR {
					break
				}
			}
			if rerr == syscall.EAGAIN {
				if !flushed && !discard {
					flushed = true
					if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
						flushErr = err
						return true
					}
				}
				return false
			}
			return true
		})
		if flushErr != nil {
			return fmt.Errorf("writing response: %w", flushErr)
		}
		if err != nil {
			return nil // stdout closed under us: the script is gone
		}
		if rerr != nil {
			return nil // a read error on a pipe means the writer is gone
		}
		if n == 0 {
			return nil
		}
		if err := write(buf[:n]); err != nil {
			return err
		}
	}
}

type writerFunc func([]byte) error

func (f writerFunc) Write(b []byte) (int, error) {
	if err := f(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// errReader remembers the error its reader returned, other than io.EOF,
// and flags when a Read is in progress.
type errReader struct {
	r       io.Reader
	err     error
	reading *atomic.Bool
}

func (e *errReader) Read(p []byte) (int, error) {
	e.reading.Store(true)
	n, err := e.r.Read(p)
	e.reading.Store(false)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// redirect re-enters the vhost with a GET for loc (see
// gateway.InternalRedirect).
func (m *Module) redirect(w http.ResponseWriter, r *http.Request, s *script, loc string) error {
	if err := gateway.InternalRedirect(w, r, loc, MaxRedirects, m.dispatch); err != nil {
		return fmt.Errorf("cgi %s: %w", s.Filename, err)
	}
	return nil
}
