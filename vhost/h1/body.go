package h1

import (
	"bytes"
	"io"
	"net/http"
)

// body is a request body, read from the connection as the handler asks.
type body struct {
	c       *conn
	ctx     *reqContext
	left    int64 // Content-Length bytes left, or bytes left of the current chunk
	chunked bool
	crlf    bool // chunked: the CRLF after a chunk's data is next
	eof     bool
	err     error // sticky
	expect  bool  // "100 Continue" is owed before the first read
	closed  bool
	trailer http.Header // the request's declared trailers, filled at the end
}

var continueLine = []byte("HTTP/1.1 100 Continue\r\n\r\n")

func (b *body) Read(p []byte) (int, error) {
	switch {
	case b.closed:
		return 0, http.ErrBodyReadAfterClose
	case b.err != nil:
		return 0, b.err
	case b.eof:
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	}
	if b.expect {
		b.expect = false
		c := b.c
		if b.ctx.ex.w.status == 0 { // as net/http: not once the answer has begun
			c.out = append(c.out, continueLine...)
			if err := c.flush(); err != nil {
				b.err = err
				return 0, err
			}
		}
	}
	var n int
	var err error
	if b.chunked {
		n, err = b.readChunked(p)
	} else {
		n, err = b.raw(p[:min(int64(len(p)), b.left)])
		b.left -= int64(n)
		if b.left == 0 {
			err = io.EOF
		}
	}
	if err == io.EOF {
		b.eof = true
		b.ctx.bodyDone()
	} else if err != nil {
		b.err = err
	}
	return n, err
}

// raw reads body bytes: first what is buffered, then from the connection,
// straight into p when p is large.
func (b *body) raw(p []byte) (int, error) {
	c := b.c
	if c.r == c.w && len(p) >= readBufSize {
		n, err := c.nc.Read(p)
		if n > 0 {
			return n, nil
		}
		return 0, unexpected(err)
	}
	if c.r == c.w {
		if err := c.fill(len(c.buf)); err != nil {
			return 0, unexpected(err)
		}
	}
	n := copy(p, c.buf[c.r:c.w])
	c.r += n
	return n, nil
}

func unexpected(err error) error {
	if err == io.EOF || err == nil {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readChunked decodes the chunked framing strictly: a hex size (at most
// 16 digits) followed at once by CRLF or by extensions, exactly size
// bytes and CRLF, a zero-size last chunk, trailer fields, and an empty
// line. Bare CR or LF anywhere in the framing is refused.
func (b *body) readChunked(p []byte) (int, error) {
	for {
		switch {
		case b.left > 0:
			n, err := b.raw(p[:min(int64(len(p)), b.left)])
			b.left -= int64(n)
			if b.left == 0 {
				b.crlf = true
			}
			return n, err
		case b.crlf:
			line, err := b.line()
			if err != nil {
				return 0, err
			}
			if len(line) != 0 {
				return 0, errBadChunk
			}
			b.crlf = false
		default:
			line, err := b.line()
			if err != nil {
				return 0, err
			}
			size, err := chunkSize(line)
			if err != nil {
				return 0, err
			}
			if size > 0 {
				b.left = size
				continue
			}
			for n := 0; ; n++ { // trailer fields, validated and dropped
				line, err := b.line()
				if err != nil {
					return 0, err
				}
				if len(line) == 0 {
					return 0, io.EOF
				}
				if n >= maxHeaders || !validTrailer(line) {
					return 0, errBadChunk
				}
				if b.trailer != nil {
					name, value, _ := bytes.Cut(line, []byte(":"))
					k := http.CanonicalHeaderKey(string(name))
					if _, ok := b.trailer[k]; ok {
						b.trailer[k] = append(b.trailer[k], string(trimOWS(value)))
					}
				}
			}
		}
	}
}

// line returns the next CRLF-terminated line of the chunked framing,
// without its CRLF. It is valid until the next read.
func (b *body) line() ([]byte, error) {
	c := b.c
	for {
		rem := c.buf[c.r:c.w]
		if i := bytes.IndexByte(rem, '\n'); i >= 0 {
			if i >= maxChunkLine || i == 0 || rem[i-1] != '\r' {
				return nil, errBadChunk
			}
			line := rem[:i-1]
			if bytes.IndexByte(line, '\r') >= 0 {
				return nil, errBadChunk
			}
			c.r += i + 1
			return line, nil
		}
		if len(rem) > maxChunkLine {
			return nil, errBadChunk
		}
		if err := c.fill(len(c.buf)); err != nil {
			return nil, unexpected(err)
		}
	}
}

func (b *body) Close() error {
	b.closed = true
	return nil
}

// done reports whether the body was read to its end without error.
func (b *body) done() bool { return b.eof && b.err == nil }

// discard reads and drops what the handler left of the body, up to
// discardLimit, and reports whether the connection can go on.
func (b *body) discard() bool {
	if b.err != nil || b.expect {
		// A client that was not told to continue may or may not send the
		// body: the connection's framing is unknown.
		return false
	}
	if !b.chunked && b.left > discardLimit {
		return false
	}
	b.closed = false
	var scratch [4 << 10]byte
	total := 0
	for !b.eof && total <= discardLimit {
		n, err := b.Read(scratch[:])
		total += n
		if err != nil && err != io.EOF {
			return false
		}
	}
	return b.eof
}
