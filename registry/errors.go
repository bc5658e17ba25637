package registry

import (
	"errors"
	"fmt"
	"net/http"
)

// StatusClientClosed is the status of an error for a request whose client
// went away before it was answered (nginx's 499). The vhost logs it at
// info level and never sends it; it is not a server error.
const StatusClientClosed = 499

// StatusError is an error that carries the HTTP status the client gets.
type StatusError struct {
	Status int
	Err    error
	// Notice asks the vhost to log the error at info level even where
	// its status is one it logs at debug (404: the misses of static
	// files would flood the log). See Notice.
	Notice bool
}

// Notice returns err, a StatusError, marked to be logged at info level
// whatever its status: a miss that points at a broken link or config,
// such as a CGI script that is not there. Any other error is returned as
// it is.
func Notice(err error) error {
	var se *StatusError
	if errors.As(err, &se) {
		se.Notice = true
	}
	return err
}

// IsNotice reports whether err was marked by Notice.
func IsNotice(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Notice
}

// Error makes a StatusError. err may be nil when the status says it all.
func Error(status int, err error) error {
	return &StatusError{Status: status, Err: err}
}

// Errorf makes a StatusError with a formatted message.
func Errorf(status int, format string, args ...any) error {
	return &StatusError{Status: status, Err: fmt.Errorf(format, args...)}
}

func (e *StatusError) Error() string {
	if e.Err == nil {
		return http.StatusText(e.Status)
	}
	return e.Err.Error()
}

func (e *StatusError) Unwrap() error { return e.Err }

// StatusOf returns the status an error maps to: the StatusError's, 413
// for a body over the limit, else 500.
func StatusOf(err error) int {
	if se, ok := err.(*StatusError); ok { // the common case, without errors.As
		return se.Status
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}
