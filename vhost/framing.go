package vhost

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
)

// framer follows the HTTP/1.x framing of what a client sends on a plain
// connection, to find what net/http hides from handlers: a request that
// carries both Content-Length and Transfer-Encoding (RFC 9112 §6.3 allows
// treating it as an error; SPEC §9 makes it a 400). net/http drops the
// Content-Length of such a request before the handler sees it.
//
// feed sees every byte in order, before net/http parses it; claim is
// called by the handler of each request, in order too.
type framer struct {
	mu      sync.Mutex // guards everything below
	state   frameState
	line    []byte // the header or chunk line read so far
	left    int64  // body or chunk bytes still to skip
	reqLine string // request line of the header block being read
	long    bool   // the line being read was cut at maxFrameLine
	reqLong bool   // reqLine was cut
	hasCL   bool
	hasTE   bool
	queue   []frame // header blocks read and not yet claimed
}

// frame is one request header block.
type frame struct {
	reqLine  string // "METHOD target", cut at maxFrameLine bytes
	long     bool   // reqLine was cut
	conflict bool   // both Content-Length and Transfer-Encoding
}

type frameState int

const (
	frameHeader frameState = iota
	frameBody
	frameChunkSize
	frameChunkData
	frameChunkEnd
	frameTrailer
	frameOff // lost track (not HTTP/1): report nothing
)

const (
	maxFrameLine  = 8 << 10 // longer lines are followed but not kept whole
	maxFrameQueue = 64
)

// feed follows the bytes p the client sent.
func (f *framer) feed(p []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(p) > 0 && f.state != frameOff {
		switch f.state {
		case frameBody, frameChunkData:
			n := int64(len(p))
			if n > f.left {
				n = f.left
			}
			p, f.left = p[n:], f.left-n
			if f.left == 0 {
				if f.state == frameBody {
					f.state = frameHeader
				} else {
					f.state = frameChunkEnd
				}
			}
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			f.keep(p)
			return
		}
		f.keep(p[:i])
		p = p[i+1:]
		line := bytes.TrimSuffix(f.line, []byte("\r"))
		f.endLine(line)
		f.line, f.long = f.line[:0], false
	}
}

// keep adds b to the line being read, up to maxFrameLine bytes.
func (f *framer) keep(b []byte) {
	if room := maxFrameLine - len(f.line); len(b) > room {
		b, f.long = b[:room], true
	}
	f.line = append(f.line, b...)
}

// endLine handles one complete line (without its line break).
func (f *framer) endLine(line []byte) {
	switch f.state {
	case frameHeader:
		if f.reqLine == "" {
			if len(line) == 0 {
				return // a stray line break between requests
			}
			method, rest, _ := bytes.Cut(line, []byte(" "))
			target, _, _ := bytes.Cut(rest, []byte(" "))
			if string(method) == "PRI" {
				f.state = frameOff // HTTP/2 with prior knowledge
				return
			}
			f.reqLine = string(method) + " " + string(target)
			f.reqLong = f.long
			return
		}
		if len(line) > 0 {
			name, value, _ := bytes.Cut(line, []byte(":"))
			switch {
			case bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Length")):
				f.hasCL = true
				f.left, _ = strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64)
			case bytes.EqualFold(bytes.TrimSpace(name), []byte("Transfer-Encoding")):
				f.hasTE = true
			}
			return
		}
		// The end of the header block.
		if len(f.queue) == maxFrameQueue {
			f.queue = f.queue[1:]
		}
		f.queue = append(f.queue, frame{reqLine: f.reqLine, long: f.reqLong, conflict: f.hasCL && f.hasTE})
		switch {
		case f.hasTE:
			f.state = frameChunkSize
		case f.hasCL && f.left > 0:
			f.state = frameBody
		case f.hasCL && f.left < 0:
			f.state = frameOff
		}
		f.reqLine, f.reqLong, f.hasCL, f.hasTE = "", false, false, false
		if f.state == frameHeader {
			f.left = 0
		}
	case frameChunkSize:
		size, _, _ := bytes.Cut(line, []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		switch {
		case err != nil || n < 0:
			f.state = frameOff
		case n == 0:
			f.state = frameTrailer
		default:
			f.left, f.state = n, frameChunkData
		}
	case frameChunkEnd:
		f.state = frameChunkSize
	case frameTrailer:
		if len(line) == 0 {
			f.state = frameHeader
		}
	}
}

// inHeader reports whether part of a request header block has arrived
// and its end has not. It is false once framing is lost.
func (f *framer) inHeader() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state == frameHeader && (f.reqLine != "" || len(f.line) > 0)
}

// claim returns whether the header block of the request with this method
// and target had both Content-Length and Transfer-Encoding. Blocks no
// handler claimed (requests net/http answered itself) are skipped.
func (f *framer) claim(method, target string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	want := method + " " + target
	for len(f.queue) > 0 {
		fr := f.queue[0]
		f.queue = f.queue[1:]
		if fr.reqLine == want || fr.long && strings.HasPrefix(want, fr.reqLine) {
			return fr.conflict
		}
	}
	return false
}
