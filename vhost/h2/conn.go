package h2

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const (
	clientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	// Receive windows the server offers: per stream and per connection.
	// They bound what one connection can make the server buffer.
	streamRecvWindow = 1 << 20
	connRecvWindow   = 1 << 20
	defaultWindow    = 65535
	maxWindow        = 1<<31 - 1
	// maxFrameSize caps the DATA frames the server sends, whatever the
	// peer allows: 16 KiB is also the largest TLS record.
	maxFrameSize = 16 << 10
	// maxOutBuffer is how much queued output makes a handler wait for
	// the writer before it adds more.
	maxOutBuffer = 256 << 10
	// maxControlBacklog is how much queued output the reader tolerates
	// when it answers the peer's SETTINGS and PINGs: a peer that sends
	// them without reading the answers is cut off.
	maxControlBacklog = 4 << 20
)

var (
	errClientReset  = errors.New("h2: stream reset by the client")
	errStreamClosed = errors.New("h2: stream closed")
	errConnClosed   = errors.New("h2: connection closed")
	errHandlerDone  = errors.New("h2: request body read after the handler returned")
)

// conn is one HTTP/2 connection. The goroutine in serve reads and
// processes frames; writeLoop writes what everyone queues in out;
// handlers run on a goroutine per stream.
type conn struct {
	srv        *Server
	nc         net.Conn
	ctx        context.Context
	tls        *tls.ConnectionState
	remote     string
	r          io.Reader // nc, buffered unless it is a *tls.Conn
	fr         *http2.Framer
	maxStreams uint32 // SETTINGS_MAX_CONCURRENT_STREAMS as advertised
	canon      map[string]string
	handlers   atomic.Int32 // handler goroutines running

	// upgrade is the HTTP/1.1 request of an h2c upgrade, to serve as
	// stream 1, and upgradeSettings its HTTP2-Settings; nil otherwise.
	upgrade         *http.Request
	upgradeSettings []byte

	// Owned by the reader.
	maxClientID     uint32
	sawSettings     bool
	unackedSettings int

	mu   sync.Mutex
	cond sync.Cond // signalled when windows open, output drains, or streams end
	// out is the output the writer has not taken yet.
	out     []byte
	spare   []byte
	wake    chan struct{}
	enc     *hpack.Encoder
	hbuf    bytes.Buffer
	streams map[uint32]*stream
	// Send windows: the connection's, and the peer's initial stream window.
	sendWin     int64
	initSendWin int64
	maxFrame    int
	// Receive accounting for the connection: what the peer may still
	// send, and what has been consumed and not yet given back.
	recvWin    int64
	recvUnsent int64
	goingAway  bool // GOAWAY sent: no new streams
	closeAfter bool // close the socket once out is written and no stream is open
	closed     bool // the connection is done; every write fails
	tornDown   bool // the reader has stopped: close without waiting
	idleSince  time.Time
	idleTimer  *time.Timer
	writerDone chan struct{}
}

func newConn(s *Server, ctx context.Context, nc net.Conn) *conn {
	c := &conn{
		srv:         s,
		nc:          nc,
		ctx:         ctx,
		remote:      nc.RemoteAddr().String(),
		maxStreams:  s.maxStreams(),
		streams:     map[uint32]*stream{},
		sendWin:     defaultWindow,
		initSendWin: defaultWindow,
		maxFrame:    maxFrameSize,
		recvWin:     connRecvWindow,
		wake:        make(chan struct{}, 1),
		writerDone:  make(chan struct{}),
	}
	c.cond.L = &c.mu
	// A TLS connection buffers what it decrypts: reading frames from it
	// straight costs no system calls, and an idle connection no buffer
	// of its own.
	c.r = nc
	if tc, ok := nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		c.tls = &st
	} else {
		c.r = bufio.NewReaderSize(nc, 16<<10)
	}
	c.enc = hpack.NewEncoder(&c.hbuf)
	c.fr = http2.NewFramer(nil, c.r)
	c.fr.MaxHeaderListSize = s.maxHeaderBytes()
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.SetReuseFrames()
	c.fr.SetMaxReadFrameSize(maxFrameSize) // the default the server does not raise
	return c
}

