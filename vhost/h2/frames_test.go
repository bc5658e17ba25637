package h2_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"httpd/internal/testutil"
	"httpd/vhost/h2"
)

// rawConn is a client connection driven frame by frame. Every read has a
// deadline, so a test fails instead of hanging.
type rawConn struct {
	t      testing.TB
	c      net.Conn
	fr     *http2.Framer
	enc    *hpack.Encoder
	encBuf bytes.Buffer

	settings    map[http2.SettingID]uint32 // the server's SETTINGS
	gotSettings bool                       // a non-ACK SETTINGS came
	gotAck      bool                       // our SETTINGS were acknowledged
	streams     map[uint32]*streamState
	goaway      *http2.ErrCode // the code of the GOAWAY received, if any
	goawayDebug string
	pings       [][8]byte // PING ACK payloads received
	frames      []string  // a summary of every frame read, for failures
	readErr     error     // the error that ended reading
}

// streamState is what the server sent on one stream.
type streamState struct {
	info    []string // 1xx statuses
	status  string
	headers []hpack.HeaderField // the response header fields
	trailer []hpack.HeaderField
	body    bytes.Buffer
	rst     *http2.ErrCode
	ended   bool // END_STREAM or RST_STREAM
}

// dialRaw connects to addr, sends the preface and SETTINGS with the given
// values, and waits for the server's SETTINGS and the ACK of ours.
func dialRaw(t testing.TB, addr string, settings ...http2.Setting) *rawConn {
	t.Helper()
	c := dialPreface(t, addr)
	if err := c.fr.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	c.until("the SETTINGS exchange", func() bool { return c.gotSettings && c.gotAck })
	return c
}

// dialPreface connects to addr and sends only the client preface.
func dialPreface(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	c := &rawConn{
		t:        t,
		c:        nc,
		fr:       http2.NewFramer(nc, nc),
		settings: map[http2.SettingID]uint32{},
		streams:  map[uint32]*streamState{},
	}
	c.fr.AllowIllegalWrites = true
	c.fr.SetMaxReadFrameSize(16 << 10) // what we advertise: the default
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.encBuf)
	return c
}

func (c *rawConn) stream(id uint32) *streamState {
	s := c.streams[id]
	if s == nil {
		s = &streamState{}
		c.streams[id] = s
	}
	return s
}

// readOne reads and records one frame; false means reading ended.
func (c *rawConn) readOne() bool {
	if c.readErr != nil {
		return false
	}
	f, err := c.fr.ReadFrame()
	if err != nil {
		c.readErr = err
		return false
	}
	c.frames = append(c.frames, summarize(f))
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			c.gotAck = true
			break
		}
		c.gotSettings = true
		f.ForeachSetting(func(s http2.Setting) error {
			c.settings[s.ID] = s.Val
			if s.ID == http2.SettingHeaderTableSize {
				c.enc.SetMaxDynamicTableSizeLimit(s.Val)
			}
			return nil
		})
		if err := c.fr.WriteSettingsAck(); err != nil {
			c.readErr = err
			return false
		}
	case *http2.MetaHeadersFrame:
		s := c.stream(f.StreamID)
		status := f.PseudoValue("status")
		switch {
		case s.status == "" && strings.HasPrefix(status, "1"):
			s.info = append(s.info, status)
		case s.status == "":
			s.status = status
			s.headers = f.RegularFields()
		default:
			s.trailer = f.RegularFields()
		}
		if f.StreamEnded() {
			s.ended = true
		}
	case *http2.DataFrame:
		s := c.stream(f.StreamID)
		s.body.Write(f.Data())
		if f.StreamEnded() {
			s.ended = true
		}
	case *http2.RSTStreamFrame:
		s := c.stream(f.StreamID)
		code := f.ErrCode
		s.rst = &code
		s.ended = true
	case *http2.GoAwayFrame:
		code := f.ErrCode
		c.goaway = &code
		c.goawayDebug = string(f.DebugData())
	case *http2.PingFrame:
		if f.IsAck() {
			c.pings = append(c.pings, f.Data)
		}
	}
	return true
}

