package tests

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"httpd/internal/testutil"
)

// raceEnabled is set when the tests run with -race; the server is then
// built with -race too.
var raceEnabled bool

var binary string // path of the httpd built for this run

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "httpd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "httpd")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "../cmd/httpd")
	cmd := exec.Command("go", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building httpd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Harness is a temporary server root for one test.
type Harness struct {
	t   testing.TB
	Dir string
	// Env is added to the server's environment.
	Env []string
}

// NewHarness makes an empty server root.
func NewHarness(t testing.TB) *Harness {
	t.Helper()
	return &Harness{t: t, Dir: t.TempDir()}
}

// Write creates a file under the root, making folders as needed.
func (h *Harness) Write(rel, content string, mode os.FileMode) string {
	h.t.Helper()
	p := filepath.Join(h.Dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// Run runs httpd with args in the root and returns its output and exit code.
func (h *Harness) Run(args ...string) (stdout, stderr string, code int) {
	h.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = h.Dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		h.t.Fatalf("running httpd: %v", err)
	}
	return o.String(), e.String(), code
}

// Server is a running httpd.
type Server struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdout *testutil.SyncBuffer
	stderr *testutil.SyncBuffer
	done   chan struct{}
	err    error // set when done is closed
	// Addr is the bound address of the first listener.
	Addr string
	// Addrs maps each listen address of the config (like "127.0.0.1:0")
	// to the address it was bound to.
	Addrs map[string]string
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+) requested=(\S+)`)

// Start writes config to httpd.hcl in the root and runs httpd on it until
// the test ends. Listen on "127.0.0.1:0": the bound ports are read back
// from the log.
func (h *Harness) Start(config string, args ...string) *Server {
	h.t.Helper()
	h.Write("httpd.hcl", config, 0o644)
	return h.StartArgs(append([]string{"-f", "httpd.hcl"}, args...)...)
}

// StartArgs runs httpd with any arguments and waits until it serves.
func (h *Harness) StartArgs(args ...string) *Server {
	h.t.Helper()
	return h.start(args, nil)
}

// StartErrorLog is Start for a config whose error log goes to the file
// errorLog (relative to the root) instead of stderr: readiness and the
// bound addresses are read from that file.
func (h *Harness) StartErrorLog(config, errorLog string) *Server {
	h.t.Helper()
	h.Write("httpd.hcl", config, 0o644)
	return h.start([]string{"-f", "httpd.hcl"}, func() string {
		b, _ := os.ReadFile(filepath.Join(h.Dir, errorLog))
		return string(b)
	})
}

// start runs httpd and waits for "httpd started" in errorLog's text
// (stderr when errorLog is nil).
func (h *Harness) start(args []string, errorLog func() string) *Server {
	h.t.Helper()
	s := &Server{t: h.t, stdout: &testutil.SyncBuffer{}, stderr: &testutil.SyncBuffer{}, done: make(chan struct{}), Addrs: map[string]string{}}
	s.cmd = exec.Command(binary, args...)
	s.cmd.Dir = h.Dir
	if h.Env != nil {
		s.cmd.Env = append(os.Environ(), h.Env...)
	}
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	h.t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		if h.t.Failed() {
			h.t.Logf("httpd stderr:\n%s", s.stderr.String())
		}
	})
	if errorLog == nil {
		errorLog = s.stderr.String
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(errorLog(), "msg=\"httpd started\"") {
		select {
		case <-s.done:
			h.t.Fatalf("httpd exited before serving (%v):\n%s", s.err, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("httpd did not start within 30s:\n%s", s.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, m := range listeningRE.FindAllStringSubmatch(errorLog(), -1) {
		if s.Addr == "" {
			s.Addr = m[1]
		}
		s.Addrs[m[2]] = m[1]
	}
	return s
}

// URL is http://Addr + path.
func (s *Server) URL(path string) string { return "http://" + s.Addr + path }

// Stderr is everything the server wrote to stderr so far.
func (s *Server) Stderr() string { return s.stderr.String() }

// Stdout is everything the server wrote to stdout so far.
func (s *Server) Stdout() string { return s.stdout.String() }

// Signal sends sig to the server.
func (s *Server) Signal(sig os.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// WaitStderr waits until the server's stderr holds substr, failing the
// test after timeout.
func (s *Server) WaitStderr(substr string, timeout time.Duration) {
	s.t.Helper()
	s.stderr.WaitFor(s.t, "stderr", substr, timeout)
}

// WaitStdout waits until the server's stdout holds substr.
func (s *Server) WaitStdout(substr string, timeout time.Duration) {
	s.t.Helper()
	s.stdout.WaitFor(s.t, "stdout", substr, timeout)
}

// Stop sends SIGTERM and waits for a clean exit (status 0).
func (s *Server) Stop() {
	s.t.Helper()
	s.Signal(syscall.SIGTERM)
	s.Wait(30 * time.Second)
}

// Wait waits for the server to exit and fails unless it exited 0.
func (s *Server) Wait(timeout time.Duration) {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		s.t.Fatalf("httpd did not exit within %v:\n%s", timeout, s.stderr.String())
	}
	if s.err != nil {
		s.t.Fatalf("httpd exited with %v:\n%s", s.err, s.stderr.String())
	}
}

// Done is closed when the server has exited.
func (s *Server) Done() <-chan struct{} { return s.done }
