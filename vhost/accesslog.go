package vhost

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// accessLog is one generation's access log: one line per request in the
// common, combined or JSON format, to out. Lines go through the writer
// that every generation of a server shares (accessWriter).
type accessLog struct {
	format string
	out    io.WriteCloser
	w      *accessWriter
	seq    uint64 // order of creation among w's logs: a newer log's out wins
	closed bool   // guarded by w.mu
}

// accessWriter writes the lines of every generation's access log. Lines
// collect in one buffer that holds whole lines only, which a background
// goroutine flushes every flushEvery, so a request never waits for the
// disk. Each write(2) carries whole lines, and only one goes on at a
// time, so no line is ever torn, also while generations overlap after a
// reload and the log file is reopened (SPEC §10).
//
// The buffer goes to the out of the newest log that has written a line:
// after a reload, the old generation's lines follow the new generation's
// to the reopened file once the new one has logged.
type accessWriter struct {
	mu      sync.Mutex // guards everything below, and accessLog.closed
	buf     []byte     // whole lines
	size    int        // buf is written once it holds this much; 0 means bufSize
	out     io.WriteCloser
	owner   *accessLog // whose out is out; nil when none
	seq     uint64     // the last seq given out
	lastSec int64
	timeStr []byte
	stop    chan struct{} // closed to stop the flusher; nil while none runs
	stopped chan struct{} // closed by the flusher when it returns
}

const (
	flushEvery = 100 * time.Millisecond
	bufSize    = 64 << 10
)

// newAccessLog starts an access log on out with a writer of its own. A
// nil out turns logging off.
func newAccessLog(out io.WriteCloser, format string) *accessLog {
	return new(accessWriter).newLog(out, format)
}

// newLog makes a log on out that writes through w. A nil out turns
// logging off.
func (w *accessWriter) newLog(out io.WriteCloser, format string) *accessLog {
	if out == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	return &accessLog{format: format, out: out, w: w, seq: w.seq}
}

// takeLocked makes a's out the one lines go to, if a is newer than the
// log whose out it is now, writing what is buffered for the old one
// first.
func (w *accessWriter) takeLocked(a *accessLog) {
	if w.owner == a || w.owner != nil && w.owner.seq > a.seq {
		return
	}
	if w.owner != nil && w.out != a.out {
		w.flushLocked()
	}
	w.owner, w.out = a, a.out
	if w.stop == nil {
		w.stop, w.stopped = make(chan struct{}), make(chan struct{})
		go w.flusher(w.stop, w.stopped)
	}
}

// flushLocked writes the buffered lines in one write.
func (w *accessWriter) flushLocked() {
	if len(w.buf) == 0 || w.out == nil {
		return
	}
	_, _ = w.out.Write(w.buf)
	if cap(w.buf) > 4*w.bufSize() {
		w.buf = nil // a huge line does not keep its buffer
	} else {
		w.buf = w.buf[:0]
	}
}

func (w *accessWriter) bufSize() int {
	if w.size > 0 {
		return w.size
	}
	return bufSize
}

func (w *accessWriter) flusher(stop, stopped chan struct{}) {
	defer close(stopped)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			w.mu.Lock()
			w.flushLocked()
			w.mu.Unlock()
		}
	}
}

// Close flushes the log and closes its out (not stdout or stderr: the
// caller hands those wrapped). Its later lines are dropped.
func (a *accessLog) Close() error {
	if a == nil {
		return nil
	}
	w := a.w
	w.mu.Lock()
	if a.closed {
		w.mu.Unlock()
		return nil
	}
	a.closed = true
	var stop, stopped chan struct{}
	if w.owner == a {
		w.flushLocked()
		w.owner, w.out = nil, nil
		stop, stopped = w.stop, w.stopped
		w.stop, w.stopped = nil, nil
	} else if w.out == a.out {
		// A newer log writes to the same out, and closes it.
		w.mu.Unlock()
		return nil
	}
	w.mu.Unlock()
	if stop != nil {
		close(stop)
		<-stopped
	}
	return a.out.Close()
}

// timed reports whether lines carry the request's duration, so that the
// request's start time is worth reading the clock for.
func (a *accessLog) timed() bool { return a != nil && a.format == "json" }

func (a *accessLog) log(rw *responseWriter, r *http.Request, vhost string) {
	if a == nil {
		return
	}
	now := time.Now()
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	w := a.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if a.closed {
		return
	}
	w.takeLocked(a)
	// The line goes straight into the buffer, which holds whole lines:
	// it is written once it is full, never in the middle of one.
	b := w.buf
	if a.format == "json" {
		b = a.appendJSON(b, rw, r, vhost, host, now)
	} else {
		b = w.appendCLF(b, a.format, rw, r, host, now)
	}
	w.buf = append(b, '\n')
	if len(w.buf) >= w.bufSize() {
		w.flushLocked()
	}
}

// appendCLF writes the Common or Combined Log Format.
func (w *accessWriter) appendCLF(b []byte, format string, rw *responseWriter, r *http.Request, host string, now time.Time) []byte {
	b = append(b, host...)
	b = append(b, " - "...)
	if u, _, ok := r.BasicAuth(); ok && u != "" {
		b = appendEscaped(b, u)
	} else {
		b = append(b, '-')
	}
	b = append(b, " ["...)
	if sec := now.Unix(); sec != w.lastSec {
		w.lastSec = sec
		w.timeStr = now.AppendFormat(w.timeStr[:0], "02/Jan/2006:15:04:05 -0700")
	}
	b = append(b, w.timeStr...)
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
	if format == "combined" {
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