// serve runs the connection until it ends.
func (c *conn) serve() {
	go c.writeLoop()
	defer c.teardown()

	c.mu.Lock()
	c.queueSettings()
	c.mu.Unlock()

	wait := c.srv.PrefaceTimeout
	if wait <= 0 {
		wait = defaultPrefaceTimeout
	}
	t := time.AfterFunc(wait, func() { c.nc.Close() })
	var preface [len(clientPreface)]byte
	_, err := io.ReadFull(c.r, preface[:])
	t.Stop()
	if err != nil || string(preface[:]) != clientPreface {
		if err == nil {
			c.srv.log().Info("h2: connection without the client preface", "remote", c.remote)
		}
		return
	}
	if c.upgrade != nil && !c.startUpgrade() {
		return
	}
	if d := c.srv.IdleTimeout; d > 0 {
		c.mu.Lock()
		c.idleSince = time.Now()
		c.idleTimer = time.AfterFunc(d, c.idleCheck)
		c.mu.Unlock()
	}
	for {
		f, err := c.fr.ReadFrame()
		if err == nil {
			err = c.process(f)
		}
		if err == nil {
			continue
		}
		if !c.handleError(f, err) {
			return
		}
	}
}

// handleError answers an error from reading or processing a frame. It
// reports whether the connection goes on reading.
func (c *conn) handleError(f http2.Frame, err error) bool {
	var se http2.StreamError
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &se):
		if se.Cause != nil {
			c.srv.log().Info("bad request", "remote", c.remote, "stream", se.StreamID, "code", se.Code.String(), "err", se.Cause)
		}
		c.resetStream(se.StreamID, se.Code, se.Cause)
		return true
	case errors.Is(err, http2.ErrFrameTooLarge):
		c.goAway(http2.ErrCodeFrameSize, err)
	case errors.As(err, &ce):
		if f != nil && f.Header().StreamID > c.maxClientID && f.Header().StreamID%2 == 1 {
			c.maxClientID = f.Header().StreamID
		}
		c.goAway(http2.ErrCode(ce), err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrClosedPipe),
		errors.Is(err, os.ErrDeadlineExceeded):
	default:
		var ne *net.OpError
		if !errors.As(err, &ne) {
			c.srv.log().Info("h2: closing connection", "remote", c.remote, "err", err)
		}
	}
	return false
}

// goAway tells the peer the connection ends with code, and has the
// writer close it once the GOAWAY is out.
func (c *conn) goAway(code http2.ErrCode, cause error) {
	if code != http2.ErrCodeNo {
		c.srv.log().Info("h2: connection error", "remote", c.remote, "code", code.String(), "err", cause)
	}
	c.mu.Lock()
	c.queueGoAway(code)
	c.closeAfter = true
	c.mu.Unlock()
}

// goAwayGracefully starts a graceful shutdown: no new streams, and the
// connection closes when the open ones end.
func (c *conn) goAwayGracefully() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.goingAway || c.closed {
		return
	}
	c.queueGoAway(http2.ErrCodeNo)
	c.closeAfter = true
	c.signalWriter()
}

// idleCheck runs from the idle timer: a connection idle for
// IdleTimeout goes away; otherwise the timer is set again.
func (c *conn) idleCheck() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.goingAway {
		return
	}
	d := c.srv.IdleTimeout
	if len(c.streams) == 0 && c.handlers.Load() == 0 {
		if idle := time.Since(c.idleSince); idle >= d {
			c.queueGoAway(http2.ErrCodeNo)
			c.closeAfter = true
			c.signalWriter()
			return
		} else {
			d -= idle
		}
	}
	c.idleTimer.Reset(d)
}

