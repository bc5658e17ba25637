package tests

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stuckScript answers at once, then runs for ever: it ignores SIGTERM,
// and so does the sleep it waits on. It records its pid, the id of its
// process group, in $OUT/pid.
const stuckScript = `#!/bin/sh
trap '' TERM
echo $$ > "$OUT/pid.tmp" && mv "$OUT/pid.tmp" "$OUT/pid"
printf 'Content-Type: text/plain\n\nstarted\n'
while :; do sleep 1; done
`

// stuckApp answers the first line, then sleeps for an hour.
const stuckApp = `import time

def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"started\n"
    time.sleep(3600)
    yield b"never\n"
`

// TestCGIShutdownBounded: SIGTERM with a CGI script that ignores it and a
// WSGI request that sleeps still exits within shutdown_timeout plus one
// second, and leaves neither the script's process group nor the workers
// behind.
func TestCGIShutdownBounded(t *testing.T) {
	python := wsgiPython(t)
	// A binary built with -race sleeps a second before it exits
	// (atexit_sleep_ms): that is no part of the server's shutdown.
	t.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	h := NewHarness(t)
	out := filepath.Join(h.Dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	h.Write("cgi-bin/stuck.sh", stuckScript, 0o755)
	h.Write("wsgi/stuck.wsgi", stuckApp, 0o644)
	const timeout = time.Second
	srv := h.Start(fmt.Sprintf(`
server {
  listen           = ["127.0.0.1:0"]
  shutdown_timeout = "%s"
}
log {
  access = "off"
  level  = "info"
}
vhost "localhost" {
  default = true
  script_alias "/cgi-bin/" {
    path    = "cgi-bin"
    timeout = "0s"
    env     = { OUT = %q }
  }
  wsgi_script_alias "/app" {
    script          = "wsgi/stuck.wsgi"
    python          = %q
    request_timeout = "0s"
  }
}
`, timeout, out, python))

	// Both requests are in flight: each has sent its first line.
	for _, path := range []string{"/cgi-bin/stuck.sh", "/app/"} {
		resp, err := http.Get(srv.URL(path))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if resp.StatusCode != 200 || line != "started\n" {
			t.Fatalf("GET %s: %d %q %v", path, resp.StatusCode, line, err)
		}
	}
	pgid := readPid(t, filepath.Join(out, "pid"))
	workers := wsgiWorkers(h.Dir)
	if len(workers) == 0 {
		t.Fatal("no WSGI worker running")
	}

	start := time.Now()
	srv.Signal(syscall.SIGTERM)
	select {
	case <-srv.Done():
	case <-time.After(timeout + 20*time.Second):
		t.Fatalf("httpd did not exit within %v", timeout+20*time.Second)
	}
	took := time.Since(start)
	if took > timeout+time.Second {
		t.Errorf("httpd exited %v after SIGTERM; shutdown_timeout is %v, so the limit is %v", took.Round(time.Millisecond), timeout, timeout+time.Second)
	}
	// SIGKILLed processes may take a moment to go.
	deadline := time.Now().Add(time.Second)
	for {
		left := groupMembers(pgid)
		wl := wsgiWorkers(h.Dir)
		if len(left) == 0 && len(wl) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("left running after exit: script group %d: %v, WSGI workers: %v", pgid, left, wl)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readPid waits for a script to write its pid to file.
func readPid(t *testing.T, file string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(file); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				return pid
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pid in %s", file)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// groupMembers lists the processes of process group pgid that are not
// zombies.
func groupMembers(pgid int) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// After the command name in parentheses: state ppid pgrp ...
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 || f[0] == "Z" || f[2] != strconv.Itoa(pgid) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}