func summarize(f http2.Frame) string {
	h := f.Header()
	s := fmt.Sprintf("%v stream=%d flags=%v len=%d", h.Type, h.StreamID, h.Flags, h.Length)
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		s += fmt.Sprintf(" %v", f.Fields)
	case *http2.RSTStreamFrame:
		s += " " + f.ErrCode.String()
	case *http2.GoAwayFrame:
		s += fmt.Sprintf(" %v last=%d %q", f.ErrCode, f.LastStreamID, f.DebugData())
	case *http2.SettingsFrame:
		f.ForeachSetting(func(st http2.Setting) error { s += " " + st.String(); return nil })
	case *http2.WindowUpdateFrame:
		s += fmt.Sprintf(" +%d", f.Increment)
	}
	return s
}

// until reads frames until cond holds, failing the test if the
// connection ends or the deadline passes first.
func (c *rawConn) until(what string, cond func() bool) {
	c.t.Helper()
	for !cond() {
		if !c.readOne() {
			c.t.Fatalf("waiting for %s: %v\nframes read:\n  %s", what, c.readErr, strings.Join(c.frames, "\n  "))
		}
	}
}

// waitClosed reads until the server closes the connection.
func (c *rawConn) waitClosed() {
	c.t.Helper()
	for c.readOne() {
	}
	if errors.Is(c.readErr, os.ErrDeadlineExceeded) {
		c.t.Fatalf("connection not closed\nframes read:\n  %s", strings.Join(c.frames, "\n  "))
	}
}

// waitStream reads until stream id ends.
func (c *rawConn) waitStream(id uint32) *streamState {
	c.t.Helper()
	c.until(fmt.Sprintf("the end of stream %d", id), func() bool {
		return c.stream(id).ended
	})
	return c.stream(id)
}

// headers sends one HEADERS frame on stream id; fields are name, value
// pairs, encoded as given.
func (c *rawConn) headers(id uint32, endStream bool, fields ...string) {
	c.t.Helper()
	if err := c.writeHeaders(id, endStream, fields...); err != nil {
		c.t.Fatal(err)
	}
}

// writeHeaders is headers returning the write error.
func (c *rawConn) writeHeaders(id uint32, endStream bool, fields ...string) error {
	c.encBuf.Reset()
	for f := range pairs(fields) {
		c.enc.WriteField(f)
	}
	return c.fr.WriteHeaders(http2.HeadersFrameParam{
		StreamID:      id,
		BlockFragment: c.encBuf.Bytes(),
		EndStream:     endStream,
		EndHeaders:    true,
	})
}

// request returns the pseudo-header fields of a request, then extra.
func request(method, path string, extra ...string) []string {
	return append([]string{":method", method, ":scheme", "http", ":path", path, ":authority", "example.test"}, extra...)
}

// get sends a GET for path on stream id.
func (c *rawConn) get(id uint32, path string) {
	c.t.Helper()
	c.headers(id, true, request("GET", path)...)
}

// rawEcho reads the body and answers with its length.
func rawEcho(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	fmt.Fprintf(w, "ok %d", len(b))
}

func TestPing(t *testing.T) {
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(rawEcho), nil)
	c := dialRaw(t, ts.addr)
	data := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	if err := c.fr.WritePing(false, data); err != nil {
		t.Fatal(err)
	}
	c.until("PING ACK", func() bool { return len(c.pings) > 0 })
	if c.pings[0] != data {
		t.Errorf("PING ACK data %v, want %v", c.pings[0], data)
	}
}

