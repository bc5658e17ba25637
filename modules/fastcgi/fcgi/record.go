package fcgi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Version1 is the only protocol version, FCGI_VERSION_1.
const Version1 = 1

// Type is a record type.
type Type uint8

// Record types of FastCGI 1.0.
const (
	TypeBeginRequest    Type = 1
	TypeAbortRequest    Type = 2
	TypeEndRequest      Type = 3
	TypeParams          Type = 4
	TypeStdin           Type = 5
	TypeStdout          Type = 6
	TypeStderr          Type = 7
	TypeData            Type = 8
	TypeGetValues       Type = 9
	TypeGetValuesResult Type = 10
	TypeUnknownType     Type = 11
)

func (t Type) String() string {
	names := [...]string{"", "BEGIN_REQUEST", "ABORT_REQUEST", "END_REQUEST", "PARAMS", "STDIN",
		"STDOUT", "STDERR", "DATA", "GET_VALUES", "GET_VALUES_RESULT", "UNKNOWN_TYPE"}
	if int(t) > 0 && int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Role is the role a BEGIN_REQUEST asks the application to play.
type Role uint16

// RoleResponder is the role of an application that answers HTTP requests
// (FCGI_RESPONDER), the only one this package's users need.
const RoleResponder Role = 1

// FlagKeepConn in a BEGIN_REQUEST asks the application to keep the
// connection open after the request (FCGI_KEEP_CONN).
const FlagKeepConn = 1

// Protocol statuses of an END_REQUEST record.
const (
	StatusRequestComplete = 0 // FCGI_REQUEST_COMPLETE
	StatusCantMultiplex   = 1 // FCGI_CANT_MPX_CONN
	StatusOverloaded      = 2 // FCGI_OVERLOADED
	StatusUnknownRole     = 3 // FCGI_UNKNOWN_ROLE
)

// Sizes of the protocol.
const (
	// HeaderLen is the length of a record header.
	HeaderLen = 8
	// MaxContent is the most content one record carries.
	MaxContent = 65535
	// MaxPadding is the most padding one record carries.
	MaxPadding = 255
)

// Header is a record's header.
type Header struct {
	Version       uint8
	Type          Type
	ID            uint16 // request id; 0 for management records
	ContentLength uint16
	PaddingLength uint8
}

// Record is one record read by a Reader.
type Record struct {
	Type Type
	ID   uint16
	// Content is the record's content, without padding. It is valid only
	// until the next call of Reader.Next.
	Content []byte
}

// Errors of Reader.Next besides those of the underlying reader.
var (
	// ErrVersion is a record whose version is not Version1.
	ErrVersion = errors.New("fcgi: record of an unknown protocol version")
	// ErrTruncated is a stream that ends inside a record.
	ErrTruncated = errors.New("fcgi: stream ends inside a record")
)

// Reader reads records from a byte stream. It holds one record at a
// time, in a buffer that grows to the largest record seen (at most
// HeaderLen+MaxContent+MaxPadding bytes), whatever the length of the
// stream. A Reader is not safe for concurrent use.
type Reader struct {
	br  *bufio.Reader
	buf []byte
}

// initialBuf is the record buffer a Reader starts with: enough for the
// records PHP-FPM writes (8 KiB of content at most).
const initialBuf = 8<<10 + 2*HeaderLen + MaxPadding

// NewReader returns a Reader of r, buffered with size bytes (at least
// 4096).
func NewReader(r io.Reader, size int) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, max(size, 4096)), buf: make([]byte, initialBuf)}
}

// Reset makes the Reader read from r, dropping what it has buffered.
func (r *Reader) Reset(rd io.Reader) { r.br.Reset(rd) }

// Buffered is the number of bytes read from the stream that no record
// has used yet: 0 means the next record has not arrived whole.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// Next reads the next record. At the end of the stream, between
// records, it returns io.EOF; inside a record, ErrTruncated. A record
// whose version is not Version1 is ErrVersion, after which the stream is
// out of step and must not be read further. Other errors are the
// underlying reader's.
func (r *Reader) Next() (Record, error) {
	h := r.buf[:HeaderLen]
	if n, err := io.ReadFull(r.br, h); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF && n > 0 {
			return Record{}, ErrTruncated
		}
		return Record{}, err
	}
	hdr := ParseHeader(h)
	if hdr.Version != Version1 {
		return Record{}, fmt.Errorf("%w: %d", ErrVersion, hdr.Version)
	}
	if n := HeaderLen + int(hdr.ContentLength) + int(hdr.PaddingLength); n > len(r.buf) {
		r.buf = make([]byte, HeaderLen+MaxContent+MaxPadding)
	}
	body := r.buf[HeaderLen : HeaderLen+int(hdr.ContentLength)+int(hdr.PaddingLength)]
	if _, err := io.ReadFull(r.br, body); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return Record{}, ErrTruncated
		}
		return Record{}, err
	}
	return Record{Type: hdr.Type, ID: hdr.ID, Content: body[:hdr.ContentLength]}, nil
}

