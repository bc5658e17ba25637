package fcgi

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestFCGIRecordRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		typ     Type
		id      uint16
		content []byte
		records int // records AppendRecord makes
	}{
		{"empty", TypeStdin, 1, nil, 1},
		{"one byte", TypeStdout, 1, []byte("x"), 1},
		{"aligned", TypeStdout, 7, []byte("12345678"), 1},
		{"max id", TypeStderr, 0xffff, []byte("abc"), 1},
		{"management", TypeGetValues, 0, []byte("\x0e\x00FCGI_MPXS_CONNS"), 1},
		{"one full record", TypeStdin, 1, bytes.Repeat([]byte("a"), MaxContent), 1},
		{"two records", TypeStdin, 1, bytes.Repeat([]byte("b"), MaxContent+1), 2},
		{"three records", TypeParams, 2, bytes.Repeat([]byte("c"), 2*MaxContent+100), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := AppendRecord(nil, tt.typ, tt.id, tt.content)
			r := NewReader(bytes.NewReader(b), 0)
			var got []byte
			for i := 0; i < tt.records; i++ {
				rec, err := r.Next()
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if rec.Type != tt.typ || rec.ID != tt.id {
					t.Fatalf("record %d: type %v id %d, want %v %d", i, rec.Type, rec.ID, tt.typ, tt.id)
				}
				got = append(got, rec.Content...)
			}
			if _, err := r.Next(); err != io.EOF {
				t.Fatalf("after %d records: %v, want io.EOF", tt.records, err)
			}
			if !bytes.Equal(got, tt.content) {
				t.Errorf("content of %d bytes, want %d", len(got), len(tt.content))
			}
			if len(b)%8 != 0 {
				t.Errorf("records of %d bytes: not padded to 8", len(b))
			}
		})
	}
}

func TestFCGIAppendStream(t *testing.T) {
	b := AppendStream(nil, TypeParams, 3, []byte("abc"))
	b = AppendStream(b, TypeStdin, 3, nil)
	r := NewReader(bytes.NewReader(b), 0)
	want := []struct {
		typ Type
		n   int
	}{{TypeParams, 3}, {TypeParams, 0}, {TypeStdin, 0}}
	for i, w := range want {
		rec, err := r.Next()
		if err != nil || rec.Type != w.typ || len(rec.Content) != w.n || rec.ID != 3 {
			t.Fatalf("record %d = %v %d %q, %v; want %v with %d bytes", i, rec.Type, rec.ID, rec.Content, err, w.typ, w.n)
		}
	}
}

func TestFCGIReaderErrors(t *testing.T) {
	good := AppendRecord(nil, TypeStdout, 1, []byte("hello"))
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty stream", nil, io.EOF},
		{"half a header", good[:4], ErrTruncated},
		{"header only", good[:HeaderLen], ErrTruncated},
		{"content cut", good[:HeaderLen+2], ErrTruncated},
		{"padding cut", good[:len(good)-1], ErrTruncated},
		{"version 0", append([]byte{0}, good[1:]...), ErrVersion},
		{"version 2", append([]byte{2}, good[1:]...), ErrVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(tt.in), 0).Next()
			if !errors.Is(err, tt.want) {
				t.Errorf("Next = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestFCGIReaderPadding reads records with padding other than this
// package writes: up to 255 bytes, as a responder may send.
func TestFCGIReaderPadding(t *testing.T) {
	var b []byte
	for _, pad := range []int{0, 1, 7, 200, 255} {
		b = append(b, Version1, byte(TypeStdout), 0, 1, 0, 3, byte(pad), 0)
		b = append(b, "abc"...)
		b = append(b, bytes.Repeat([]byte{0xee}, pad)...)
	}
	r := NewReader(bytes.NewReader(b), 0)
	for i := 0; i < 5; i++ {
		rec, err := r.Next()
		if err != nil || string(rec.Content) != "abc" {
			t.Fatalf("record %d = %q, %v", i, rec.Content, err)
		}
	}
}

func TestFCGIBeginEndRequest(t *testing.T) {
	b := AppendBeginRequest(nil, 1, RoleResponder, FlagKeepConn)
	b = AppendEndRequest(b, 1, 0xdeadbeef, StatusOverloaded)
	r := NewReader(bytes.NewReader(b), 0)
	rec, err := r.Next()
	if err != nil || rec.Type != TypeBeginRequest {
		t.Fatalf("Next = %v, %v", rec, err)
	}
	br, err := ParseBeginRequest(rec.Content)
	if err != nil || br.Role != RoleResponder || br.Flags != FlagKeepConn {
		t.Errorf("ParseBeginRequest = %+v, %v", br, err)
	}
	rec, err = r.Next()
	if err != nil || rec.Type != TypeEndRequest {
		t.Fatalf("Next = %v, %v", rec, err)
	}
	er, err := ParseEndRequest(rec.Content)
	if err != nil || er.AppStatus != 0xdeadbeef || er.ProtocolStatus != StatusOverloaded {
		t.Errorf("ParseEndRequest = %+v, %v", er, err)
	}
	if _, err := ParseEndRequest([]byte{1, 2, 3}); err == nil {
		t.Error("ParseEndRequest of 3 bytes: no error")
	}
	if _, err := ParseBeginRequest(nil); err == nil {
		t.Error("ParseBeginRequest of nothing: no error")
	}
}

func TestFCGIPairs(t *testing.T) {
	long := strings.Repeat("v", 200)
	pairs := [][2]string{
		{"SCRIPT_FILENAME", "/srv/www/index.php"},
		{"EMPTY", ""},
		{"", "no name"},
		{"LONG_VALUE", long},
		{strings.Repeat("N", 127), "127-byte name: one length byte"},
		{strings.Repeat("M", 128), "128-byte name: four length bytes"},
		{"BINARY", "a\x00b\xff"},
	}
	var b []byte
	for _, p := range pairs {
		b = AppendPair(b, p[0], p[1])
	}
	var got [][2]string
	if err := ParsePairs(b, func(n, v []byte) { got = append(got, [2]string{string(n), string(v)}) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(pairs) {
		t.Fatalf("got %d pairs, want %d", len(got), len(pairs))
	}
	for i := range pairs {
		if got[i] != pairs[i] {
			t.Errorf("pair %d = %q, want %q", i, got[i], pairs[i])
		}
	}
}

func TestFCGIPairsMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
	}{
		{"name length only", []byte{5}},
		{"short long length", []byte{0x80, 0, 1}},
		{"value runs past the end", []byte{1, 5, 'a', 'b'}},
		{"name runs past the end", []byte{9, 0, 'a'}},
		{"huge lengths", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ParsePairs(tt.in, func(n, v []byte) {}); !errors.Is(err, ErrPairs) {
				t.Errorf("ParsePairs(%q) = %v, want ErrPairs", tt.in, err)
			}
		})
	}
}

func TestFCGITypeString(t *testing.T) {
	if s := TypeStdout.String(); s != "STDOUT" {
		t.Errorf("TypeStdout = %q", s)
	}
	if s := Type(99).String(); s != "type(99)" {
		t.Errorf("Type(99) = %q", s)
	}
}