// TestSettingsAdvertised checks SETTINGS_MAX_CONCURRENT_STREAMS.
func TestSettingsAdvertised(t *testing.T) {
	for _, tt := range []struct {
		set  uint32
		want uint32
	}{{0, 250}, {2, 2}, {1000, 1000}} {
		t.Run(fmt.Sprint(tt.set), func(t *testing.T) {
			ts := startServer(t, &h2.Server{MaxConcurrentStreams: tt.set}, http.HandlerFunc(rawEcho), nil)
			c := dialRaw(t, ts.addr)
			if got, ok := c.settings[http2.SettingMaxConcurrentStreams]; !ok || got != tt.want {
				t.Errorf("MAX_CONCURRENT_STREAMS %d (sent %t), want %d", got, ok, tt.want)
			}
		})
	}
}

// TestConnectionErrors sends frames that break the connection and wants
// GOAWAY with the right code, then the close.
func TestConnectionErrors(t *testing.T) {
	tests := []struct {
		name     string
		noPrefix bool // skip our SETTINGS: send is the first frame
		send     func(c *rawConn) error
		want     http2.ErrCode
	}{
		{
			name: "even stream ID",
			send: func(c *rawConn) error {
				c.headers(2, true, request("GET", "/")...)
				return nil
			},
			want: http2.ErrCodeProtocol,
		},
		{
			name: "DATA on idle stream",
			send: func(c *rawConn) error { return c.fr.WriteData(1, true, []byte("x")) },
			want: http2.ErrCodeProtocol,
		},
		{
			name: "connection window overflow",
			send: func(c *rawConn) error { return c.fr.WriteWindowUpdate(0, 1<<31-1) },
			want: http2.ErrCodeFlowControl,
		},
		{
			name:     "first frame not SETTINGS",
			noPrefix: true,
			send:     func(c *rawConn) error { return c.fr.WritePing(false, [8]byte{}) },
			want:     http2.ErrCodeProtocol,
		},
		{
			name: "stream ID going down",
			send: func(c *rawConn) error {
				c.get(5, "/")
				c.waitStream(5)
				c.get(3, "/")
				return nil
			},
			want: http2.ErrCodeProtocol,
		},
	}
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(rawEcho), nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c *rawConn
			if tt.noPrefix {
				c = dialPreface(t, ts.addr)
			} else {
				c = dialRaw(t, ts.addr)
			}
			if err := tt.send(c); err != nil {
				t.Fatal(err)
			}
			c.until("GOAWAY", func() bool { return c.goaway != nil })
			if *c.goaway != tt.want {
				t.Errorf("GOAWAY %v %q, want %v", *c.goaway, c.goawayDebug, tt.want)
			}
			c.waitClosed()
		})
	}
}