// ParseHeader decodes the first HeaderLen bytes of b, which must hold
// them.
func ParseHeader(b []byte) Header {
	return Header{
		Version:       b[0],
		Type:          Type(b[1]),
		ID:            binary.BigEndian.Uint16(b[2:4]),
		ContentLength: binary.BigEndian.Uint16(b[4:6]),
		PaddingLength: b[6],
	}
}

// zeros is the padding's bytes.
var zeros [8]byte

// Padding is how much padding this package puts after n bytes of
// content: enough to end the record on a multiple of 8 bytes, as the
// specification recommends.
func Padding(n int) int { return -n & 7 }

// PutHeader writes the header of a record of type t for request id with
// n bytes of content (at most MaxContent) and pad of padding into the
// first HeaderLen bytes of b, for callers that frame content already in
// place after it.
func PutHeader(b []byte, t Type, id uint16, n, pad int) {
	_ = b[HeaderLen-1]
	b[0], b[1], b[2], b[3] = Version1, byte(t), byte(id>>8), byte(id)
	b[4], b[5], b[6], b[7] = byte(n>>8), byte(n), byte(pad), 0
}

// AppendRecord appends records of type t for request id carrying content
// to dst: as many as content needs at MaxContent bytes each, or one empty
// record when content is empty (the end of a stream).
func AppendRecord(dst []byte, t Type, id uint16, content []byte) []byte {
	for {
		n := min(len(content), MaxContent)
		p := Padding(n)
		dst = append(dst, zeros[:HeaderLen]...)
		PutHeader(dst[len(dst)-HeaderLen:], t, id, n, p)
		dst = append(dst, content[:n]...)
		dst = append(dst, zeros[:p]...)
		content = content[n:]
		if len(content) == 0 {
			return dst
		}
	}
}

// AppendStream appends content as a stream of type t (PARAMS, STDIN,
// STDOUT, ...) for request id: its records, then the empty record that
// ends the stream.
func AppendStream(dst []byte, t Type, id uint16, content []byte) []byte {
	if len(content) > 0 {
		dst = AppendRecord(dst, t, id, content)
	}
	return AppendRecord(dst, t, id, nil)
}

// AppendBeginRequest appends a BEGIN_REQUEST record for request id.
func AppendBeginRequest(dst []byte, id uint16, role Role, flags uint8) []byte {
	return AppendRecord(dst, TypeBeginRequest, id, []byte{byte(role >> 8), byte(role), flags, 0, 0, 0, 0, 0})
}

// AppendEndRequest appends an END_REQUEST record for request id.
func AppendEndRequest(dst []byte, id uint16, appStatus uint32, protocolStatus uint8) []byte {
	var b [8]byte
	binary.BigEndian.PutUint32(b[:4], appStatus)
	b[4] = protocolStatus
	return AppendRecord(dst, TypeEndRequest, id, b[:])
}

// EndRequest is the body of an END_REQUEST record.
type EndRequest struct {
	AppStatus      uint32
	ProtocolStatus uint8
}

// ParseEndRequest decodes the content of an END_REQUEST record.
func ParseEndRequest(content []byte) (EndRequest, error) {
	if len(content) < 8 {
		return EndRequest{}, fmt.Errorf("fcgi: END_REQUEST body of %d bytes, want 8", len(content))
	}
	return EndRequest{AppStatus: binary.BigEndian.Uint32(content[:4]), ProtocolStatus: content[4]}, nil
}

// BeginRequest is the body of a BEGIN_REQUEST record.
type BeginRequest struct {
	Role  Role
	Flags uint8
}

// ParseBeginRequest decodes the content of a BEGIN_REQUEST record.
func ParseBeginRequest(content []byte) (BeginRequest, error) {
	if len(content) < 8 {
		return BeginRequest{}, fmt.Errorf("fcgi: BEGIN_REQUEST body of %d bytes, want 8", len(content))
	}
	return BeginRequest{Role: Role(binary.BigEndian.Uint16(content[:2])), Flags: content[2]}, nil
}