// teardown ends the connection: every stream fails, the writer
// finishes what it can within a second, and the socket closes.
func (c *conn) teardown() {
	c.mu.Lock()
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
	c.closeAfter = true
	c.tornDown = true
	streams := c.streams
	c.streams = map[uint32]*stream{}
	for _, st := range streams {
		st.reset = true
	}
	c.cond.Broadcast()
	c.signalWriter()
	c.mu.Unlock()
	for _, st := range streams {
		st.cancel()
		if st.body != nil {
			st.body.closeWithError(errConnClosed)
		}
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	<-c.writerDone
	c.nc.Close()
}

// process handles one frame read from the peer.
func (c *conn) process(f http2.Frame) error {
	if !c.sawSettings {
		if _, ok := f.(*http2.SettingsFrame); !ok {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		c.sawSettings = true
	}
	c.mu.Lock()
	goingAway := c.goingAway
	c.mu.Unlock()
	if goingAway && f.Header().StreamID > c.maxClientID {
		// Streams the GOAWAY did not cover are ignored, but their
		// data still counts against the connection's window.
		if d, ok := f.(*http2.DataFrame); ok {
			return c.discardData(d)
		}
		return nil
	}
	switch f := f.(type) {
	case *http2.SettingsFrame:
		return c.processSettings(f)
	case *http2.MetaHeadersFrame:
		return c.processHeaders(f)
	case *http2.DataFrame:
		return c.processData(f)
	case *http2.WindowUpdateFrame:
		return c.processWindowUpdate(f)
	case *http2.PingFrame:
		if f.StreamID != 0 {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		if !f.IsAck() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.out = appendFrameHeader(c.out, 8, http2.FramePing, http2.FlagPingAck, 0)
			c.out = append(c.out, f.Data[:]...)
			return c.controlQueued()
		}
		return nil
	case *http2.RSTStreamFrame:
		if c.idle(f.StreamID) {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		c.mu.Lock()
		st := c.streams[f.StreamID]
		if st != nil {
			c.closeStream(st)
		}
		c.mu.Unlock()
		if st != nil {
			st.cancel()
			if st.body != nil {
				st.body.closeWithError(errClientReset)
			}
		}
		return nil
	case *http2.PriorityFrame:
		if f.StreamID == f.StreamDep {
			return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeProtocol, Cause: errors.New("stream depends on itself")}
		}
		return nil
	case *http2.GoAwayFrame:
		c.goAwayGracefully()
		return nil
	case *http2.PushPromiseFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol)
	default: // unknown frame types and PRIORITY_UPDATE are ignored
		return nil
	}
}

// idle reports whether id names a stream the client has not opened.
func (c *conn) idle(id uint32) bool {
	return id == 0 || id%2 == 1 && id > c.maxClientID || id%2 == 0
}

func (c *conn) processSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		c.unackedSettings--
		if c.unackedSettings < 0 {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		return nil
	}
	if f.NumSettings() > 100 {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingHeaderTableSize:
			c.enc.SetMaxDynamicTableSizeLimit(s.Val)
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - c.initSendWin
			c.initSendWin = int64(s.Val)
			for _, st := range c.streams {
				st.sendWin += delta
				if st.sendWin > maxWindow {
					return http2.ConnectionError(http2.ErrCodeFlowControl)
				}
			}
			c.cond.Broadcast()
		case http2.SettingMaxFrameSize:
			c.maxFrame = min(int(s.Val), maxFrameSize)
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.out = appendFrameHeader(c.out, 0, http2.FrameSettings, http2.FlagSettingsAck, 0)
	return c.controlQueued()
}

func (c *conn) processWindowUpdate(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.StreamID == 0 {
		c.sendWin += int64(f.Increment)
		if c.sendWin > maxWindow {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		c.cond.Broadcast()
		return nil
	}
	if c.idle(f.StreamID) {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	st := c.streams[f.StreamID]
	if st == nil { // closed: a late update is harmless
		return nil
	}
	st.sendWin += int64(f.Increment)
	if st.sendWin > maxWindow {
		return http2.StreamError{StreamID: f.StreamID, Code: http2.ErrCodeFlowControl, Cause: errors.New("window over 2^31-1")}
	}
	c.cond.Broadcast()
	return nil
}

// discardData accounts for DATA that no stream will read: the
// connection's window is taken and given straight back.
func (c *conn) discardData(f *http2.DataFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := int64(f.Length)
	if n > c.recvWin {
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	c.recvWin -= n
	c.refundConn(n)
	return nil
}

func (c *conn) processData(f *http2.DataFrame) error {
	id := f.StreamID
	if c.idle(id) {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	c.mu.Lock()
	st := c.streams[id]
	if st == nil || st.remoteDone {
		c.mu.Unlock()
		if err := c.discardData(f); err != nil {
			return err
		}
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeStreamClosed}
	}
	n := int64(f.Length)
	if n > c.recvWin {
		c.mu.Unlock()
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	c.recvWin -= n
	if n > st.recvWin {
		c.refundConn(n)
		c.mu.Unlock()
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeFlowControl, Cause: errors.New("DATA over the stream's window")}
	}
	st.recvWin -= n
	data := f.Data()
	// Padding is given back at once; data when the handler reads it.
	if pad := n - int64(len(data)); pad > 0 {
		c.refundConn(pad)
		st.refund(pad)
	}
	c.mu.Unlock()

	st.got += int64(len(data))
	if st.declared >= 0 && st.got > st.declared {
		c.mu.Lock()
		c.refundConn(int64(len(data)))
		c.mu.Unlock()
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol, Cause: fmt.Errorf("request body longer than its Content-Length %d", st.declared)}
	}
	if len(data) > 0 && !st.body.write(data) {
		// The handler is done with the body: give the connection's
		// window back (not the stream's: see endLocal).
		c.mu.Lock()
		c.refundConn(int64(len(data)))
		c.mu.Unlock()
	}
	if f.StreamEnded() {
		return c.endRequest(st)
	}
	c.mu.Lock()
	if st.localDone {
		st.lingered += n
		if st.lingered > lingerBytes || st.recvWin == 0 {
			c.stopLingering(st)
		}
	}
	c.mu.Unlock()
	return nil
}

// endRequest ends a request body, checking it against Content-Length.
func (c *conn) endRequest(st *stream) error {
	if st.declared >= 0 && st.got != st.declared {
		return http2.StreamError{StreamID: st.id, Code: http2.ErrCodeProtocol, Cause: fmt.Errorf("request body of %d bytes, Content-Length %d", st.got, st.declared)}
	}
	c.mu.Lock()
	st.remoteDone = true
	if st.localDone {
		c.closeStream(st)
	}
	c.mu.Unlock()
	st.body.closeWithError(io.EOF)
	return nil
}

// resetStream sends RST_STREAM and ends the stream, on a stream error
// found by the reader.
func (c *conn) resetStream(id uint32, code http2.ErrCode, cause error) {
	c.mu.Lock()
	st := c.streams[id]
	if st != nil {
		c.closeStream(st)
	}
	c.queueReset(id, code)
	c.mu.Unlock()
	if st != nil {
		st.cancel()
		if st.body != nil {
			if cause == nil {
				cause = fmt.Errorf("h2: stream error %s", code)
			}
			st.body.closeWithError(cause)
		}
	}
}

// closeStream removes st from the open streams; mu is held.
func (c *conn) closeStream(st *stream) {
	if c.streams[st.id] != st {
		return
	}
	delete(c.streams, st.id)
	if st.linger != nil {
		st.linger.Stop()
	}
	st.reset = !st.localDone || !st.remoteDone
	c.cond.Broadcast()
	if len(c.streams) == 0 {
		c.idleSince = time.Now()
		if c.closeAfter {
			c.signalWriter()
		}
	}
}

func (c *conn) processHeaders(f *http2.MetaHeadersFrame) error {
	id := f.StreamID
	if id%2 == 0 {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	c.mu.Lock()
	st := c.streams[id]
	c.mu.Unlock()
	if st != nil {
		// Trailers of a request body.
		if st.remoteDone {
			return http2.StreamError{StreamID: id, Code: http2.ErrCodeStreamClosed}
		}
		if !f.StreamEnded() {
			return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol, Cause: errors.New("trailers without END_STREAM")}
		}
		if len(f.PseudoFields()) > 0 {
			return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol, Cause: errors.New("pseudo-header in trailers")}
		}
		for _, hf := range f.RegularFields() {
			st.body.addTrailer(c.canonical(hf.Name), hf.Value)
		}
		return c.endRequest(st)
	}
	if id <= c.maxClientID {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	c.maxClientID = id
	if f.HasPriority() && f.Priority.StreamDep == id {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol, Cause: errors.New("stream depends on itself")}
	}
	c.mu.Lock()
	if c.goingAway {
		c.mu.Unlock()
		return nil
	}
	if uint32(len(c.streams)) >= c.maxStreams {
		c.mu.Unlock()
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeRefusedStream}
	}
	c.mu.Unlock()
	// Streams reset by the client still hold a handler until it returns:
	// a client resetting faster than handlers end is cut off.
	if c.handlers.Load() >= int32(4*c.maxStreams) {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}

	st, req, err := c.newStream(f)
	if err != nil {
		return err
	}
	c.mu.Lock()
	st.sendWin = c.initSendWin
	c.streams[id] = st
	c.readyOut()
	c.mu.Unlock()

	handler := c.srv.Handler
	switch {
	case f.Truncated:
		c.srv.log().Info("bad request", "remote", c.remote, "stream", id, "status", http.StatusRequestHeaderFieldsTooLarge,
			"err", fmt.Sprintf("request header list over %d bytes", c.srv.maxHeaderBytes()))
		handler = errorHandler(http.StatusRequestHeaderFieldsTooLarge, "request header fields too large")
	case handler == nil:
		handler = http.NotFoundHandler()
	}
	c.handlers.Add(1)
	workers.start(job{st: st, h: handler, req: req})
	return nil
}

// startUpgrade applies the upgrade's settings and starts stream 1 with
// its request. It reports false if the settings are malformed.
func (c *conn) startUpgrade() bool {
	p := c.upgradeSettings
	if len(p)%6 != 0 || len(p) > 600 {
		return false
	}
	settings := make([]http2.Setting, 0, len(p)/6)
	for ; len(p) > 0; p = p[6:] {
		settings = append(settings, http2.Setting{ID: http2.SettingID(uint16(p[0])<<8 | uint16(p[1])),
			Val: uint32(p[2])<<24 | uint32(p[3])<<16 | uint32(p[4])<<8 | uint32(p[5])})
	}
	c.mu.Lock()
	for _, s := range settings {
		if s.Valid() != nil {
			c.mu.Unlock()
			return false
		}
		switch s.ID {
		case http2.SettingHeaderTableSize:
			c.enc.SetMaxDynamicTableSizeLimit(s.Val)
		case http2.SettingInitialWindowSize:
			c.initSendWin = int64(s.Val)
		case http2.SettingMaxFrameSize:
			c.maxFrame = min(int(s.Val), maxFrameSize)
		}
	}
	c.mu.Unlock()
	r := c.upgrade
	c.upgrade, c.upgradeSettings = nil, nil
	c.maxClientID = 1
	st := &stream{c: c, id: 1, declared: -1, remoteDone: true}
	st.rw.st = st
	st.ctx, st.cancel = context.WithCancel(c.ctx)
	req := r.Clone(st.ctx)
	req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/2.0", 2, 0
	req.Body, req.ContentLength, req.TransferEncoding, req.Close = http.NoBody, 0, nil, false
	req.RemoteAddr = c.remote
	for _, k := range connectionHeaders {
		req.Header.Del(k)
	}
	req.Header.Del("Http2-Settings")
	c.mu.Lock()
	st.sendWin = c.initSendWin
	c.streams[1] = st
	c.readyOut()
	c.mu.Unlock()
	handler := c.srv.Handler
	if handler == nil {
		handler = http.NotFoundHandler()
	}
	c.handlers.Add(1)
	workers.start(job{st: st, h: handler, req: req})
	return true
}

func errorHandler(code int, msg string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, msg, code)
	})
}
