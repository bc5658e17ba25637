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
