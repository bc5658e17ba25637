package upstream

import (
	"context"
	"sync"
	"time"
)

// WatchDelay is how long a request runs before AfterFuncLate starts
// watching its context.
const WatchDelay = time.Second

// AfterFuncLate is context.AfterFunc for a request that is usually over
// quickly: ctx is watched only once delay has passed, and f runs when ctx
// is done from then on. stop stops the watch and reports, as
// context.AfterFunc's stop does, whether f was kept from running; after
// false, f has started (it may still be running).
//
// The reason is the server's context: httpd's HTTP/1.1 engine watches
// the client's connection for a reset only once Done is asked for, which
// costs a goroutine and a read per request, and context.AfterFunc on a
// context of a type it does not know starts a goroutine of its own. A
// proxied request answered in 50µs needs neither; one that waits on a
// slow upstream gets both after delay.
func AfterFuncLate(ctx context.Context, delay time.Duration, f func()) (stop func() bool) {
	if err := ctx.Err(); err != nil {
		go f()
		return func() bool { return false }
	}
	w := &lateWatch{}
	w.t = time.AfterFunc(delay, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.stopped {
			return
		}
		w.stop = context.AfterFunc(ctx, f)
	})
	return w.end
}

type lateWatch struct {
	t       *time.Timer
	mu      sync.Mutex
	stopped bool
	stop    func() bool // the context's watch, once started
}

func (w *lateWatch) end() bool {
	w.t.Stop()
	w.mu.Lock()
	w.stopped = true
	stop := w.stop
	w.mu.Unlock()
	if stop == nil {
		return true
	}
	return stop()
}
