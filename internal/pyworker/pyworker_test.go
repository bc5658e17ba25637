package pyworker

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestTitle(t *testing.T) {
	tests := []struct {
		name, kind, mount, vhost string
		n                        int64
		want                     string
	}{
		{"plain", "asgi", "/api", "example.com", 3, "httpd asgi /api (example.com) worker 3"},
		{"no vhost", "wsgi", "/", "", 1, "httpd wsgi / (-) worker 1"},
		{"control characters", "asgi", "/a\nb\x7f", "x", 1, "httpd asgi /a?b? (x) worker 1"},
		{"long", "asgi", "/" + strings.Repeat("é", 40), "x", 1, "httpd asgi /" + strings.Repeat("é", 31) + "… (x) worker 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Title(tc.kind, tc.mount, tc.vhost, tc.n); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestLastLine(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"traceback", "Traceback (most recent call last):\n  File \"x\", line 1\nValueError: no\n\n", "ValueError: no"},
		{"one line", "boom", "boom"},
		{"empty", "  \n\n", "unknown error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := LastLine(tc.in); got != tc.want {
				t.Fatalf("got %q", got)
			}
		})
	}
}

func TestIsIdentifier(t *testing.T) {
	for s, want := range map[string]bool{"app": true, "_x1": true, "café": true, "1x": false, "a-b": false, "": false, "a.b": false} {
		if got := IsIdentifier(s); got != want {
			t.Errorf("IsIdentifier(%q) = %v", s, got)
		}
	}
}

func TestLineLogger(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	l := NewLineLogger(log, slog.LevelError, "worker stderr")
	l.SetPID(42)
	l.Write([]byte("one\ntw"))
	l.Write([]byte("o\r\n\nthree"))
	if got := out.String(); got != "level=ERROR msg=\"worker stderr\" pid=42 text=one\nlevel=ERROR msg=\"worker stderr\" pid=42 text=two\n" {
		t.Fatalf("before Flush:\n%s", got)
	}
	l.Flush()
	if !strings.HasSuffix(out.String(), "text=three\n") {
		t.Fatalf("after Flush:\n%s", out.String())
	}
	out.Reset()
	l.Write(bytes.Repeat([]byte("x"), maxLine+1))
	if strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("a long line is not logged at once: %d lines", strings.Count(out.String(), "\n"))
	}
}

func TestSocketPair(t *testing.T) {
	c, f, err := SocketPair("test")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer f.Close()
	if _, err := f.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	if _, err := c.Read(b); err != nil || string(b) != "ping" {
		t.Fatalf("%q %v", b, err)
	}
}

func TestLookPython(t *testing.T) {
	if _, err := LookPython("/nonexistent/python3"); err == nil || !strings.Contains(err.Error(), `python "/nonexistent/python3"`) {
		t.Fatalf("err %v", err)
	}
	if p, err := LookPython("sh"); err != nil || !strings.HasSuffix(p, "/sh") {
		t.Fatalf("sh: %q %v", p, err)
	}
}

func TestTraceback(t *testing.T) {
	const notFound = `Traceback (most recent call last):
  File "<stdin>", line 640, in serve
  File "<stdin>", line 580, in load
  File "/usr/lib/python3.11/importlib/__init__.py", line 126, in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "<frozen importlib._bootstrap>", line 1204, in _gcd_import
ModuleNotFoundError: No module named 'nosuch'
`
	const inApp = `Traceback (most recent call last):
  File "<stdin>", line 640, in serve
  File "/usr/lib/python3.11/importlib/__init__.py", line 126, in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
  File "<frozen importlib._bootstrap_external>", line 940, in exec_module
  File "/srv/apps/main.py", line 3, in <module>
    import helper
  File "/srv/apps/helper.py", line 7, in <module>
    raise RuntimeError("no database")
RuntimeError: no database
`
	tests := []struct {
		name, tb, file string
		line           int
		ok             bool
		tail           string
	}{
		{"module not found", notFound, "", 0, false, "  ...\n  File \"<frozen importlib._bootstrap>\", line 1204, in _gcd_import\nModuleNotFoundError: No module named 'nosuch'"},
		{"raised in the application", inApp, "/srv/apps/helper.py", 7, true, "  ...\n    raise RuntimeError(\"no database\")\nRuntimeError: no database"},
		{"no frames", "SyntaxError: bad\n", "", 0, false, "SyntaxError: bad"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file, line, ok := TracebackSite(tc.tb)
			if file != tc.file || line != tc.line || ok != tc.ok {
				t.Errorf("TracebackSite = %q, %d, %v", file, line, ok)
			}
			if got := TracebackTail(tc.tb, 2); got != tc.tail {
				t.Errorf("TracebackTail:\n%s\nwant:\n%s", got, tc.tail)
			}
			if strings.Contains(TracebackTail(tc.tb, 100), "<stdin>") {
				t.Errorf("the tail shows the worker's own frames")
			}
		})
	}
}

func TestTailBuffer(t *testing.T) {
	var b TailBuffer
	b.Write([]byte("start "))
	b.Write(bytes.Repeat([]byte("x"), tailSize))
	b.Write([]byte(" end"))
	if s := b.String(); len(s) != tailSize || !strings.HasSuffix(s, "x end") {
		t.Fatalf("%d bytes, ends %q", len(s), s[len(s)-10:])
	}
}

// FuzzTraceback feeds TracebackSite and TracebackTail any text: they
// must not panic, the site must be a real file, and the tail must keep
// within its lines.
func FuzzTraceback(f *testing.F) {
	f.Add("Traceback (most recent call last):\n  File \"/a.py\", line 3, in <module>\n    x()\nValueError: no\n", 2)
	f.Add("  File \"<stdin>\", line 9, in load\n  File \"<frozen x>\", line 1\nE\n", 1)
	f.Add("File \"/x\", line 99999999999999999999\n", 3)
	f.Fuzz(func(t *testing.T, tb string, n int) {
		if n < 0 || n > 100 {
			return
		}
		file, line, ok := TracebackSite(tb)
		if ok && (file == "" || strings.HasPrefix(file, "<") || line < 0) {
			t.Fatalf("site %q:%d", file, line)
		}
		tail := TracebackTail(tb, n)
		if tail != "" && strings.Count(tail, "\n")+1 > n+1 {
			t.Fatalf("tail of %d lines has %d", n, strings.Count(tail, "\n")+1)
		}
	})
}
