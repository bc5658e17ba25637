package fcgi

import (
	"encoding/binary"
	"errors"
)

// MaxPairLen is the longest name or value a name-value pair can carry.
const MaxPairLen = 1<<31 - 1

// ErrPairs is a malformed block of name-value pairs.
var ErrPairs = errors.New("fcgi: malformed name-value pairs")

// AppendPair appends one name-value pair, as PARAMS and GET_VALUES carry
// them: each length in one byte when below 128, else in four with the
// top bit set, then the name and the value. Names and values longer than
// MaxPairLen cannot be encoded; the caller keeps them shorter.
func AppendPair(dst []byte, name, value string) []byte {
	dst = appendLen(dst, len(name))
	dst = appendLen(dst, len(value))
	dst = append(dst, name...)
	return append(dst, value...)
}

func appendLen(dst []byte, n int) []byte {
	if n < 128 {
		return append(dst, byte(n))
	}
	return binary.BigEndian.AppendUint32(dst, uint32(n)|1<<31)
}

// ParsePairs decodes a whole block of name-value pairs (the content of a
// stream's records put together) and calls fn for each, in order. name
// and value alias b. It fails with ErrPairs when a length runs past the
// end of b; fn has then been called for the pairs before.
func ParsePairs(b []byte, fn func(name, value []byte)) error {
	for len(b) > 0 {
		nl, n, ok := readLen(b)
		if !ok {
			return ErrPairs
		}
		b = b[n:]
		vl, n, ok := readLen(b)
		if !ok {
			return ErrPairs
		}
		b = b[n:]
		if uint64(nl)+uint64(vl) > uint64(len(b)) {
			return ErrPairs
		}
		fn(b[:nl:nl], b[nl:nl+vl:nl+vl])
		b = b[nl+vl:]
	}
	return nil
}

// readLen reads one length of a pair.
func readLen(b []byte) (length, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	if b[0]&0x80 == 0 {
		return int(b[0]), 1, true
	}
	if len(b) < 4 {
		return 0, 0, false
	}
	return int(binary.BigEndian.Uint32(b) &^ (1 << 31)), 4, true
}
