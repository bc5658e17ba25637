package vhost

import (
	"bytes"
	"strconv"
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
//
// Request lines are kept as hashes in a fixed ring, so following a
// connection allocates nothing per request.
type framer struct {
	mu      sync.Mutex // guards everything below
	state   frameState
	line    []byte // the header or chunk line read so far
	left    int64  // body or chunk bytes still to skip
	req     frame  // the header block being read; req.n > 0 once its request line is in
	long    bool   // the line being read was cut at maxFrameLine
	hasCL   bool
	hasTE   bool
	queue   [maxFrameQueue]frame // header blocks read and not yet claimed, a ring
	head    int                  // index of the oldest block in queue
	pending int                  // blocks in queue
}

// frame is one request header block.
type frame struct {
	sum      uint64 // FNV-1a of "METHOD target", cut at maxFrameLine bytes
	n        int    // bytes summed
	long     bool   // the request line was cut
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
		if f.req.n == 0 {
			if len(line) == 0 {
				return // a stray line break between requests
			}
			method, rest, _ := bytes.Cut(line, []byte(" "))
			target, _, _ := bytes.Cut(rest, []byte(" "))
			if string(method) == "PRI" {
				f.state = frameOff // HTTP/2 with prior knowledge
				return
			}
			sum := fnvAdd(fnvOffset, method)
			sum = fnvAdd(sum, []byte{' '})
			f.req = frame{sum: fnvAdd(sum, target), n: len(method) + 1 + len(target), long: f.long}
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
		f.req.conflict = f.hasCL && f.hasTE
		if f.pending == maxFrameQueue { // drop the oldest
			f.head = (f.head + 1) % maxFrameQueue
			f.pending--
		}
		f.queue[(f.head+f.pending)%maxFrameQueue] = f.req
		f.pending++
		switch {
		case f.hasTE:
			f.state = frameChunkSize
		case f.hasCL && f.left > 0:
			f.state = frameBody
		case f.hasCL && f.left < 0:
			f.state = frameOff
		}
		f.req, f.hasCL, f.hasTE = frame{}, false, false
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
	return f.state == frameHeader && (f.req.n > 0 || len(f.line) > 0)
}

// claim returns whether the header block of the request with this method
// and target had both Content-Length and Transfer-Encoding. Blocks no
// handler claimed (requests net/http answered itself) are skipped.
func (f *framer) claim(method, target string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.pending > 0 {
		fr := f.queue[f.head]
		f.head = (f.head + 1) % maxFrameQueue
		f.pending--
		if fr.matches(method, target) {
			return fr.conflict
		}
	}
	return false
}

// matches reports whether the block's request line is "method target"
// (or, for a cut line, begins it).
func (fr *frame) matches(method, target string) bool {
	n := len(method) + 1 + len(target)
	if n != fr.n && !(fr.long && n > fr.n) {
		return false
	}
	sum, left := fnvAddString(fnvOffset, method, fr.n)
	sum, left = fnvAddString(sum, " ", left)
	sum, _ = fnvAddString(sum, target, left)
	return sum == fr.sum
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvAdd(h uint64, b []byte) uint64 {
	for _, c := range b {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h
}

// fnvAddString adds at most limit bytes of s and returns the limit left.
func fnvAddString(h uint64, s string, limit int) (uint64, int) {
	if len(s) > limit {
		s = s[:limit]
	}
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h, limit - len(s)
}
