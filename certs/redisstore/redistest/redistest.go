// Package redistest runs Debian's redis-server for tests, on a Unix
// socket or a loopback port in a temporary folder, with no persistence.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"httpd/internal/testport"
	"httpd/internal/testutil"
)

// Server is a redis-server the test started.
type Server struct {
	// Address is what storage "redis" takes: a Unix socket path, or
	// 127.0.0.1:port.
	Address  string
	Password string
	Log      *testutil.SyncBuffer

	t    testing.TB
	args []string
	cmd  *exec.Cmd
	done chan struct{}
}

// Options of Start.
type Options struct {
	TCP      bool   // listen on a loopback port instead of a Unix socket
	Password string // requirepass; "" for none
	// Persist writes every change to an append-only file, so that the
	// data survives Kill and Start, as a production Redis with
	// appendonly does.
	Persist bool
}

// Start runs redis-server until the test ends, and waits until it
// answers. The test fails with a clear message if redis-server is not
// installed.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed (apt-get install redis-server; .ci/run installs it): %v", err)
	}
	dir := t.TempDir()
	aof := []string{"--appendonly", "no"}
	if o.Persist {
		aof = []string{"--appendonly", "yes", "--appendfsync", "always"}
	}
	args := append([]string{bin, "--save", "", "--dir", dir, "--loglevel", "notice", "--protected-mode", "no"}, aof...)
	s := &Server{t: t, Password: o.Password, Log: &testutil.SyncBuffer{}}
	if o.TCP {
		port := testport.Free(t, 1)[0]
		args = append(args, "--bind", "127.0.0.1", "--port", strconv.Itoa(port))
		s.Address = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	} else {
		// A socket path must stay short (108 bytes): use a folder of
		// its own under the system's temporary folder.
		sdir, err := os.MkdirTemp("", "redis")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(sdir) })
		s.Address = filepath.Join(sdir, "redis.sock")
		args = append(args, "--port", "0", "--unixsocket", s.Address, "--unixsocketperm", "700")
	}
	if o.Password != "" {
		args = append(args, "--requirepass", o.Password)
	}
	s.args = args
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start starts the server again after Kill, on the same address: empty,
// or with the data it had when started with Persist.
func (s *Server) Start() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("redistest: server already running")
	}
	cmd := exec.Command(s.args[0], s.args[1:]...)
	cmd.Stdout, cmd.Stderr = s.Log, s.Log
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redistest: start redis-server: %v", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(s.done)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := s.ping(); err == nil {
			return
		} else if time.Now().After(deadline) {
			s.t.Fatalf("redistest: redis-server does not answer on %s: %v\n%s", s.Address, err, s.Log)
		}
		select {
		case <-s.done:
			s.t.Fatalf("redistest: redis-server exited at start:\n%s", s.Log)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Kill stops the server at once (SIGKILL), as a crash would; its data is
// lost unless it was started with Persist.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Stop ends the server; it is Kill.
func (s *Server) Stop() { s.Kill() }

// Do sends one command over a plain connection and returns the reply's
// first line: a minimal client, so tests can look at the keys without
// the code under test.
func (s *Server) Do(args ...string) (string, error) {
	network := "unix"
	if !strings.HasPrefix(s.Address, "/") {
		network = "tcp"
	}
	c, err := net.DialTimeout(network, s.Address, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	w := bufio.NewWriter(c)
	r := bufio.NewReader(c)
	send := func(args []string) {
		fmt.Fprintf(w, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(w, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	if s.Password != "" {
		send([]string{"AUTH", s.Password})
	}
	send(args)
	if err := w.Flush(); err != nil {
		return "", err
	}
	if s.Password != "" {
		if line, err := r.ReadString('\n'); err != nil {
			return "", err
		} else if !strings.HasPrefix(line, "+OK") {
			return "", fmt.Errorf("redis AUTH: %s", strings.TrimSpace(line))
		}
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "-") {
		return "", fmt.Errorf("redis: %s", line[1:])
	}
	if strings.HasPrefix(line, "$") && line != "$-1" {
		body, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		return strings.TrimRight(body, "\r\n"), nil
	}
	return line, nil
}

func (s *Server) ping() error {
	reply, err := s.Do("PING")
	if err != nil {
		return err
	}
	if reply != "+PONG" {
		return fmt.Errorf("PING answered %q", reply)
	}
	return nil
}
