package pyworker

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"
)

// LookPython finds the interpreter p, a path or a name on PATH.
func LookPython(p string) (string, error) {
	path, err := exec.LookPath(p)
	if err != nil {
		if ee, ok := err.(*exec.Error); ok {
			err = ee.Err
		}
		return "", fmt.Errorf("python %q: %w", p, err)
	}
	return path, nil
}

// Env is the environment of a worker: the server's, plus
// PYTHONUNBUFFERED=1, VIRTUAL_ENV when virtualenv is set, and extra.
func Env(virtualenv string, extra map[string]string) []string {
	env := append(os.Environ(), "PYTHONUNBUFFERED=1")
	if virtualenv != "" {
		env = append(env, "VIRTUAL_ENV="+virtualenv)
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// maxTitleField bounds the mount and vhost in a worker's title.
const maxTitleField = 64

// Title is a worker's command-line argument that names it in ps and top:
// "httpd KIND MOUNT (VHOST) worker N". Control characters become '?' and
// the mount and vhost are cut to 64 bytes.
func Title(kind, mount, vhost string, n int64) string {
	if vhost == "" {
		vhost = "-"
	}
	return fmt.Sprintf("httpd %s %s (%s) worker %d", kind, TitleField(mount), TitleField(vhost), n)
}

// TitleField makes s fit a worker title: control characters become
// '?' and it is cut to 64 bytes on a character boundary.
func TitleField(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			r = '?'
		}
		if b.Len()+utf8.RuneLen(r) > maxTitleField {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// SocketPair makes a connected pair of Unix stream sockets: the server's
// end, and the worker's as a file to pass in exec.Cmd.ExtraFiles (close
// it once the worker has started). Both are close-on-exec in the server.
func SocketPair(name string) (*net.UnixConn, *os.File, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	pf := os.NewFile(uintptr(fds[0]), name)
	child := os.NewFile(uintptr(fds[1]), name+"-worker")
	fc, err := net.FileConn(pf)
	pf.Close()
	if err != nil {
		child.Close()
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return fc.(*net.UnixConn), child, nil
}

// LastLine returns the last non-empty line of a traceback: the
// exception. It returns "unknown error" when there is none.
func LastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return "unknown error"
}

// IsIdentifier reports whether s is a Python identifier (ASCII letters,
// digits and '_', not starting with a digit; any non-ASCII letter
// passes).
func IsIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c > 0x7f:
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// maxLine bounds a line the LineLogger holds before it logs it anyway.
const maxLine = 64 << 10

// LineLogger logs what a worker writes to stdout or stderr, a line at a
// time, as msg with the worker's pid and the text. It is safe for
// concurrent use.
type LineLogger struct {
	log   *slog.Logger
	level slog.Level
	msg   string

	mu  sync.Mutex // guards pid and buf
	pid int
	buf []byte
}

// NewLineLogger returns a LineLogger that logs each line as msg at level.
func NewLineLogger(log *slog.Logger, level slog.Level, msg string) *LineLogger {
	return &LineLogger{log: log, level: level, msg: msg}
}

// Write logs every whole line of b, keeping a partial last line for the
// next Write (or Flush); a line longer than 64 KiB is logged in parts.
func (l *LineLogger) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > maxLine {
		l.emit(string(l.buf))
		l.buf = nil
	}
	return len(b), nil
}

// SetPID sets the pid logged with each line.
func (l *LineLogger) SetPID(pid int) {
	l.mu.Lock()
	l.pid = pid
	l.mu.Unlock()
}

// Flush logs a partial last line, if any.
func (l *LineLogger) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(string(l.buf))
		l.buf = nil
	}
}

func (l *LineLogger) emit(line string) {
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return
	}
	l.log.Log(context.Background(), l.level, l.msg, "pid", l.pid, "text", line)
}
