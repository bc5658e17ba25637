package h1

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// eofConn is a connection whose client has sent everything already.
type eofConn struct{ net.Conn }

func (eofConn) Read([]byte) (int, error)        { return 0, io.EOF }
func (eofConn) SetReadDeadline(time.Time) error { return nil }

// readStreamed decodes data as a chunked body with the streaming reader,
// in reads of size step, and returns the body and how much of data the
// framing took.
func readStreamed(data []byte, step int) ([]byte, int, error) {
	c := &conn{nc: eofConn{}, buf: make([]byte, len(data)+readBufSize)}
	c.w = copy(c.buf, data)
	ex := &exchange{c: c}
	ex.ctx.ex = ex
	b := &body{c: c, ctx: &ex.ctx, chunked: true}
	var out []byte
	p := make([]byte, step)
	for {
		n, err := b.Read(p)
		out = append(out, p[:n]...)
		if err == io.EOF {
			return out, c.r, nil
		}
		if err != nil {
			return out, c.r, err
		}
	}
}

// FuzzChunkedBody checks the streaming chunked reader against the
// whole-buffer reference parser: the same bodies accepted, with the same
// bytes and the same framing length, and everything else refused.
func FuzzChunkedBody(f *testing.F) {
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\nGET",
		"5\nhello\r\n0\r\n\r\n",
		"0\r\n\r\n",
		"10\r\n0123456789abcdef\r\n0\r\n\r\n",
		"5 \r\nhello\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s), 3)
	}
	f.Fuzz(func(t *testing.T, data []byte, step int) {
		step = 1 + (step&0xffff)%64
		var ref []byte
		n, refErr := parseChunked(data, 1<<20, &ref)
		if refErr == errBodyTooLarge {
			return
		}
		got, used, err := readStreamed(data, step)
		switch {
		case refErr == nil && err != nil:
			t.Fatalf("reference accepts %d bytes, streaming refuses: %v", n, err)
		case refErr == nil && (!bytes.Equal(got, ref) || used != n):
			t.Fatalf("streaming read %q using %d bytes; reference %q using %d", got, used, ref, n)
		case refErr != nil && err == nil:
			t.Fatalf("reference refuses (%v), streaming accepts %q", refErr, got)
		}
	})
}
