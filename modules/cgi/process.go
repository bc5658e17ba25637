package cgi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Causes of a child's context ending.
var (
	errTimeout    = errors.New("timed out")
	errClientGone = errors.New("client went away")
	errStopping   = errors.New("server stopping")
	errLinger     = errors.New("still running after its response ended")
)

// child is one running script: the leader of its own process group.
//
// Ownership: the handler goroutine reads stdout; the reaper goroutine
// (reap) waits for the leader, stops the group and releases the slot; the
// stderr goroutine logs. The module's WaitGroup counts the reaper.
type child struct {
	m      *Module
	pgid   int
	stdout *os.File
	logger *slog.Logger // made by log on first use
	logged sync.Once
	script string // for the log: the script, request and client
	req    string
	remote string

	ctx       context.Context // ends on timeout, client gone, Cleanup or cancel
	cancel    context.CancelCauseFunc
	stopTimer context.CancelFunc // releases the timeout
	stopWatch func() bool        // stops watching the request's context

	exited     chan struct{} // closed when the leader has exited (not yet reaped)
	done       chan struct{} // closed when the leader is reaped and the group stopped
	stderrDone chan struct{} // closed when stderr reached EOF
	stderr     *os.File

	killed     atomic.Bool // the group was signalled because ctx ended
	finishOnce sync.Once
	mu         sync.Mutex  // guards responded, reaped and linger
	responded  bool        // the handler has finished with stdout
	reaped     bool        // reap is done with the group
	linger     *time.Timer // stops a script still running KillGrace after finish
}

// start runs s as the leader of a new process group with stdin (a
// descriptor the caller keeps and closes, or -1 for /dev/null) and env;
// req and remote tag its log lines. The caller holds a slot of m.slots;
// from a successful start on the child releases it. On error the caller
// keeps it.
func (m *Module) start(parent context.Context, s *script, env []string, stdin int, req, remote string) (*child, error) {
	if stdin < 0 {
		fd, err := devNull()
		if err != nil {
			return nil, fmt.Errorf("cgi %s: %w", s.Filename, err)
		}
		stdin = fd
	}
	outR, outW, err := childPipe(true)
	if err != nil {
		return nil, fmt.Errorf("cgi %s: %w", s.Filename, err)
	}
	errR, errW, err := childPipe(true)
	if err != nil {
		outR.Close()
		syscall.Close(outW)
		return nil, fmt.Errorf("cgi %s: %w", s.Filename, err)
	}
	c := &child{
		m: m, stdout: outR, stderr: errR, script: s.Filename, req: req, remote: remote,
		exited: make(chan struct{}), done: make(chan struct{}), stderrDone: make(chan struct{}),
	}
	if !m.register(c) {
		outR.Close()
		syscall.Close(outW)
		errR.Close()
		syscall.Close(errW)
		return nil, errStopping
	}
	pidfd := -1
	pid, _, err := syscall.StartProcess(s.Exe, []string{s.Filename}, &syscall.ProcAttr{
		Dir:   filepath.Dir(s.Exe),
		Env:   dedupEnv(env),
		Files: []uintptr{uintptr(stdin), uintptr(outW), uintptr(errW)},
		Sys:   &syscall.SysProcAttr{Setpgid: true, PidFD: &pidfd},
	})
	syscall.Close(outW)
	syscall.Close(errW)
	if err != nil {
		outR.Close()
		errR.Close()
		m.unregister(c)
		return nil, fmt.Errorf("cgi %s: start: %w", s.Filename, &os.PathError{Op: "fork/exec", Path: s.Exe, Err: err})
	}
	c.pgid = pid

	base, cancel := context.WithCancelCause(m.stop)
	c.ctx, c.cancel, c.stopTimer = base, cancel, func() {}
	if m.Timeout > 0 {
		c.ctx, c.stopTimer = context.WithTimeoutCause(base, m.Timeout, errTimeout)
	}
	c.stopWatch = context.AfterFunc(parent, func() { cancel(errClientGone) })

	go c.logStderr()
	go c.reap(pidfd)
	return c, nil
}

