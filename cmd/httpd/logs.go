package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"httpd/conf"
)

// logs owns the error log. Its logger stays the same across reloads while
// the file, level and format behind it may change.
type logs struct {
	logger *slog.Logger
	level  slog.LevelVar
	json   atomic.Bool // log.error_format is "json"
	out    *swapWriter
}

func newLogs(stderr io.Writer) *logs {
	l := &logs{out: &swapWriter{w: nopCloser{stderr}}}
	opts := &slog.HandlerOptions{Level: &l.level}
	l.logger = slog.New(&formatHandler{
		json:     &l.json,
		text:     slog.NewTextHandler(l.out, opts),
		jsonLine: slog.NewJSONHandler(l.out, opts),
	})
	return l
}

// apply points the error log at cfg's destination, level and format.
func (l *logs) apply(cfg conf.Log) error {
	w, err := openLog(cfg.Error)
	if err != nil {
		return fmt.Errorf("error log: %w", err)
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(cfg.Level)); err != nil {
		return fmt.Errorf("log.level: %w", err)
	}
	l.level.Set(lv)
	l.json.Store(cfg.ErrorFormat == "json")
	l.out.swap(w)
	return nil
}

// formatHandler writes each record as slog text or slog JSON, as the
// flag it shares with its derived handlers says at the time; so loggers
// made with With before a reload follow a new error_format too.
type formatHandler struct {
	json     *atomic.Bool
	text     slog.Handler
	jsonLine slog.Handler
}

func (h *formatHandler) cur() slog.Handler {
	if h.json.Load() {
		return h.jsonLine
	}
	return h.text
}

func (h *formatHandler) Enabled(ctx context.Context, lv slog.Level) bool {
	return h.cur().Enabled(ctx, lv)
}

func (h *formatHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.cur().Handle(ctx, r)
}

func (h *formatHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &formatHandler{json: h.json, text: h.text.WithAttrs(as), jsonLine: h.jsonLine.WithAttrs(as)}
}

func (h *formatHandler) WithGroup(name string) slog.Handler {
	return &formatHandler{json: h.json, text: h.text.WithGroup(name), jsonLine: h.jsonLine.WithGroup(name)}
}

func (l *logs) close() { l.out.swap(nil) }

// swapWriter is an io.Writer whose target can be replaced while in use.
type swapWriter struct {
	mu sync.Mutex // guards w; serializes writes
	w  io.Writer
}

func (s *swapWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return os.Stderr.Write(p)
	}
	return s.w.Write(p)
}

func (s *swapWriter) swap(w io.Writer) {
	s.mu.Lock()
	old := s.w
	s.w = w
	s.mu.Unlock()
	if c, ok := old.(io.Closer); ok && old != w {
		_ = c.Close()
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// openLog opens a log destination: "stdout", "stderr" or a file, appended.
func openLog(dest string) (io.WriteCloser, error) {
	switch dest {
	case "stdout":
		return nopCloser{os.Stdout}, nil
	case "stderr", "":
		return nopCloser{os.Stderr}, nil
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w (check that the folder exists and is writable)", dest, err)
	}
	return f, nil
}

// openAccess opens the access log; nil when it is off.
func openAccess(cfg conf.Log) (io.WriteCloser, error) {
	if cfg.Access == "off" {
		return nil, nil
	}
	w, err := openLog(cfg.Access)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	return w, nil
}

// dropPrivileges switches to user (and group) once the listeners are
// bound, after handing dataDir to that user so certificate renewals and
// worker sockets keep working. It does nothing unless running as root
// with a user set.
func dropPrivileges(name, group, dataDir string) error {
	if name == "" || os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return err
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	err = filepath.WalkDir(dataDir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		return fmt.Errorf("hand data_dir to %s: %w", name, err)
	}
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("setgid: %w", err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("setuid: %w", err)
	}
	return nil
}

var _ slog.Handler = (*formatHandler)(nil)
