package h2

import (
	"net/http"
	"sync"
	"time"
)

// Handler goroutines that outlive their stream.
//
// Every stream's handler runs on a goroutine of its own. A new goroutine
// starts with a small stack, and the handler's path (the vhost pipeline,
// a module, the file server) grows it by copying, two or three times a
// request: in the h2 benchmark (10 connections of 100 streams, a cached
// 1 KiB file) runtime.newstack and copystack took 8.6% of the CPU. So a
// goroutine that has served a stream waits for the next one, keeping its
// grown stack, and a new stream goes to the one that waited least.
//
// At most maxIdleWorkers wait, and one that has waited workerIdle is
// let go, so a server that was busy once does not keep the goroutines
// and their stacks (a few KiB each) for good.

const (
	maxIdleWorkers = 128
	workerIdle     = 2 * time.Second
)

// job is a stream to serve.
type job struct {
	st  *stream
	h   http.Handler
	req *http.Request
}

// worker is a goroutine that serves one stream after another.
type worker struct {
	jobs  chan job // a job with no stream lets the worker go
	since time.Time
}

// workerPool holds the waiting workers.
type workerPool struct {
	serve   func(job)
	maxIdle int
	idleFor time.Duration

	mu    sync.Mutex
	idle  []*worker // the longest waiting first
	reap  *time.Timer
	count int // workers alive
}

// workers serves the streams of every server in the process.
var workers = workerPool{
	serve:   func(j job) { j.st.run(j.h, j.req) },
	maxIdle: maxIdleWorkers,
	idleFor: workerIdle,
}

// start serves j on a waiting worker, or on a new one.
func (p *workerPool) start(j job) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.jobs <- j
		return
	}
	p.count++
	p.mu.Unlock()
	w := &worker{jobs: make(chan job, 1)}
	go w.loop(p, j)
}

func (w *worker) loop(p *workerPool, j job) {
	defer p.exit()
	for {
		p.serve(j)
		if !p.park(w) {
			return
		}
		if j = <-w.jobs; j.st == nil {
			return
		}
	}
}

func (p *workerPool) exit() {
	p.mu.Lock()
	p.count--
	p.mu.Unlock()
}

// park makes w wait for a job; it reports false when enough wait.
func (p *workerPool) park(w *worker) bool {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) >= p.maxIdle {
		return false
	}
	w.since = now
	p.idle = append(p.idle, w)
	if len(p.idle) == 1 {
		if p.reap == nil {
			p.reap = time.AfterFunc(p.idleFor, p.letGo)
		} else {
			p.reap.Reset(p.idleFor)
		}
	}
	return true
}

// letGo ends the workers that have waited idleFor, and looks again
// when the next one will have.
func (p *workerPool) letGo() {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].since) >= p.idleFor {
		p.idle[n].jobs <- job{}
		n++
	}
	rest := copy(p.idle, p.idle[n:])
	clear(p.idle[rest:])
	p.idle = p.idle[:rest]
	if rest > 0 {
		p.reap.Reset(p.idleFor - now.Sub(p.idle[0].since))
	}
}

// alive reports how many workers there are and how many wait.
func (p *workerPool) alive() (count, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count, len(p.idle)
}
