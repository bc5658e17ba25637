package cgi

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// spoolMemory is how much of a body of unknown length is held in memory
// before the rest goes to a temporary file.
const spoolMemory = 1 << 20

// spool reads body to its end: into memory when it is small, else into an
// unlinked temporary file, rewound. It returns either mem or file, and
// the length. The caller closes file.
func spool(body io.Reader) (mem []byte, file *os.File, n int64, err error) {
	var buf bytes.Buffer
	m, err := io.Copy(&buf, io.LimitReader(body, spoolMemory+1))
	if err != nil {
		return nil, nil, 0, err
	}
	if m <= spoolMemory {
		return buf.Bytes(), nil, m, nil
	}
	f, err := os.CreateTemp("", "httpd-cgi-body-*")
	if err != nil {
		return nil, nil, 0, fmt.Errorf("spool request body: %w", err)
	}
	os.Remove(f.Name())
	if _, err := buf.WriteTo(f); err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("spool request body: %w", err)
	}
	rest, err := io.Copy(f, body)
	if err != nil {
		f.Close()
		return nil, nil, 0, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, 0, fmt.Errorf("spool request body: %w", err)
	}
	return nil, f, m + rest, nil
}
