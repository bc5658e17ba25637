package cgi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
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
	cmd    *exec.Cmd
	pgid   int
	stdout *os.File
	log    *slog.Logger

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
	mu         sync.Mutex // guards responded
	responded  bool       // the handler has finished with stdout
}

// start runs s as the leader of a new process group with stdin (nil for
// /dev/null) and env. The caller holds a slot of m.slots; from a
// successful start on the child releases it. On error the caller keeps
// it.
func (m *Module) start(parent context.Context, s *script, env []string, stdin *os.File, log *slog.Logger) (*child, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("cgi %s: pipe: %w", s.Filename, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("cgi %s: pipe: %w", s.Filename, err)
	}
	cmd := &exec.Cmd{
		Path:        s.Exe,
		Args:        []string{s.Filename},
		Env:         env,
		Dir:         filepath.Dir(s.Exe),
		Stdout:      outW,
		Stderr:      errW,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if stdin != nil {
		cmd.Stdin = stdin
	}
	c := &child{
		m: m, cmd: cmd, stdout: outR, stderr: errR, log: log,
		exited: make(chan struct{}), done: make(chan struct{}), stderrDone: make(chan struct{}),
	}
	if !m.register(c) {
		outR.Close()
		outW.Close()
		errR.Close()
		errW.Close()
		return nil, errStopping
	}
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		m.unregister(c)
		return nil, fmt.Errorf("cgi %s: start: %w", s.Filename, err)
	}
	c.pgid = cmd.Process.Pid

	base, cancel := context.WithCancelCause(m.stop)
	c.ctx, c.cancel, c.stopTimer = base, cancel, func() {}
	if m.Timeout > 0 {
		c.ctx, c.stopTimer = context.WithTimeoutCause(base, m.Timeout, errTimeout)
	}
	c.stopWatch = context.AfterFunc(parent, func() { cancel(errClientGone) })

	go c.logStderr()
	go c.reap()
	return c, nil
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
		c.mu.Unlock()
		t := time.AfterFunc(KillGrace, func() { c.cancel(errLinger) })
		go func() { <-c.done; t.Stop() }()
	})
}

// reap waits for the leader to exit or the context to end, stops the
// whole process group, reaps the leader and releases the slot.
func (c *child) reap() {
	defer c.m.unregister(c)
	defer func() { <-c.m.slots }()
	defer func() {
		c.stopWatch()
		c.stopTimer()
		c.cancel(nil)
	}()
	defer close(c.done)

	go func() {
		waitExit(c.pgid)
		close(c.exited)
	}()

	select {
	case <-c.exited:
	case <-c.ctx.Done():
		c.mu.Lock()
		responded := c.responded
		c.mu.Unlock()
		if responded && errors.Is(c.cause(), errLinger) {
			c.log.Warn("script still running after its response; stopping its process group", "pid", c.pgid)
		}
		c.terminate()
	}
	// The leader is a zombie now: its pid, and so the group id, cannot be
	// reused until Wait. Anything left in the group is an orphan of the
	// script: stop it.
	_ = syscall.Kill(-c.pgid, syscall.SIGKILL)
	err := c.cmd.Wait()
	if c.ctx.Err() == nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() > 0 {
			c.log.Warn("script exited with an error status", "pid", c.pgid, "status", ee.ExitCode())
		}
	}
	// Output held open by a process that left the group (setsid) must not
	// keep the request waiting.
	select {
	case <-c.stderrDone:
	case <-time.After(KillGrace):
		c.stderr.Close()
		c.log.Warn("script output held open by a process outside its group", "pid", c.pgid)
	}
	time.AfterFunc(KillGrace, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.responded {
			c.stdout.Close()
		}
	})
}

// waitExit returns once process pid has exited, without reaping it. It
// waits on a pidfd through the runtime poller, so no thread blocks, and
// falls back to a blocking waitid where pidfds are missing.
func waitExit(pid int) {
	if fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK); err == nil {
		f := os.NewFile(uintptr(fd), "pidfd")
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
// there after KillGrace. It returns once the leader has exited.
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
	}
}

// logStderr sends the script's stderr to the error log, a line at a time;
// a line longer than 16 KiB is logged in pieces.
func (c *child) logStderr() {
	defer close(c.stderrDone)
	defer c.stderr.Close()
	br := bufio.NewReaderSize(c.stderr, 16<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			c.log.Error("script stderr: " + string(trimEOL(line)))
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}
