package h2

import (
	"runtime"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// Output goes through one buffer. Whoever has something to send — the
// reader answering SETTINGS and PINGs, handlers writing responses —
// appends frames to c.out under c.mu and wakes writeLoop, which swaps
// the buffer for an empty one and writes it to the socket. Frames that
// queue up while a write is in progress leave in the next one, so a
// busy connection sends many responses per system call, and no
// goroutine is started to write a frame.

// signalWriter wakes writeLoop; mu is held.
func (c *conn) signalWriter() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) writeLoop() {
	defer close(c.writerDone)
	for {
		c.mu.Lock()
		for len(c.out) == 0 && !c.closed {
			if c.closeAfter && len(c.streams) == 0 {
				c.closed = true
				break
			}
			c.mu.Unlock()
			<-c.wake
			c.mu.Lock()
		}
		if c.closed {
			c.cond.Broadcast()
			torn := c.tornDown
			c.mu.Unlock()
			if torn {
				c.nc.Close()
				return
			}
			// A GOAWAY is out: half-close, so that the client reads it
			// before the connection goes, and close for good a second
			// later or when the reader sees the client close.
			if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
				time.AfterFunc(time.Second, func() { c.nc.Close() })
			} else {
				c.nc.Close()
			}
			return
		}
		c.mu.Unlock()
		// Let handlers that are ready to run add their frames first:
		// one write then carries them all.
		runtime.Gosched()
		c.mu.Lock()
		buf := c.out
		if c.spare == nil && len(c.streams) > 0 {
			c.spare = getOutBuf()
		}
		c.out, c.spare = c.spare, nil
		c.mu.Unlock()

		if d := c.srv.WriteTimeout; d > 0 {
			_ = c.nc.SetWriteDeadline(time.Now().Add(d))
		}
		_, err := c.nc.Write(buf)

		c.mu.Lock()
		// A connection with no open stream keeps no buffers. One that
		// is busy keeps the one it has, grown to what big responses
		// need (maxOutBuffer and a frame or two).
		switch {
		case len(c.streams) > 0 && cap(buf) <= 2*maxOutBuffer:
			c.spare = buf[:0]
		case cap(buf) == outBufSize:
			outPool.Put(&buf)
		}
		if err != nil {
			c.closed = true
			c.tornDown = true
		}
		c.cond.Broadcast()
		c.mu.Unlock()
	}
}

const outBufSize = 32 << 10

var outPool = sync.Pool{New: func() any { b := make([]byte, 0, outBufSize); return &b }}

func getOutBuf() []byte { return (*outPool.Get().(*[]byte))[:0] }

// readyOut gives out a pooled buffer before a stream starts writing;
// mu is held.
func (c *conn) readyOut() {
	if cap(c.out) < outBufSize {
		c.out = append(getOutBuf(), c.out...)
	}
}

// appendFrameHeader appends the 9-byte header of a frame.
func appendFrameHeader(b []byte, length int, typ http2.FrameType, flags http2.Flags, id uint32) []byte {
	return append(b, byte(length>>16), byte(length>>8), byte(length),
		byte(typ), byte(flags), byte(id>>24)&0x7f, byte(id>>16), byte(id>>8), byte(id))
}

func appendUint32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// controlQueued checks the output backlog after the reader queued an
// answer to the peer; mu is held.
func (c *conn) controlQueued() error {
	c.signalWriter()
	if len(c.out) > maxControlBacklog {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	return nil
}

// queueSettings queues the server's SETTINGS and opens the connection's
// receive window beyond the default; mu is held.
func (c *conn) queueSettings() {
	settings := [...]http2.Setting{
		{ID: http2.SettingMaxConcurrentStreams, Val: c.maxStreams},
		{ID: http2.SettingInitialWindowSize, Val: streamRecvWindow},
		{ID: http2.SettingMaxHeaderListSize, Val: c.srv.maxHeaderBytes()},
	}
	c.out = appendFrameHeader(c.out, 6*len(settings), http2.FrameSettings, 0, 0)
	for _, s := range settings {
		c.out = append(c.out, byte(s.ID>>8), byte(s.ID))
		c.out = appendUint32(c.out, s.Val)
	}
	c.unackedSettings++
	c.queueWindowUpdate(0, connRecvWindow-defaultWindow)
	c.signalWriter()
}

// queueWindowUpdate queues a WINDOW_UPDATE; mu is held.
func (c *conn) queueWindowUpdate(id uint32, n int64) {
	c.out = appendFrameHeader(c.out, 4, http2.FrameWindowUpdate, 0, id)
	c.out = appendUint32(c.out, uint32(n))
	c.signalWriter()
}

// queueReset queues RST_STREAM; mu is held.
func (c *conn) queueReset(id uint32, code http2.ErrCode) {
	if c.closed {
		return
	}
	c.out = appendFrameHeader(c.out, 4, http2.FrameRSTStream, 0, id)
	c.out = appendUint32(c.out, uint32(code))
	c.signalWriter()
}

// queueGoAway queues GOAWAY naming the last stream the server will
// serve; mu is held.
func (c *conn) queueGoAway(code http2.ErrCode) {
	if c.closed || c.goingAway && code == http2.ErrCodeNo {
		return
	}
	c.goingAway = true
	c.out = appendFrameHeader(c.out, 8, http2.FrameGoAway, 0, 0)
	c.out = appendUint32(c.out, c.maxClientID)
	c.out = appendUint32(c.out, uint32(code))
	c.signalWriter()
}

// refundConn gives n bytes of the connection's receive window back,
// sending WINDOW_UPDATE once half the window is owed; mu is held.
func (c *conn) refundConn(n int64) {
	c.recvUnsent += n
	if c.recvUnsent >= connRecvWindow/2 {
		c.recvWin += c.recvUnsent
		c.queueWindowUpdate(0, c.recvUnsent)
		c.recvUnsent = 0
	}
}

// refund gives n bytes of the stream's receive window back; mu is held.
func (st *stream) refund(n int64) {
	if st.remoteDone {
		return
	}
	st.recvUnsent += n
	if st.recvUnsent >= streamRecvWindow/2 {
		st.recvWin += st.recvUnsent
		st.c.queueWindowUpdate(st.id, st.recvUnsent)
		st.recvUnsent = 0
	}
}
