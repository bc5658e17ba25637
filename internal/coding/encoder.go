package coding

import (
	"bytes"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Default levels, each coding on its own scale. gzip 5 is close to
// nginx's gzip_comp_level 6 in size at a good deal less CPU with
// klauspost's encoder; br 4 is where brotli beats gzip on size at a
// similar cost; zstd 3 is zstd's own default (SpeedDefault).
const (
	DefaultGzipLevel = 5
	DefaultBrLevel   = 4
	DefaultZstdLevel = 3
)

// Level ranges each coding accepts: gzip 1 to 9, br 0 to 11, zstd 1 to
// 22 (zstd's scale; klauspost maps it onto its four speeds).
var LevelRange = [numCodings][2]int{Gzip: {1, 9}, Br: {0, 11}, Zstd: {1, 22}}

// Levels are the compression levels of each coding, indexed by Coding.
type Levels [numCodings]int

// DefaultLevels are the levels used when a compress block sets none.
var DefaultLevels = Levels{Gzip: DefaultGzipLevel, Br: DefaultBrLevel, Zstd: DefaultZstdLevel}

// Encoder is a streaming compressor writing to the writer it was got for.
type Encoder interface {
	io.Writer
	// Flush writes out what was written so far, so that the reader can
	// decode it, without ending the stream.
	Flush() error
	// Close ends the stream. The encoder then goes back with Put.
	Close() error
	Reset(w io.Writer)
}

type poolKey struct {
	c     Coding
	level int
}

// pools holds one sync.Pool of encoders per coding and level, for every
// generation of the server: an encoder is costly to make (zstd and br
// allocate their tables), cheap to reset.
var pools sync.Map // poolKey → *sync.Pool

func poolOf(c Coding, level int) *sync.Pool {
	k := poolKey{c, level}
	if p, ok := pools.Load(k); ok {
		return p.(*sync.Pool)
	}
	p, _ := pools.LoadOrStore(k, &sync.Pool{New: func() any { return newEncoder(c, level) }})
	return p.(*sync.Pool)
}

func newEncoder(c Coding, level int) Encoder {
	switch c {
	case Gzip:
		w, err := gzip.NewWriterLevel(io.Discard, level)
		if err != nil {
			w, _ = gzip.NewWriterLevel(io.Discard, DefaultGzipLevel)
		}
		return w
	case Br:
		// A 256 KiB window rather than the default 4 MiB: each pooled
		// encoder then holds about 2 MiB instead of 10, and web bodies
		// rarely repeat themselves from further back.
		return brotli.NewWriterOptions(io.Discard, brotli.WriterOptions{Quality: level, LGWin: 18})
	case Zstd:
		w, err := zstd.NewWriter(io.Discard,
			zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
			zstd.WithEncoderConcurrency(1),
			// 512 KiB, well under the 8 MiB browsers decode (RFC 8878,
			// section 3.1.1.1.2), bounds an encoder's memory on large
			// bodies to about 3 MiB (10 MiB with a 4 MiB window).
			zstd.WithWindowSize(512<<10),
			// An empty body is still a valid frame.
			zstd.WithZeroFrames(true))
		if err != nil {
			panic("coding: zstd encoder: " + err.Error())
		}
		return w
	}
	panic("coding: no encoder for " + c.String())
}

// GetEncoder returns a pooled encoder of c at level writing to w. Give it
// back with PutEncoder after Close.
func GetEncoder(c Coding, level int, w io.Writer) Encoder {
	e := poolOf(c, level).Get().(Encoder)
	e.Reset(w)
	return e
}

// PutEncoder returns e, an encoder of c at level got from GetEncoder and
// closed, to its pool.
func PutEncoder(c Coding, level int, e Encoder) {
	e.Reset(io.Discard)
	poolOf(c, level).Put(e)
}

// Compress returns src encoded with c at level, as one whole stream.
func Compress(c Coding, level int, src []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(src)/3 + 64)
	e := GetEncoder(c, level, &buf)
	_, err := e.Write(src)
	if cerr := e.Close(); err == nil {
		err = cerr
	}
	PutEncoder(c, level, e)
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
