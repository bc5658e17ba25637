package h1

import (
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Yielding before the next read, and what keeps it fair.
//
// A connection that has just answered yields to the others before it
// reads again: by the time it is back, its client has usually sent the
// next request, and the read finds it instead of failing with EAGAIN and
// waiting in Go's netpoller. Under load every busy connection then stays
// runnable, and Go polls the network only when it has no goroutine to
// run, or from sysmon every 10ms. A connection that does wait there (an
// idle one, or a busy one whose client was a little slower) would sit
// unread for up to 10ms while the others take turns.
//
// So yielding is allowed while connections keep waking from the netpoller
// (within yieldWindow of the last wakeup). Past that, the connections
// that wait are checked through a second epoll instance that sees every
// connection's incoming bytes (watchSet). If one that waits has bytes, it
// is starving: connections stop yielding until it wakes, the run queue
// drains, and the next poll serves it. If none has, yielding goes on for
// another window. A listener waiting in Accept is in the set too, so a new
// connection is not kept waiting either.
//
// Handlers wait in the netpoller too, on descriptors this package does
// not know: a WSGI worker's socket, a CGI script's pipe. The check cannot
// see whether such a handler has bytes waiting. While more requests are
// in their handlers than the other Ps could be running (none on one
// CPU), past the window connections stop yielding as if one had. Static
// files never wait there, and keep the check.

// yieldWindow is how long yielding goes on after a wakeup from the
// netpoller before the waiting connections are checked.
const yieldWindow = 200 * time.Microsecond

// Fairness is what keeps yielding fair: when a connection last woke from
// the netpoller, whether one is starving, the watch set of every
// connection and the count of requests in their handlers. The servers of
// a process share its CPUs and netpoller, so they should share one
// (Server.Fairness). The zero value is ready; Close releases it.
type Fairness struct {
	// polled is when (nanotime) a connection last woke from the
	// netpoller, or a check found no waiting connection with bytes.
	polled atomic.Int64
	// starving is set when a check found a waiting connection with bytes,
	// and cleared by the next wakeup.
	starving atomic.Bool
	// watched holds every connection with a descriptor.
	watched watchSet
	// inHandler counts the requests in their handlers.
	inHandler atomic.Int64
}

// Close releases the watch set's epoll instance. Connections still
// served afterwards stop yielding past the window, as if one starved.
func (f *Fairness) Close() error { return f.watched.close() }

// yieldNow reports whether a connection that has just answered should let
// the others run before it looks for its next request. now is nanotime,
// read by the caller.
func (f *Fairness) yieldNow(now int64) bool {
	if now-f.polled.Load() < int64(yieldWindow) {
		return true
	}
	if f.starving.Load() {
		return false
	}
	if f.inHandler.Load() > int64(runtime.GOMAXPROCS(0)-1) {
		f.starving.Store(true)
		return false
	}
	if !f.watched.checking.CompareAndSwap(false, true) {
		return true // another connection is checking
	}
	found := f.watched.waitingWithBytes()
	f.watched.checking.Store(false)
	if found {
		f.starving.Store(true)
		return false
	}
	f.polled.Store(now)
	return true
}

// woke records that a connection woke from the netpoller.
func (f *Fairness) woke(fd int) {
	f.polled.Store(nanotime())
	f.starving.Store(false)
	f.watched.setWaiting(fd, false)
}

// watchSet is a second epoll instance, edge-triggered, on every
// connection: a check takes the connections that got bytes since the last
// one and looks whether any of them waits in the netpoller. Go's own
// epoll instance is not touched. A descriptor leaves the set when it is
// closed; one reused by a new connection is added again.
type watchSet struct {
	once     sync.Once
	epMu     sync.RWMutex                                     // guards epfd against close while it is used
	epfd     int                                              // -1: no epoll instance, and every check finds a starving connection
	mu       sync.Mutex                                       // serializes making chunks
	chunks   [1 << 10]atomic.Pointer[[watchChunk]atomic.Bool] // waiting, by descriptor
	checking atomic.Bool
	events   [128]syscall.EpollEvent // used by the one checking
}

const watchChunk = 1 << 12

func (w *watchSet) init() {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		fd = -1
	}
	w.epfd = fd
}

// close closes the epoll instance; the set then watches nothing.
func (w *watchSet) close() error {
	w.once.Do(func() { w.epfd = -1 })
	w.epMu.Lock()
	defer w.epMu.Unlock()
	if w.epfd < 0 {
		return nil
	}
	err := syscall.Close(w.epfd)
	w.epfd = -1
	return err
}

// add watches a new connection's descriptor (none if fd is -1).
func (w *watchSet) add(fd int) {
	w.once.Do(w.init)
	w.epMu.RLock()
	defer w.epMu.RUnlock()
	if w.epfd < 0 || fd < 0 || fd >= len(w.chunks)*watchChunk {
		return
	}
	if w.chunks[fd/watchChunk].Load() == nil {
		w.mu.Lock()
		if w.chunks[fd/watchChunk].Load() == nil {
			w.chunks[fd/watchChunk].Store(new([watchChunk]atomic.Bool))
		}
		w.mu.Unlock()
	}
	w.slot(fd).Store(false)
	const edge = 1 << 31 // EPOLLET, which package syscall declares as a negative int
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | edge, Fd: int32(fd)}
	if err := syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err == syscall.EEXIST {
		_ = syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_MOD, fd, &ev)
	}
}

// slot is fd's waiting flag, nil for a descriptor that was never added.
func (w *watchSet) slot(fd int) *atomic.Bool {
	if fd < 0 || fd >= len(w.chunks)*watchChunk {
		return nil
	}
	if ch := w.chunks[fd/watchChunk].Load(); ch != nil {
		return &ch[fd%watchChunk]
	}
	return nil
}

// setWaiting records whether a connection waits in the netpoller.
func (w *watchSet) setWaiting(fd int, on bool) {
	if f := w.slot(fd); f != nil {
		f.Store(on)
	}
}

func (w *watchSet) waiting(fd int) bool {
	f := w.slot(fd)
	return f != nil && f.Load()
}

// waitingWithBytes reports whether a connection that waits in the
// netpoller got bytes since the last check. The caller holds checking.
func (w *watchSet) waitingWithBytes() bool {
	w.once.Do(w.init)
	w.epMu.RLock()
	defer w.epMu.RUnlock()
	if w.epfd < 0 {
		return true
	}
	found := false
	for {
		n, err := syscall.EpollWait(w.epfd, w.events[:], 0)
		if err == syscall.EINTR {
			continue
		}
		for _, ev := range w.events[:max(n, 0)] {
			if w.waiting(int(ev.Fd)) {
				found = true
			}
		}
		if err != nil || n < len(w.events) {
			return found
		}
	}
}