// TestStreamErrors sends requests that are malformed or break only their
// stream, wants the stream refused, and then a good request on the same
// connection to succeed.
func TestStreamErrors(t *testing.T) {
	protocolErr := []string{"RST_STREAM PROTOCOL_ERROR"}
	protocolOr400 := []string{"RST_STREAM PROTOCOL_ERROR", "400"}
	tests := []struct {
		name string
		send func(c *rawConn) error // on stream 1
		want []string               // any of: "RST_STREAM CODE", or a status
	}{
		{
			name: "depends on itself in HEADERS",
			send: func(c *rawConn) error {
				c.encBuf.Reset()
				for f := range pairs(request("GET", "/")) {
					c.enc.WriteField(f)
				}
				return c.fr.WriteHeaders(http2.HeadersFrameParam{
					StreamID: 1, BlockFragment: c.encBuf.Bytes(), EndStream: true, EndHeaders: true,
					Priority: http2.PriorityParam{StreamDep: 1, Weight: 15},
				})
			},
			want: protocolErr,
		},
		{
			name: "depends on itself in PRIORITY",
			send: func(c *rawConn) error {
				return c.fr.WritePriority(1, http2.PriorityParam{StreamDep: 1, Weight: 15})
			},
			want: protocolErr,
		},
		{
			name: "less DATA than content-length",
			send: func(c *rawConn) error {
				c.headers(1, false, request("POST", "/", "content-length", "5")...)
				return c.fr.WriteData(1, true, []byte("abc"))
			},
			want: protocolErr,
		},
		{
			name: "more DATA than content-length",
			send: func(c *rawConn) error {
				c.headers(1, false, request("POST", "/", "content-length", "5")...)
				return c.fr.WriteData(1, true, []byte("abcdefgh"))
			},
			want: protocolErr,
		},
		{
			name: "uppercase header name",
			send: func(c *rawConn) error {
				c.headers(1, true, request("GET", "/", "X-Upper", "a")...)
				return nil
			},
			want: protocolErr,
		},
		{
			name: "missing :path",
			send: func(c *rawConn) error {
				c.headers(1, true, ":method", "GET", ":scheme", "http", ":authority", "a")
				return nil
			},
			want: protocolErr,
		},
		{
			name: "pseudo-header after a regular one",
			send: func(c *rawConn) error {
				c.headers(1, true, ":method", "GET", ":scheme", "http", "x", "y", ":path", "/")
				return nil
			},
			want: protocolErr,
		},
		{
			name: "TE trailers is allowed",
			send: func(c *rawConn) error {
				c.headers(1, true, request("GET", "/", "te", "trailers")...)
				return nil
			},
			want: []string{"200"},
		},
	}
	for _, h := range []struct{ name, value string }{
		{"connection", "keep-alive"},
		{"keep-alive", "timeout=5"},
		{"proxy-connection", "keep-alive"},
		{"transfer-encoding", "chunked"},
		{"upgrade", "h2c"},
		{"te", "gzip"},
	} {
		tests = append(tests, struct {
			name string
			send func(c *rawConn) error
			want []string
		}{
			name: "connection-specific " + h.name,
			send: func(c *rawConn) error {
				c.headers(1, true, request("GET", "/", h.name, h.value)...)
				return nil
			},
			want: protocolOr400,
		})
	}
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(rawEcho), nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, ts.addr)
			if err := tt.send(c); err != nil {
				t.Fatal(err)
			}
			s := c.waitStream(1)
			got := s.status
			if s.rst != nil {
				got = "RST_STREAM " + s.rst.String()
			}
			if !slices.Contains(tt.want, got) {
				t.Errorf("stream 1 ended with %q, want one of %q\nframes:\n  %s", got, tt.want, strings.Join(c.frames, "\n  "))
			}
			// The connection still works.
			c.get(3, "/after")
			if s := c.waitStream(3); s.status != "200" || s.body.String() != "ok 0" {
				t.Errorf("next request: %s %q", s.status, s.body.String())
			}
			if c.goaway != nil {
				t.Errorf("GOAWAY %v for a stream error", *c.goaway)
			}
		})
	}
}

// pairs yields name, value pairs as header fields.
func pairs(kv []string) func(yield func(hpack.HeaderField) bool) {
	return func(yield func(hpack.HeaderField) bool) {
		for i := 0; i+1 < len(kv); i += 2 {
			if !yield(hpack.HeaderField{Name: kv[i], Value: kv[i+1]}) {
				return
			}
		}
	}
}

// TestMaxHeaderBytes sends header lists over the limit.
func TestMaxHeaderBytes(t *testing.T) {
	ts := startServer(t, &h2.Server{MaxHeaderBytes: 1024}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "x-keep=%s", r.Header.Get("X-Keep"))
	}), nil)
	t.Run("many fields", func(t *testing.T) {
		// 431 or a reset, and the HPACK state must survive: the x-many
		// fields and then x-keep enter the dynamic table in the refused
		// block, evicting the entries before them, and the next request
		// refers to x-keep by index.
		c := dialRaw(t, ts.addr)
		f := request("GET", "/big")
		for range 40 {
			f = append(f, "x-many", strings.Repeat("m", 100))
		}
		c.headers(1, true, append(f, "x-keep", "kept")...)
		s := c.waitStream(1)
		if s.status != "431" && s.rst == nil {
			t.Errorf("oversized header list: status %q, want 431 or RST_STREAM", s.status)
		}
		c.headers(3, true, request("GET", "/small", "x-keep", "kept")...)
		if s := c.waitStream(3); s.status != "200" || s.body.String() != "x-keep=kept" {
			t.Errorf("next request: %s %q (rst %v)\nframes:\n  %s", s.status, s.body.String(), s.rst, strings.Join(c.frames, "\n  "))
		}
	})
	t.Run("one huge field", func(t *testing.T) {
		// net/http treats a single string longer than the limit as a
		// connection error; 431 and a reset are fine too.
		c := dialRaw(t, ts.addr)
		c.headers(1, true, request("GET", "/big", "x-big", strings.Repeat("b", 4000))...)
		c.until("an answer", func() bool { return c.stream(1).ended || c.goaway != nil })
		if s := c.stream(1); s.ended && s.status != "431" && s.rst == nil {
			t.Errorf("oversized field: status %q, want 431, RST_STREAM or GOAWAY", s.status)
		}
	})
}

