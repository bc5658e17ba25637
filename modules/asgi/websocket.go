package asgi

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"httpd/registry"
)

// maxMessage bounds a WebSocket message from the client (uvicorn's
// default ws_max_size).
const maxMessage = 4<<20 - 1

// serveWebSocket relays a WebSocket stream: the application accepts (or
// closes, or answers with an HTTP response), then messages flow both
// ways until either side closes.
func (m *Module) serveWebSocket(w http.ResponseWriter, r *http.Request, s *stream) error {
	p := m.pool
	var (
		conn     *websocket.Conn
		ex       *exchange // for a websocket.http.response
		frames   []inFrame
		readDone chan struct{}
		credits  = make(chan struct{}, msgWindow)
		closed   bool
		unacked  int // message bytes written and not yet acknowledged
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	finish := func(code websocket.StatusCode, reason string) {
		if conn != nil && !closed {
			closed = true
			if err := conn.Close(code, reason); err != nil {
				// A code that may not be sent, or a peer already
				// gone: drop the connection all the same.
				_ = conn.CloseNow()
			}
		}
		cancel()
		if readDone != nil {
			<-readDone
		}
	}
	// Until the application answers the handshake, request_timeout
	// bounds the wait, as for an HTTP request.
	var handshake <-chan time.Time
	if m.RequestTimeout > 0 {
		t := time.NewTimer(m.RequestTimeout)
		defer t.Stop()
		handshake = t.C
	}
	// Until then a client going away ends the stream too; once the
	// connection is the module's, its reader sees the client go.
	gone := r.Context().Done()
	// Once the worker retires and its grace is over (away), the
	// connection is closed with 1001 and the application told; it has
	// cancelGrace to return.
	var (
		away    = s.away
		endWait <-chan time.Time
	)
	for {
		var timeout <-chan time.Time
		var awayCh, goneCh <-chan struct{}
		if conn == nil && ex == nil {
			timeout, goneCh = handshake, gone
		}
		if conn != nil && !closed {
			awayCh = away
		}
		select {
		case <-s.notify:
		case <-timeout:
			p.cancel(s)
			return registry.Errorf(http.StatusGatewayTimeout, "asgi %s: the application did not answer the WebSocket handshake within request_timeout %s; task cancelled (its stack is in the log)", m.Prefix, m.RequestTimeout)
		case <-goneCh:
			p.abandon(s)
			_ = s.send(frameDisconnect, []byte{0x03, 0xee})
			return registry.Error(registry.StatusClientClosed, fmt.Errorf("asgi %s: the client went away before the WebSocket handshake was answered", m.Prefix))
		case <-awayCh:
			away = nil
			finish(websocket.StatusGoingAway, "server restarting")
			_ = s.send(frameDisconnect, []byte{0x03, 0xe9})
			t := time.NewTimer(cancelGrace)
			defer t.Stop()
			endWait = t.C
			continue
		case <-endWait:
			p.abandon(s)
			return nil
		}
		var dead bool
		frames, dead = s.take(frames)
		for _, f := range frames {
			switch f.typ {
			case frameAccept:
				if conn != nil || ex != nil {
					p.abandon(s)
					finish(websocket.StatusInternalError, "")
					return fmt.Errorf("asgi %s: websocket.accept twice", m.Prefix)
				}
				sub, hdr, err := parseAccept(f.data)
				if err != nil {
					p.abandon(s)
					_ = s.send(frameDisconnect, []byte{0x03, 0xf3})
					return registry.Errorf(500, "asgi %s: the application sent %v", m.Prefix, err)
				}
				opts := &websocket.AcceptOptions{InsecureSkipVerify: true}
				if sub != "" {
					opts.Subprotocols = []string{sub}
				}
				c, err := accept(w, r, hdr, opts)
				if err != nil {
					p.abandon(s)
					_ = s.send(frameDisconnect, []byte{0x03, 0xee})
					return fmt.Errorf("asgi %s: accepting the WebSocket: %w", m.Prefix, err)
				}
				conn = c
				conn.SetReadLimit(maxMessage)
				for range msgWindow {
					credits <- struct{}{}
				}
				readDone = make(chan struct{})
				go m.readWebSocket(ctx, conn, s, credits, readDone)
			case frameMessage:
				if conn == nil || len(f.data) == 0 {
					continue
				}
				typ := websocket.MessageText
				if f.data[0] == 1 {
					typ = websocket.MessageBinary
				}
				if err := conn.Write(ctx, typ, f.data[1:]); err != nil {
					// The reader sees the connection end and tells
					// the application.
					continue
				}
				unacked += len(f.data)
				if unacked >= ackBatch {
					_ = s.ack(unacked)
					unacked = 0
				}
			case frameAck:
				select {
				case credits <- struct{}{}:
				default:
				}
			case frameClose:
				code, reason := websocket.StatusNormalClosure, ""
				if len(f.data) >= 2 {
					code = websocket.StatusCode(binary.BigEndian.Uint16(f.data))
					reason = string(f.data[2:])
				}
				if conn == nil && ex == nil {
					// Closed before accept: the handshake is denied.
					p.abandon(s)
					return registry.Errorf(http.StatusForbidden, "asgi %s: the application closed the WebSocket before accepting it", m.Prefix)
				}
				finish(code, reason)
			case frameStart, frameBody:
				if conn != nil {
					continue
				}
				if ex == nil {
					ex = &exchange{m: m, s: s, w: w, r: r, declared: -1}
				}
				if end, err := ex.handle(f); end || err != nil {
					return err
				}
			case frameEnd:
				if ex != nil {
					return ex.finish(string(f.data))
				}
				if conn == nil {
					if len(f.data) > 0 {
						return registry.Errorf(500, "asgi %s: application error: %s", m.Prefix, f.data)
					}
					return registry.Errorf(http.StatusForbidden, "asgi %s: the application returned without accepting the WebSocket", m.Prefix)
				}
				if len(f.data) > 0 {
					finish(websocket.StatusInternalError, "")
					return fmt.Errorf("asgi %s: application error: %s", m.Prefix, f.data)
				}
				finish(websocket.StatusNormalClosure, "")
				return nil
			}
		}
		if dead {
			finish(websocket.StatusInternalError, "")
			err := fmt.Errorf("asgi %s: worker %d exited", m.Prefix, s.w.pid)
			if conn == nil {
				return registry.Error(http.StatusBadGateway, err)
			}
			return err
		}
	}
}

// readWebSocket passes the client's messages to the application, at most
// msgWindow ahead of its receive(), and tells it when the client closes.
func (m *Module) readWebSocket(ctx context.Context, conn *websocket.Conn, s *stream, credits chan struct{}, done chan struct{}) {
	defer close(done)
	for {
		select {
		case <-credits:
		case <-ctx.Done():
			return
		}
		typ, data, err := conn.Read(ctx)
		if err != nil {
			code := websocket.CloseStatus(err)
			if code == -1 {
				code = websocket.StatusAbnormalClosure
			}
			var b [2]byte
			binary.BigEndian.PutUint16(b[:], uint16(code))
			if !errors.Is(err, context.Canceled) {
				_ = s.send(frameDisconnect, b[:])
			}
			return
		}
		kind := byte(0)
		if typ == websocket.MessageBinary {
			kind = 1
		}
		if err := s.send(frameMessage, []byte{kind}, data); err != nil {
			return
		}
	}
}

// accept completes the WebSocket handshake with the header fields the
// application gave: the server writes the 101 answer (with the library's
// Connection and Upgrade fields) and hands the connection over.
func accept(w http.ResponseWriter, r *http.Request, hdr [][2]string, opts *websocket.AcceptOptions) (*websocket.Conn, error) {
	h := w.Header()
	for _, kv := range hdr {
		h.Add(kv[0], kv[1])
	}
	return websocket.Accept(w, r, opts)
}
