package fcgi

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReader feeds arbitrary streams to the record reader: it must never
// panic or read past a record, and every record it returns must encode
// back to a stream it reads the same way.
func FuzzReader(f *testing.F) {
	f.Add(AppendRecord(nil, TypeStdout, 1, []byte("Status: 200 OK\r\n\r\nhi")))
	f.Add(AppendStream(AppendRecord(nil, TypeStderr, 1, []byte("warning\n")), TypeStdout, 1, nil))
	f.Add(AppendEndRequest(nil, 1, 0, StatusRequestComplete))
	f.Add([]byte{Version1, byte(TypeStdout), 0, 1, 0xff, 0xff, 0xff, 0})
	f.Add([]byte{2, 6, 0, 1, 0, 0, 0, 0})
	f.Add([]byte{1, 3, 0, 1, 0, 3, 0, 0, 1, 2, 3})
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := NewReader(bytes.NewReader(stream), 0)
		used := 0
		for {
			rec, err := r.Next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrVersion) {
					t.Fatalf("Next: unexpected error %v", err)
				}
				if err == io.EOF && used != len(stream) {
					t.Fatalf("io.EOF after %d of %d bytes", used, len(stream))
				}
				return
			}
			if len(rec.Content) > MaxContent {
				t.Fatalf("record of %d bytes", len(rec.Content))
			}
			h := ParseHeader(stream[used:])
			if int(h.ContentLength) != len(rec.Content) || h.Type != rec.Type || h.ID != rec.ID {
				t.Fatalf("record %+v does not match its header %+v", rec, h)
			}
			if !bytes.Equal(stream[used+HeaderLen:used+HeaderLen+len(rec.Content)], rec.Content) {
				t.Fatal("content differs from the stream's bytes")
			}
			used += HeaderLen + int(h.ContentLength) + int(h.PaddingLength)

			again, err := NewReader(bytes.NewReader(AppendRecord(nil, rec.Type, rec.ID, rec.Content)), 0).Next()
			if err != nil || again.Type != rec.Type || again.ID != rec.ID || !bytes.Equal(again.Content, rec.Content) {
				t.Fatalf("re-encoded record reads as %+v, %v; want %+v", again, err, rec)
			}
			switch rec.Type {
			case TypeEndRequest:
				_, _ = ParseEndRequest(rec.Content)
			case TypeBeginRequest:
				_, _ = ParseBeginRequest(rec.Content)
			case TypeParams, TypeGetValues, TypeGetValuesResult:
				_ = ParsePairs(rec.Content, func(n, v []byte) {})
			}
		}
	})
}

// FuzzPairs decodes arbitrary blocks of name-value pairs: no panic, and a
// block that decodes encodes back to pairs that decode the same.
func FuzzPairs(f *testing.F) {
	f.Add(AppendPair(AppendPair(nil, "A", "1"), "SCRIPT_NAME", "/index.php"))
	f.Add([]byte{0x80, 0, 0, 1, 0, 'x'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		var pairs [][2]string
		if err := ParsePairs(b, func(n, v []byte) { pairs = append(pairs, [2]string{string(n), string(v)}) }); err != nil {
			if !errors.Is(err, ErrPairs) {
				t.Fatalf("ParsePairs: unexpected error %v", err)
			}
			return
		}
		var enc []byte
		for _, p := range pairs {
			enc = AppendPair(enc, p[0], p[1])
		}
		i := 0
		if err := ParsePairs(enc, func(n, v []byte) {
			if string(n) != pairs[i][0] || string(v) != pairs[i][1] {
				t.Fatalf("pair %d = %q %q, want %q", i, n, v, pairs[i])
			}
			i++
		}); err != nil || i != len(pairs) {
			t.Fatalf("re-encoded pairs: %v after %d of %d", err, i, len(pairs))
		}
	})
}