// TestFrameSize sends frames one byte longer than the server's
// SETTINGS_MAX_FRAME_SIZE.
func TestFrameSize(t *testing.T) {
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(rawEcho), nil)
	maxFrame := func(c *rawConn) int {
		if v, ok := c.settings[http2.SettingMaxFrameSize]; ok {
			return int(v)
		}
		return 16 << 10
	}
	t.Run("DATA", func(t *testing.T) {
		// A stream or a connection error, both FRAME_SIZE_ERROR.
		c := dialRaw(t, ts.addr)
		c.headers(1, false, request("POST", "/")...)
		if err := c.fr.WriteData(1, true, make([]byte, maxFrame(c)+1)); err != nil {
			t.Fatal(err)
		}
		c.until("an error", func() bool { return c.stream(1).ended || c.goaway != nil })
		s := c.stream(1)
		switch {
		case c.goaway != nil:
			if *c.goaway != http2.ErrCodeFrameSize {
				t.Errorf("GOAWAY %v, want FRAME_SIZE_ERROR", *c.goaway)
			}
		case s.rst == nil || *s.rst != http2.ErrCodeFrameSize:
			t.Errorf("stream ended with status %q rst %v, want FRAME_SIZE_ERROR\nframes:\n  %s", s.status, s.rst, strings.Join(c.frames, "\n  "))
		}
	})
	t.Run("HEADERS", func(t *testing.T) {
		// HEADERS changes the HPACK state: a connection error.
		c := dialRaw(t, ts.addr)
		c.encBuf.Reset()
		for f := range pairs(request("GET", "/")) {
			c.enc.WriteField(f)
		}
		for i := 0; c.encBuf.Len() <= maxFrame(c); i++ {
			c.enc.WriteField(hpack.HeaderField{Name: fmt.Sprintf("x-h%d", i), Value: strings.Repeat("h", 100), Sensitive: true})
		}
		err := c.fr.WriteHeaders(http2.HeadersFrameParam{
			StreamID: 1, BlockFragment: c.encBuf.Bytes(), EndStream: true, EndHeaders: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		c.until("GOAWAY", func() bool { return c.goaway != nil || c.stream(1).ended })
		if c.goaway == nil || *c.goaway != http2.ErrCodeFrameSize {
			t.Fatalf("want GOAWAY FRAME_SIZE_ERROR\nframes:\n  %s", strings.Join(c.frames, "\n  "))
		}
		c.waitClosed()
	})
}

// TestConcurrencyLimit opens one stream more than MaxConcurrentStreams
// allows.
func TestConcurrencyLimit(t *testing.T) {
	started := make(chan string, 10)
	release := make(chan struct{})
	ts := startServer(t, &h2.Server{MaxConcurrentStreams: 2}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- r.URL.Path
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "done")
	}), nil)
	defer close(release)
	c := dialRaw(t, ts.addr)
	c.get(1, "/1")
	c.get(3, "/3")
	testutil.Recv(t, started, 5*time.Second, "first handler")
	testutil.Recv(t, started, 5*time.Second, "second handler")
	c.get(5, "/5")
	s := c.waitStream(5)
	if s.rst == nil || (*s.rst != http2.ErrCodeRefusedStream && *s.rst != http2.ErrCodeProtocol) {
		t.Errorf("stream over the limit: status %q rst %v, want REFUSED_STREAM or PROTOCOL_ERROR", s.status, s.rst)
	}
	release <- struct{}{}
	release <- struct{}{}
	for _, id := range []uint32{1, 3} {
		if s := c.waitStream(id); s.status != "200" || s.body.String() != "done" {
			t.Errorf("stream %d: %s %q", id, s.status, s.body.String())
		}
	}
	select {
	case p := <-started:
		t.Errorf("the refused request %s reached the handler", p)
	default:
	}
	// A slot is free again.
	c.get(7, "/7")
	testutil.Recv(t, started, 5*time.Second, "handler after the limit")
	release <- struct{}{}
	if s := c.waitStream(7); s.status != "200" {
		t.Errorf("stream 7: %s rst %v", s.status, s.rst)
	}
}

