package pyworker

import (
	"bytes"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// fileLineRE finds the frames of a Python traceback.
var fileLineRE = regexp.MustCompile(`(?m)^\s*File "([^"]+)", line (\d+)`)

// TracebackSite returns the file and line of the innermost frame of tb
// in a real file of the application: not "<frozen ...>", nor "<stdin>"
// (the worker program itself), nor importlib's import_module (which a
// module that is not found fails in). ok is false when there is none.
func TracebackSite(tb string) (file string, line int, ok bool) {
	frames := fileLineRE.FindAllStringSubmatch(tb, -1)
	slices.Reverse(frames)
	for _, f := range frames {
		if strings.HasPrefix(f[1], "<") || strings.HasSuffix(f[1], "/importlib/__init__.py") {
			continue
		}
		n, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		return f[1], n, true
	}
	return "", 0, false
}

// TracebackTail returns the last n lines of tb without the worker
// program's own frames (File "<stdin>" and the source line under it),
// with "  ..." first when lines were left out.
func TracebackTail(tb string, n int) string {
	var lines []string
	skipSource := false
	for _, l := range strings.Split(strings.TrimRight(tb, "\n"), "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, `File "<stdin>"`) {
			skipSource = true
			continue
		}
		// The worker program is read from stdin: Python shows no source
		// line for its frames, but be safe with an indented one.
		if skipSource && strings.HasPrefix(l, "    ") && !strings.HasPrefix(t, "File ") {
			skipSource = false
			continue
		}
		skipSource = false
		lines = append(lines, l)
	}
	if len(lines) > n {
		lines = append([]string{"  ..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// tailSize is what a TailBuffer keeps.
const tailSize = 16 << 10

// TailBuffer keeps the last 16 KiB written to it: the output of a
// throwaway worker, for its error message. It is safe for concurrent
// use.
type TailBuffer struct {
	mu  sync.Mutex // guards buf
	buf []byte
}

func (t *TailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if n := len(t.buf); n > tailSize {
		t.buf = append(t.buf[:0], t.buf[n-tailSize:]...)
	}
	return len(p), nil
}

func (t *TailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.Clone(t.buf))
}