// devNull returns a descriptor of /dev/null open for reading, shared by
// every script started without a request body.
var devNull = sync.OnceValues(func() (int, error) {
	fd, err := syscall.Open(os.DevNull, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: os.DevNull, Err: err}
	}
	return fd, nil
})

// childPipe makes a pipe between the server and a child: the server's
// end (the read end when read is true) non-blocking on the runtime
// poller, the child's a plain blocking descriptor, as programs expect of
// their standard streams. Both are close-on-exec; the child gets its end
// through ProcAttr.Files and the caller closes it after the start.
func childPipe(read bool) (ours *os.File, theirs int, err error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		return nil, -1, os.NewSyscallError("pipe2", err)
	}
	o, t, name := p[0], p[1], "|0"
	if !read {
		o, t, name = p[1], p[0], "|1"
	}
	if _, err := unix.FcntlInt(uintptr(t), unix.F_SETFL, 0); err != nil {
		syscall.Close(o)
		syscall.Close(t)
		return nil, -1, os.NewSyscallError("fcntl", err)
	}
	return os.NewFile(uintptr(o), name), t, nil
}

// dedupEnv drops every variable that a later one sets again, as os/exec
// does: the last value wins. It returns env itself when there is no
// duplicate.
func dedupEnv(env []string) []string {
	var out []string
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		dup := false
		for _, later := range env[i+1:] {
			if len(later) > len(k) && later[len(k)] == '=' && later[:len(k)] == k {
				dup = true
				break
			}
		}
		switch {
		case dup && out == nil:
			out = append(make([]string, 0, len(env)-1), env[:i]...)
		case !dup && out != nil:
			out = append(out, kv)
		}
	}
	if out == nil {
		return env
	}
	return out
}

// log returns the logger of the script's lines, tagged with the script,
// the request and the client.
func (c *child) log() *slog.Logger {
	c.logged.Do(func() {
		c.logger = c.m.log.With("script", c.script, "request", c.req, "remote", c.remote)
	})
	return c.logger
}

// stopped reports whether the script was stopped because its context
// ended, rather than ending by itself. It is set before the first signal,
// so a reader that saw EOF because of the signal sees it.
func (c *child) stopped() bool { return c.killed.Load() }

// cause says why the child's context ended; errStopping for Cleanup.
func (c *child) cause() error {
	err := context.Cause(c.ctx)
	if errors.Is(err, context.Canceled) && c.m.stop.Err() != nil {
		return errStopping
	}
	return err
}

// finish tells the child that the handler is done with stdout. From then
// on the request's end no longer stops the script; one still running has
// KillGrace to exit before it is stopped.
func (c *child) finish() {
	c.finishOnce.Do(func() {
		c.stopWatch()
		c.mu.Lock()
		c.responded = true
		if !c.reaped {
			c.linger = time.AfterFunc(KillGrace, func() { c.cancel(errLinger) })
		}
		c.mu.Unlock()
	})
}