// TestSendFlowControl checks that the server sends no more DATA than the
// client's stream window allows, and resumes on WINDOW_UPDATE.
func TestSendFlowControl(t *testing.T) {
	body := strings.Repeat("0123456789", 10)
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}), nil)
	c := dialRaw(t, ts.addr, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 10})
	c.get(1, "/")
	s := c.stream(1)
	c.until("10 bytes of DATA", func() bool { return s.body.Len() >= 10 || s.ended })
	if s.body.Len() != 10 || s.ended {
		t.Fatalf("with a 10-byte window: %d bytes, ended %t", s.body.Len(), s.ended)
	}
	if err := c.fr.WriteWindowUpdate(1, 90); err != nil {
		t.Fatal(err)
	}
	c.waitStream(1)
	if s.body.String() != body || s.rst != nil {
		t.Errorf("got %q, rst %v", s.body.String(), s.rst)
	}
}

// TestClientReset checks that RST_STREAM from the client cancels the
// handler's context and leaves the connection serving.
func TestClientReset(t *testing.T) {
	started := make(chan struct{}, 1)
	cancelled := make(chan error, 1)
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/wait" {
			io.WriteString(w, "ok")
			return
		}
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			cancelled <- r.Context().Err()
		case <-time.After(10 * time.Second):
			cancelled <- errors.New("not cancelled")
		}
	}), nil)
	c := dialRaw(t, ts.addr)
	c.headers(1, false, request("POST", "/wait")...)
	testutil.Recv(t, started, 5*time.Second, "handler start")
	if err := c.fr.WriteRSTStream(1, http2.ErrCodeCancel); err != nil {
		t.Fatal(err)
	}
	if err := testutil.Recv(t, cancelled, 15*time.Second, "handler"); !errors.Is(err, context.Canceled) {
		t.Errorf("handler context: %v", err)
	}
	c.get(3, "/")
	if s := c.waitStream(3); s.status != "200" {
		t.Errorf("after reset: %s", s.status)
	}
}

// TestExpectContinue checks that a handler reading the body of a request
// with "Expect: 100-continue" sends 100 first.
func TestExpectContinue(t *testing.T) {
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(rawEcho), nil)
	c := dialRaw(t, ts.addr)
	c.headers(1, false, request("POST", "/", "expect", "100-continue")...)
	s := c.stream(1)
	c.until("100 Continue", func() bool { return len(s.info) > 0 || s.ended })
	if !slices.Equal(s.info, []string{"100"}) {
		t.Fatalf("informational %q, status %q", s.info, s.status)
	}
	if err := c.fr.WriteData(1, true, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	c.waitStream(1)
	if s.status != "200" || s.body.String() != "ok 3" {
		t.Errorf("got %s %q", s.status, s.body.String())
	}
}

