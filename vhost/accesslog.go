package vhost

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// accessLog writes one line per request in the common, combined or JSON
// format. Lines collect in a buffer that a background goroutine flushes
// every flushEvery, so a request never waits for the disk.
type accessLog struct {
	format string

	mu      sync.Mutex // guards buf, scratch, out, closed, lastSec, timeStr
	buf     *bufio.Writer
	out     io.WriteCloser
	scratch []byte
	closed  bool
	lastSec int64
	timeStr []byte

	done chan struct{}
	wg   sync.WaitGroup
}

const flushEvery = 100 * time.Millisecond

// newAccessLog starts an access log on out. A nil out turns logging off.
func newAccessLog(out io.WriteCloser, format string) *accessLog {
	if out == nil {
		return nil
	}
	a := &accessLog{format: format, out: out, buf: bufio.NewWriterSize(out, 64<<10), done: make(chan struct{})}
	a.wg.Add(1)
	go a.flusher()
	return a
}

func (a *accessLog) flusher() {
	defer a.wg.Done()
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-a.done:
			return
		case <-t.C:
			a.mu.Lock()
			if a.buf.Buffered() > 0 {
				_ = a.buf.Flush()
			}
			a.mu.Unlock()
		}
	}
}

// Close flushes and closes the log (not stdout or stderr).
func (a *accessLog) Close() error {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()
	close(a.done)
	a.wg.Wait()
	a.mu.Lock()
	defer a.mu.Unlock()
	err := a.buf.Flush()
	if cerr := a.out.Close(); err == nil {
		err = cerr
	}
	return err
}

// timed reports whether lines carry the request's duration, so that the
// request's start time is worth reading the clock for.
func (a *accessLog) timed() bool { return a != nil && a.format == "json" }

func (a *accessLog) log(rw *responseWriter, r *http.Request, vhost string) {
	if a == nil {
		return
	}
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	b := a.scratch[:0]
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if a.format == "json" {
		b = a.appendJSON(b, rw, r, vhost, host, now)
	} else {
		b = a.appendCLF(b, rw, r, host, now)
	}
	b = append(b, '\n')
	_, _ = a.buf.Write(b)
	a.scratch = b
}

// appendCLF writes the Common or Combined Log Format.
func (a *accessLog) appendCLF(b []byte, rw *responseWriter, r *http.Request, host string, now time.Time) []byte {
	b = append(b, host...)
	b = append(b, " - "...)
	if u, _, ok := r.BasicAuth(); ok && u != "" {
		b = appendEscaped(b, u)
	} else {
		b = append(b, '-')
	}
	b = append(b, " ["...)
	if sec := now.Unix(); sec != a.lastSec {
		a.lastSec = sec
		a.timeStr = now.AppendFormat(a.timeStr[:0], "02/Jan/2006:15:04:05 -0700")
	}
	b = append(b, a.timeStr...)
	b = append(b, "] \""...)
	b = appendEscaped(b, r.Method)
	b = append(b, ' ')
	b = appendEscaped(b, r.RequestURI)
	b = append(b, ' ')
	b = appendEscaped(b, r.Proto)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(rw.status), 10)
	b = append(b, ' ')
	if rw.bytes == 0 {
		b = append(b, '-')
	} else {
		b = strconv.AppendInt(b, rw.bytes, 10)
	}
	if a.format == "combined" {
		b = append(b, " \""...)
		b = appendEscaped(b, orDash(r.Referer()))
		b = append(b, "\" \""...)
		b = appendEscaped(b, orDash(r.UserAgent()))
		b = append(b, '"')
	}
	return b
}

func (a *accessLog) appendJSON(b []byte, rw *responseWriter, r *http.Request, vhost, host string, now time.Time) []byte {
	rec := struct {
		Time     string  `json:"time"`
		Remote   string  `json:"remote"`
		VHost    string  `json:"vhost"`
		Host     string  `json:"host"`
		Method   string  `json:"method"`
		URI      string  `json:"uri"`
		Proto    string  `json:"proto"`
		Status   int     `json:"status"`
		Bytes    int64   `json:"bytes"`
		Duration float64 `json:"duration_ms"`
		Referer  string  `json:"referer,omitempty"`
		Agent    string  `json:"user_agent,omitempty"`
		TLS      bool    `json:"tls,omitempty"`
	}{
		Time: now.Format(time.RFC3339Nano), Remote: host, VHost: vhost, Host: r.Host,
		Method: r.Method, URI: r.RequestURI, Proto: r.Proto, Status: rw.status, Bytes: rw.bytes,
		Duration: float64(now.Sub(rw.start).Microseconds()) / 1000,
		Referer:  r.Referer(), Agent: r.UserAgent(), TLS: r.TLS != nil,
	}
	j, _ := json.Marshal(rec)
	return append(b, j...)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// appendEscaped appends s with quotes, backslashes and control bytes
// escaped as \xNN, as Apache does, so a client cannot forge log lines.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' || c < 0x20 || c >= 0x7f {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}