// reap waits for the leader to exit or the context to end, stops the
// whole process group, reaps the leader and releases the slot. It owns
// pidfd, the leader's pidfd (-1 when there is none).
func (c *child) reap(pidfd int) {
	defer c.m.unregister(c)
	defer func() { <-c.m.slots }()
	defer func() {
		c.stopWatch()
		c.stopTimer()
		c.cancel(nil)
	}()
	defer close(c.done)

	go func() {
		waitExit(c.pgid, pidfd)
		close(c.exited)
	}()

	select {
	case <-c.exited:
	case <-c.ctx.Done():
		c.mu.Lock()
		responded := c.responded
		c.mu.Unlock()
		if responded && errors.Is(c.cause(), errLinger) {
			c.log().Warn("script still running after its response; stopping its process group", "pid", c.pgid)
		}
		c.terminate()
	}
	// The leader is a zombie now: its pid, and so the group id, cannot be
	// reused until it is reaped. Anything left in the group is an orphan
	// of the script: stop it.
	_ = syscall.Kill(-c.pgid, syscall.SIGKILL)
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(c.pgid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	if c.ctx.Err() == nil && ws.Exited() && ws.ExitStatus() > 0 {
		c.log().Warn("script exited with an error status", "pid", c.pgid, "status", ws.ExitStatus())
	}
	// Output held open by a process that left the group (setsid) must not
	// keep the request waiting.
	select {
	case <-c.stderrDone:
	default:
		t := time.NewTimer(KillGrace)
		select {
		case <-c.stderrDone:
		case <-t.C:
		case <-c.m.kill:
			// The group is gone: EOF is due at once unless a process
			// outside it holds the pipe.
			t.Reset(stderrAfterKill)
			select {
			case <-c.stderrDone:
			case <-t.C:
			}
		}
		t.Stop()
		select {
		case <-c.stderrDone:
		default:
			c.stderr.Close()
			c.log().Warn("script output held open by a process outside its group", "pid", c.pgid)
		}
	}
	c.mu.Lock()
	c.reaped = true
	if c.linger != nil {
		c.linger.Stop()
	}
	responded := c.responded
	c.mu.Unlock()
	if !responded {
		time.AfterFunc(KillGrace, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if !c.responded {
				c.stdout.Close()
			}
		})
	}
}

// waitExit returns once process pid has exited, without reaping it. It
// waits on pidfd (or a new pidfd when it is -1) through the runtime
// poller, so no thread blocks, and falls back to a blocking waitid where
// pidfds are missing. It closes pidfd.
func waitExit(pid, pidfd int) {
	if pidfd < 0 {
		if fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK); err == nil {
			pidfd = fd
		}
	} else if _, err := unix.FcntlInt(uintptr(pidfd), unix.F_SETFL, unix.O_NONBLOCK); err != nil {
		syscall.Close(pidfd)
		pidfd = -1
	}
	if pidfd >= 0 {
		f := os.NewFile(uintptr(pidfd), "pidfd")
		defer f.Close()
		if rc, err := f.SyscallConn(); err == nil {
			werr := rc.Read(func(fd uintptr) bool {
				var info unix.Siginfo
				err := unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOWAIT|unix.WNOHANG, nil)
				if err == syscall.EINTR {
					return false
				}
				return err != nil || info.Signo != 0
			})
			if werr == nil {
				return
			}
		}
	}
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != syscall.EINTR {
			return
		}
	}
}

// terminate sends SIGTERM to the group, and SIGKILL if the leader is still
// there after KillGrace or when the server's time is up (Env.Kill). It
// returns once the leader has exited.
func (c *child) terminate() {
	c.killed.Store(true)
	_ = syscall.Kill(-c.pgid, syscall.SIGTERM)
	t := time.NewTimer(KillGrace)
	defer t.Stop()
	select {
	case <-c.exited:
	case <-t.C:
		_ = syscall.Kill(-c.pgid, syscall.SIGKILL)
		<-c.exited
	case <-c.m.kill:
		_ = syscall.Kill(-c.pgid, syscall.SIGKILL)
		<-c.exited
	}
}

// stderrReaders holds the buffers of logStderr: most scripts write
// nothing to stderr, and a buffer per request would be garbage.
var stderrReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}

// logStderr sends the script's stderr to the error log, a line at a time;
// a line longer than 16 KiB is logged in pieces.
func (c *child) logStderr() {
	defer close(c.stderrDone)
	defer c.stderr.Close()
	br := stderrReaders.Get().(*bufio.Reader)
	br.Reset(c.stderr)
	defer func() {
		br.Reset(nil)
		stderrReaders.Put(br)
	}()
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			c.log().Error("script stderr: " + string(trimEOL(line)))
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// trimEOL removes the LF or CRLF that ends line.
func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}