// TestResetUnblocksWrite has a handler blocked in Write on a zero
// flow-control window; RST_STREAM from the client must end the Write
// with an error.
func TestResetUnblocksWrite(t *testing.T) {
	started := make(chan struct{})
	werr := make(chan error, 1)
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		close(started)
		_, err := w.Write(make([]byte, 100<<10))
		if err == nil {
			w.(http.Flusher).Flush()
			_, err = w.Write([]byte("x"))
		}
		werr <- err
	}), nil)
	c := dialRaw(t, ts.addr, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	c.get(1, "/")
	testutil.Recv(t, started, 5*time.Second, "handler start")
	c.until("the response header", func() bool { return c.stream(1).status != "" })
	if err := c.fr.WriteRSTStream(1, http2.ErrCodeCancel); err != nil {
		t.Fatal(err)
	}
	if err := testutil.Recv(t, werr, 10*time.Second, "the blocked Write"); err == nil {
		t.Errorf("Write to a reset stream succeeded")
	}
	if n := c.stream(1).body.Len(); n != 0 {
		t.Errorf("%d bytes of DATA sent with a zero window", n)
	}
}

// TestCloseUnblocksHandler closes the client connection while one
// handler waits in Write on a zero window and another in a body Read.
func TestCloseUnblocksHandler(t *testing.T) {
	started := make(chan struct{}, 2)
	errs := make(chan error, 2)
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		if r.URL.Path == "/read" {
			_, err := io.ReadAll(r.Body)
			errs <- err
			return
		}
		_, err := w.Write(make([]byte, 100<<10))
		if err == nil {
			w.(http.Flusher).Flush()
			_, err = w.Write([]byte("x"))
		}
		errs <- err
	}), nil)
	c := dialRaw(t, ts.addr, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	c.get(1, "/write")
	c.headers(3, false, request("POST", "/read")...)
	testutil.Recv(t, started, 5*time.Second, "handler start")
	testutil.Recv(t, started, 5*time.Second, "handler start")
	c.c.Close()
	for range 2 {
		if err := testutil.Recv(t, errs, 10*time.Second, "the blocked handlers"); err == nil {
			t.Errorf("handler I/O succeeded on a closed connection")
		}
	}
}

// TestContinuationFlood sends a header block that never ends, in
// CONTINUATION frames, far past MaxHeaderBytes: the server must give up
// on the connection rather than read it forever (CVE-2024-27316).
func TestContinuationFlood(t *testing.T) {
	ts := startServer(t, &h2.Server{MaxHeaderBytes: 4096}, http.HandlerFunc(rawEcho), nil)
	c := dialRaw(t, ts.addr)
	c.encBuf.Reset()
	for f := range pairs(request("GET", "/")) {
		c.enc.WriteField(f)
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.encBuf.Bytes(), EndStream: true}); err != nil {
		t.Fatal(err)
	}
	// Each fragment holds whole literal fields, not indexed.
	c.encBuf.Reset()
	for i := 0; c.encBuf.Len() < 15<<10; i++ {
		c.enc.WriteField(hpack.HeaderField{Name: fmt.Sprintf("x-f%d", i), Value: strings.Repeat("f", 200), Sensitive: true})
	}
	frag := bytes.Clone(c.encBuf.Bytes())
	go func() {
		for range 16 << 20 / len(frag) { // 16 MiB
			if c.fr.WriteContinuation(1, false, frag) != nil {
				return
			}
		}
	}()
	for c.readOne() {
		if c.goaway != nil {
			break
		}
	}
	if errors.Is(c.readErr, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open after 16 MiB of one header block\nframes:\n  %s", strings.Join(c.frames, "\n  "))
	}
	t.Logf("ended with %v after:\n  %s", c.readErr, strings.Join(c.frames, "\n  "))
}

