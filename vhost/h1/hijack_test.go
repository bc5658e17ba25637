package h1

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestSwitchingProtocols: a 101 goes out with the handler's Connection
// and Upgrade fields and no framing, and then the connection is the
// handler's (Hijack) or closes.
func TestSwitchingProtocols(t *testing.T) {
	tests := []struct {
		name   string
		hijack bool
		want   []string // lines of the head, in order, Date aside
		after  string   // what follows the head
	}{
		{"hijacked", true, []string{"HTTP/1.1 101 Switching Protocols", "Connection: Upgrade", "Sec-Websocket-Accept: x", "Upgrade: websocket"}, "hello from the new protocol\n"},
		{"not hijacked", false, []string{"HTTP/1.1 101 Switching Protocols", "Connection: Upgrade", "Sec-Websocket-Accept: x", "Upgrade: websocket"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := startServer(t, &Server{}, func(w http.ResponseWriter, r *http.Request) {
				h := w.Header()
				h.Set("Connection", "Upgrade")
				h.Set("Upgrade", "websocket")
				h.Set("Sec-WebSocket-Accept", "x")
				h.Set("Content-Length", "5") // no body after a 101: dropped
				w.WriteHeader(http.StatusSwitchingProtocols)
				if !tc.hijack {
					return
				}
				nc, rw, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				defer nc.Close()
				rw.WriteString(tc.after)
				rw.Flush()
			})
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"))
			all, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read: %v (got %q): the connection did not close after the 101", err, all)
			}
			head, rest, ok := strings.Cut(string(all), "\r\n\r\n")
			if !ok {
				t.Fatalf("no end of head in %q", all)
			}
			var lines []string
			for _, l := range strings.Split(head, "\r\n") {
				if !strings.HasPrefix(l, "Date: ") {
					lines = append(lines, l)
				}
			}
			if strings.Join(lines, "|") != strings.Join(tc.want, "|") {
				t.Errorf("head:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(tc.want, "\n"))
			}
			if rest != tc.after {
				t.Errorf("after the head: %q, want %q", rest, tc.after)
			}
		})
	}
}

// watchers counts goroutines running the client-gone watcher.
func watchers() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "h1.(*conn).watch(")
}

// waitWatchers waits up to 5 s for want watchers to run.
func waitWatchers(want int) bool {
	deadline := time.Now().Add(5 * time.Second)
	for watchers() != want {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// TestHijackStopsWatcher: a handler that asked for its request's Done
// (which starts the client-gone watcher) and then hijacks gets the
// connection to itself: the watcher is gone, and the client's
// half-close reads as end of input, not as a hang.
func TestHijackStopsWatcher(t *testing.T) {
	if n := watchers(); n != 0 {
		t.Fatalf("%d watchers before the test", n)
	}
	result := make(chan string, 1)
	addr := startServer(t, &Server{}, func(w http.ResponseWriter, r *http.Request) {
		_ = r.Context().Done()
		if !waitWatchers(1) {
			result <- "the watcher did not start"
			return
		}
		nc, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			result <- "hijack: " + err.Error()
			return
		}
		defer nc.Close()
		if !waitWatchers(0) {
			result <- "the watcher survives the hijack"
			// Let the test end: the client's half-close below will not
			// reach a read held by the watcher.
			return
		}
		rw.WriteString("ready\n")
		rw.Flush()
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(rw)
		switch {
		case err != nil:
			result <- "read after the client's half-close: " + err.Error()
		case string(b) != "bye\n":
			result <- "read " + string(b)
		default:
			result <- "ok"
		}
		rw.WriteString("done\n")
		rw.Flush()
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	c.Write([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("handler: %s (read %q, %v)", <-result, line, err)
	}
	c.Write([]byte("bye\n"))
	c.(*net.TCPConn).CloseWrite()
	if got := <-result; got != "ok" {
		t.Fatal(got)
	}
	if line, _ := br.ReadString('\n'); line != "done\n" {
		t.Errorf("after the handler's read: %q", line)
	}
}
