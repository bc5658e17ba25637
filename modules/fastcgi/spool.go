package fastcgi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"httpd/registry"
)

// spoolMemory is how much of a body of unknown length is held in memory
// before the rest goes to a temporary file.
const spoolMemory = 1 << 20

// requestBody returns what goes to the responder's STDIN and its
// CONTENT_LENGTH (-1 for none). A body of known length streams as it
// comes; one of unknown length (chunked) is read first, into memory when
// small, else into an unlinked temporary file, because responders such
// as PHP read no more than CONTENT_LENGTH. done releases the spool. An
// error of the client's body is returned as it is; one of the spool is a
// 500 *registry.StatusError.
func requestBody(r *http.Request) (body io.Reader, length int64, done func(), err error) {
	nop := func() {}
	switch {
	case r.ContentLength > 0:
		return r.Body, r.ContentLength, nop, nil
	case r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody:
		if _, ok := r.Header["Content-Length"]; ok {
			return nil, 0, nop, nil
		}
		return nil, -1, nop, nil
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r.Body, spoolMemory+1))
	if err != nil {
		return nil, 0, nop, err
	}
	if n <= spoolMemory {
		if n == 0 {
			return nil, 0, nop, nil
		}
		return bytes.NewReader(buf.Bytes()), n, nop, nil
	}
	f, err := os.CreateTemp("", "httpd-fastcgi-body-*")
	if err != nil {
		return nil, 0, nop, registry.Error(http.StatusInternalServerError, fmt.Errorf("spool request body: %w", err))
	}
	os.Remove(f.Name())
	done = func() { f.Close() }
	if _, err := buf.WriteTo(f); err != nil {
		done()
		return nil, 0, nop, registry.Error(http.StatusInternalServerError, fmt.Errorf("spool request body: %w", err))
	}
	rest, err := io.Copy(f, r.Body)
	if err != nil {
		done()
		var pe *os.PathError
		if errors.As(err, &pe) { // the write to the file, not the client's read
			return nil, 0, nop, registry.Error(http.StatusInternalServerError, fmt.Errorf("spool request body: %w", err))
		}
		return nil, 0, nop, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		done()
		return nil, 0, nop, registry.Error(http.StatusInternalServerError, fmt.Errorf("spool request body: %w", err))
	}
	return f, n + rest, done, nil
}