// TestWriteDeadline has a handler set a write deadline and then write to
// a client whose window is zero: the Write must fail at the deadline
// rather than wait for a window forever.
func TestWriteDeadline(t *testing.T) {
	werr := make(chan error, 1)
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
			werr <- fmt.Errorf("SetWriteDeadline: %w", err)
			return
		}
		_, err := w.Write(make([]byte, 100<<10))
		if err == nil {
			err = rc.Flush()
		}
		if err == nil {
			_, err = w.Write([]byte("x"))
		}
		if err == nil {
			err = errors.New("no error")
		}
		werr <- err
	}), nil)
	c := dialRaw(t, ts.addr, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	c.get(1, "/")
	err := testutil.Recv(t, werr, 10*time.Second, "the Write past its deadline")
	if err.Error() == "no error" || strings.HasPrefix(err.Error(), "SetWriteDeadline") {
		t.Errorf("handler: %v", err)
	}
}

// TestHeaderTableSizeZero asks for no HPACK dynamic table: the server's
// header blocks must decode with a zero-size table.
func TestHeaderTableSizeZero(t *testing.T) {
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Repeated", "the same value each time")
		io.WriteString(w, "ok")
	}), nil)
	c := dialRaw(t, ts.addr, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0})
	c.fr.ReadMetaHeaders = hpack.NewDecoder(0, nil)
	for id := uint32(1); id <= 5; id += 2 {
		c.get(id, "/")
		s := c.waitStream(id)
		if s.status != "200" || !slices.Contains(s.headers, hpack.HeaderField{Name: "x-repeated", Value: "the same value each time"}) {
			t.Errorf("stream %d: %s %v", id, s.status, s.headers)
		}
	}
}

// TestAnswerBeforeBody: a handler answers without reading the body. What
// the client still sends is checked as before (Content-Length, flow
// control) and reset with its own code; a body that ends is no error, and
// one that goes on is stopped with RST_STREAM(NO_ERROR).
func TestAnswerBeforeBody(t *testing.T) {
	ts := startServer(t, &h2.Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET")
		w.WriteHeader(http.StatusMethodNotAllowed)
		io.WriteString(w, "no")
	}), nil)
	for _, tc := range []struct {
		name  string
		extra []string // request header fields
		then  func(c *rawConn) error
		want  *http2.ErrCode // the reset of stream 1; nil for none
	}{
		{"body over its Content-Length", []string{"content-length", "1"},
			func(c *rawConn) error { return c.fr.WriteData(1, true, []byte("test")) }, ptr(http2.ErrCodeProtocol)},
		{"body under its Content-Length", []string{"content-length", "9"},
			func(c *rawConn) error { return c.fr.WriteData(1, true, []byte("test")) }, ptr(http2.ErrCodeProtocol)},
		{"window over 2^31-1", nil, func(c *rawConn) error {
			c.fr.WriteWindowUpdate(1, 1<<31-1)
			return c.fr.WriteWindowUpdate(1, 1<<31-1)
		}, ptr(http2.ErrCodeFlowControl)},
		{"body that goes on", nil, func(c *rawConn) error {
			for range 6 {
				if err := c.fr.WriteData(1, false, make([]byte, 16<<10)); err != nil {
					return err
				}
			}
			return nil
		}, ptr(http2.ErrCodeNo)},
		{"client that sends nothing more", nil, func(c *rawConn) error { return nil }, ptr(http2.ErrCodeNo)},
		{"body that ends", []string{"content-length", "4"},
			func(c *rawConn) error { return c.fr.WriteData(1, true, []byte("test")) }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, ts.addr)
			c.headers(1, false, request("POST", "/", tc.extra...)...)
			if s := c.waitStream(1); s.status != "405" || s.rst != nil {
				t.Fatalf("answer: status %s, reset %v", s.status, s.rst)
			}
			if err := tc.then(c); err != nil {
				t.Fatal(err)
			}
			s := c.stream(1)
			if tc.want != nil {
				c.until("the reset of stream 1", func() bool { return s.rst != nil })
				if *s.rst != *tc.want {
					t.Fatalf("stream 1 reset with %v, want %v\nframes:\n  %s", *s.rst, *tc.want, strings.Join(c.frames, "\n  "))
				}
				return
			}
			c.get(3, "/")
			c.waitStream(3)
			if s.rst != nil {
				t.Fatalf("stream 1 reset with %v after a body that ended", *s.rst)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
