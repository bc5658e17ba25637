package asgi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"httpd/internal/pyworker"
	"httpd/registry"
)

// Backoff bounds for restarting workers that crash or fail to start.
const (
	crashBackoffMin = 100 * time.Millisecond
	crashBackoffMax = 10 * time.Second
	failBackoffMin  = time.Second
	failBackoffMax  = 30 * time.Second
	// cancelGrace is how long a worker has to end a task cancelled by
	// request_timeout before it is killed: an event loop that does not
	// come back is stuck in blocking code.
	cancelGrace = 5 * time.Second
	// stackDumpWait is how long a blocked worker has to write its stacks
	// before it is killed.
	stackDumpWait = 250 * time.Millisecond
)

// WebSocketGrace is how long the open WebSockets of a retiring worker
// (max_requests, stop, reload) live on; then each is closed with 1001
// (going away) and its application task learns it from
// websocket.disconnect. Clients reconnect to a fresh worker.
var WebSocketGrace = 5 * time.Second

type workerState int

const (
	starting workerState = iota // loading the application, lifespan startup
	ready                       // serving
	retiring                    // finishing its streams; takes no new ones
	dead                        // exited
)

// worker is one Python process: its control socket and the data socket
// its streams share.
type worker struct {
	p      *pool
	cmd    *exec.Cmd
	pid    int
	ctrl   *net.UnixConn
	data   *net.UnixConn
	stdout *pyworker.LineLogger
	stderr *pyworker.LineLogger
	exited chan struct{} // closed once the process has exited
	gone   chan struct{} // closed when the data socket broke

	wmu   sync.Mutex    // guards wbuf and werr
	wbuf  []byte        // frames waiting for the writer
	werr  error         // the data socket's write error, once it failed
	wkick chan struct{} // wakes the writer; one pending wake-up

	// Guarded by p.mu.
	state      workerState
	stale      bool // superseded (reload, broken)
	failed     bool // failed to load or start
	streams    map[uint32]*stream
	nextID     uint32
	ctrlClosed bool
	killTimer  *time.Timer
	graceTimer *time.Timer // WebSocketGrace of a retiring worker
	served     int         // streams opened: requests and WebSockets
}

var errWorkerGone = errors.New("the worker's data socket is closed")

// write queues frames for the worker; its writer goroutine sends them.
// A failed write means the worker is gone; the reader notices too, and
// every stream learns it from there.
func (w *worker) write(b []byte) error {
	w.wmu.Lock()
	if err := w.werr; err != nil {
		w.wmu.Unlock()
		return err
	}
	first := len(w.wbuf) == 0
	w.wbuf = append(w.wbuf, b...)
	w.wmu.Unlock()
	if first {
		select {
		case w.wkick <- struct{}{}:
		default:
		}
	}
	return nil
}

// writer sends what write queued, many frames per system call: under
// load the requests that arrive together reach the worker in one write,
// and its event loop takes them in one turn. It yields once before
// taking the queue so that the request goroutines already runnable add
// theirs first. It returns when the data socket fails or the worker is
// gone.
func (w *worker) writer() {
	var out []byte
	for {
		select {
		case <-w.wkick:
		case <-w.gone:
			w.fail(errWorkerGone)
			return
		}
		runtime.Gosched()
		w.wmu.Lock()
		out, w.wbuf = w.wbuf, out[:0]
		w.wmu.Unlock()
		if len(out) == 0 {
			continue
		}
		if _, err := w.data.Write(out); err != nil {
			w.fail(err)
			return
		}
		if cap(out) > 1<<20 {
			out = nil // a large body went through; let it go
		}
	}
}

// fail makes every later write return err and drops what is queued.
func (w *worker) fail(err error) {
	w.wmu.Lock()
	w.werr = err
	w.wbuf = nil
	w.wmu.Unlock()
}

// kill sends SIGKILL to the worker's process group.
func (w *worker) kill() {
	if w.pid > 0 {
		_ = syscall.Kill(-w.pid, syscall.SIGKILL)
	}
}

// pool runs the workers of one mount.
type pool struct {
	m      *Module
	log    *slog.Logger
	python string
	config []byte
	env    []string
	seq    atomic.Int64
	hello  sync.Once

	kick chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup

	crashes  atomic.Uint64
	restarts atomic.Uint64
	timeouts atomic.Uint64

	mu        sync.Mutex // guards the fields below and the guarded fields of workers
	workers   map[*worker]struct{}
	waiters   []chan struct{} // requests waiting for a ready worker
	spawning  int
	backoff   time.Duration
	nextSpawn time.Time
	startErr  string // the last load or startup failure, until a worker is ready
	closed    bool
	started   chan struct{} // closed when the first worker is ready or failed
	startOnce sync.Once
	version   string
}

// workerConfig is the configuration frame of a worker of m, with extra
// key/value pairs.
func workerConfig(m *Module, extra ...[2]string) ([]byte, error) {
	var b []byte
	pairs := [][2]string{{"app", m.App}, {"mount", m.Prefix}, {"lifespan", m.Lifespan},
		{"virtualenv", m.Virtualenv}}
	for _, d := range m.PythonPath {
		pairs = append(pairs, [2]string{"python_path", d})
	}
	pairs = append(pairs, extra...)
	for _, kv := range pairs {
		if strings.IndexByte(kv[1], 0) >= 0 {
			return nil, fmt.Errorf("%s %q holds a NUL byte", kv[0], kv[1])
		}
		b = append(b, kv[0]...)
		b = append(b, 0)
		b = append(b, kv[1]...)
		b = append(b, 0)
	}
	return appendFrame(nil, ctrlConfig, 0, b), nil
}

func newPool(m *Module, python string) (*pool, error) {
	p := &pool{
		m:       m,
		log:     m.log,
		python:  python,
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		workers: map[*worker]struct{}{},
		started: make(chan struct{}),
	}
	cfg, err := workerConfig(m)
	if err != nil {
		return nil, err
	}
	p.config = cfg
	p.env = pyworker.Env(m.Virtualenv, m.Env)
	for i := 0; i < m.Processes; i++ {
		w, err := p.spawn()
		if err != nil {
			p.close()
			return nil, err
		}
		p.add(w)
	}
	p.wg.Add(1)
	go p.loop()
	return p, nil
}

// waitStarted waits until a worker is ready or has failed to start, or
// ctx ends. It returns the failure when no worker is ready.
func (p *pool) waitStarted(ctx context.Context) error {
	select {
	case <-p.started:
	case <-ctx.Done():
		return fmt.Errorf("no worker started within the time allowed: %w", ctx.Err())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.startErr != "" && p.readyLocked() == 0 {
		return errors.New(p.startErr)
	}
	return nil
}

func (p *pool) markStarted() { p.startOnce.Do(func() { close(p.started) }) }

// spawn starts one worker process with its control socket (fd 3) and
// data socket (fd 4).
func (p *pool) spawn() (*worker, error) {
	ctrl, ctrlChild, err := pyworker.SocketPair("asgi-ctrl")
	if err != nil {
		return nil, err
	}
	data, dataChild, err := pyworker.SocketPair("asgi-data")
	if err != nil {
		ctrl.Close()
		ctrlChild.Close()
		return nil, err
	}
	closeAll := func() {
		ctrl.Close()
		ctrlChild.Close()
		data.Close()
		dataChild.Close()
	}
	w := &worker{p: p, ctrl: ctrl, data: data, exited: make(chan struct{}), gone: make(chan struct{}),
		streams: map[uint32]*stream{}, wkick: make(chan struct{}, 1)}
	w.stdout = pyworker.NewLineLogger(p.log, slog.LevelInfo, "asgi worker stdout")
	w.stderr = pyworker.NewLineLogger(p.log, slog.LevelError, "asgi worker stderr")
	if _, err := ctrl.Write(p.config); err != nil {
		closeAll()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	cmd := exec.Command(p.python, "-", pyworker.Title("asgi", p.m.Prefix, p.m.vhost, p.seq.Add(1)))
	cmd.Stdin = strings.NewReader(workerPy)
	cmd.Dir = p.m.dir
	cmd.Env = p.env
	cmd.ExtraFiles = []*os.File{ctrlChild, dataChild}
	cmd.Stdout = w.stdout
	cmd.Stderr = w.stderr
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		closeAll()
		return nil, fmt.Errorf("start %s: %w", p.python, err)
	}
	ctrlChild.Close()
	dataChild.Close()
	w.cmd, w.pid = cmd, cmd.Process.Pid
	w.stdout.SetPID(w.pid)
	w.stderr.SetPID(w.pid)
	p.log.Debug("asgi worker started", "pid", w.pid)
	return w, nil
}

// add registers a started worker and starts its goroutines.
func (p *pool) add(w *worker) {
	p.mu.Lock()
	p.workers[w] = struct{}{}
	if p.closed {
		p.retireLocked(w)
	}
	p.mu.Unlock()
	p.wg.Add(3)
	go p.supervise(w)
	go p.read(w)
	go func() {
		defer p.wg.Done()
		w.writer()
	}()
}

// supervise waits for the worker to report, then for it to exit.
func (p *pool) supervise(w *worker) {
	defer p.wg.Done()
	br := bufio.NewReader(w.ctrl)
	typ, _, payload, _, err := readFrame(br, nil)
	if err == nil && typ == ctrlHello {
		version, executable, _ := strings.Cut(string(payload), "\x00")
		p.mu.Lock()
		if p.version == "" {
			p.version = version
		}
		p.mu.Unlock()
		p.hello.Do(func() {
			p.log.Info("asgi python", "python", p.python, "version", version, "executable", executable, "pid", w.pid)
		})
		typ, _, payload, _, err = readFrame(br, nil)
	}
	switch {
	case err == nil && typ == ctrlReady:
		p.markReady(w)
	case err == nil && typ == ctrlFailed:
		p.startFailed(w, string(payload))
	}
	werr := w.cmd.Wait()
	w.stdout.Flush()
	w.stderr.Flush()
	p.exited(w, werr)
}

// read dispatches the frames of the data socket to their streams until
// the socket closes; then every stream still open learns that the worker
// is gone.
func (p *pool) read(w *worker) {
	defer p.wg.Done()
	br := bufio.NewReaderSize(w.data, 64<<10)
	var buf []byte
	var err error
	for {
		var (
			typ     byte
			id      uint32
			payload []byte
		)
		typ, id, payload, buf, err = readFrame(br, buf)
		if err != nil {
			break
		}
		if typ == frameLog {
			p.log.Error("asgi application", "pid", w.pid, "text", strings.TrimRight(string(payload), "\n"))
			continue
		}
		p.mu.Lock()
		s := w.streams[id]
		if s != nil && typ == frameEnd {
			delete(w.streams, id)
			if w.state == retiring && len(w.streams) == 0 {
				p.finishLocked(w)
			}
			p.wakeWaitersLocked()
		}
		p.mu.Unlock()
		if s == nil {
			continue
		}
		if typ == frameEnd {
			s.ended.Store(true)
		}
		if s.abandoned.Load() {
			continue
		}
		s.push(typ, bytes.Clone(payload))
	}
	p.mu.Lock()
	streams := w.streams
	w.streams = map[uint32]*stream{}
	w.stale = true // takes no new streams; exited replaces it
	p.mu.Unlock()
	close(w.gone)
	for _, s := range streams {
		s.ended.Store(true)
		s.broken()
	}
	if err != nil && !errors.Is(err, net.ErrClosed) && err.Error() != "EOF" {
		p.log.Debug("asgi worker data socket", "pid", w.pid, "error", err)
	}
	// A broken data socket leaves nothing to serve: make sure the
	// process goes too.
	w.kill()
}

func (p *pool) markReady(w *worker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.markStarted()
	if w.state != starting {
		return
	}
	w.state = ready
	p.backoff = 0
	p.startErr = ""
	if w.stale {
		p.retireLocked(w)
		return
	}
	for o := range p.workers {
		if o.stale && o.state == ready {
			p.retireLocked(o)
			break
		}
	}
	p.wakeWaitersLocked()
}

func (p *pool) startFailed(w *worker, msg string) {
	summary := pyworker.LastLine(msg)
	p.log.Error("asgi application failed to start", "app", p.m.App, "pid", w.pid, "error", summary, "detail", msg)
	p.mu.Lock()
	defer p.mu.Unlock()
	w.failed = true
	p.startErr = summary
	p.markStarted()
	if p.readyLocked() == 0 {
		p.wakeWaitersLocked()
	}
}

func (p *pool) exited(w *worker, werr error) {
	p.mu.Lock()
	expected := w.state == retiring || p.closed
	w.state = dead
	if !w.ctrlClosed {
		w.ctrlClosed = true
		w.ctrl.Close()
	}
	w.data.Close()
	if w.killTimer != nil {
		w.killTimer.Stop()
	}
	if w.graceTimer != nil {
		w.graceTimer.Stop()
	}
	delete(p.workers, w)
	if expected && !p.closed && !w.failed {
		p.restarts.Add(1)
	}
	if !expected || w.failed {
		lo, hi := crashBackoffMin, crashBackoffMax
		if w.failed {
			lo, hi = failBackoffMin, failBackoffMax
		}
		p.backoff = min(max(p.backoff*2, lo), hi)
		p.nextSpawn = time.Now().Add(p.backoff)
	}
	backoff := p.backoff
	p.mu.Unlock()
	w.kill()
	close(w.exited)
	switch {
	case w.failed:
		p.log.Info("asgi worker will retry starting the application", "pid", w.pid, "in", backoff)
	case expected:
		p.log.Debug("asgi worker stopped", "pid", w.pid)
	default:
		p.crashes.Add(1)
		p.log.Error("asgi worker exited unexpectedly; replacing it", "pid", w.pid, "error", exitError(werr), "in", backoff)
	}
	p.wake()
}

func exitError(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

func (p *pool) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// loop keeps the pool at its size. It runs until close.
func (p *pool) loop() {
	defer p.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		n, wait := p.missing()
		for i := 0; i < n; i++ {
			w, err := p.spawn()
			p.mu.Lock()
			p.spawning--
			if err != nil {
				p.backoff = min(max(p.backoff*2, crashBackoffMin), crashBackoffMax)
				p.nextSpawn = time.Now().Add(p.backoff)
			}
			p.mu.Unlock()
			if err != nil {
				p.log.Error("asgi worker failed to start", "error", err)
				continue
			}
			p.add(w)
		}
		if n > 0 {
			continue
		}
		if wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-p.stop:
			return
		case <-p.kick:
		case <-timer.C:
		}
	}
}

func (p *pool) missing() (int, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, 0
	}
	active := p.spawning
	for w := range p.workers {
		if !w.stale && (w.state == starting || w.state == ready) {
			active++
		}
	}
	n := p.m.Processes - active
	if n <= 0 {
		return 0, 0
	}
	if d := time.Until(p.nextSpawn); d > 0 {
		return 0, d
	}
	p.spawning += n
	return n, 0
}

// open starts a stream (a WebSocket when ws) on the ready worker with
// the fewest streams, waiting up to timeout (0: no limit) or until ctx
// ends for one to be ready. The stream that makes a worker reach
// max_requests retires it: it takes no new stream, finishes those it has
// and exits, and a fresh worker replaces it at once.
func (p *pool) open(ctx context.Context, timeout time.Duration, ws bool) (*stream, error) {
	var deadline <-chan time.Time
	for {
		p.mu.Lock()
		var best *worker
		for w := range p.workers {
			if w.state == ready && !w.stale && (best == nil || len(w.streams) < len(best.streams)) {
				best = w
			}
		}
		if best != nil {
			best.nextID++
			if best.nextID == 0 {
				best.nextID = 1
			}
			s := newStream(best, best.nextID, ws)
			best.streams[s.id] = s
			best.served++
			if limit := p.m.MaxRequests; limit > 0 && best.served >= limit {
				p.log.Info("asgi worker reached max_requests; replacing it", "pid", best.pid, "max_requests", limit)
				p.retireLocked(best)
				p.wake()
			}
			p.mu.Unlock()
			return s, nil
		}
		if p.closed {
			p.mu.Unlock()
			return nil, registry.Errorf(503, "asgi %s: the worker pool is stopping", p.m.Prefix)
		}
		if p.startErr != "" && p.readyLocked() == 0 {
			err := registry.Errorf(500, "asgi %s: application failed to start: %s", p.m.Prefix, p.startErr)
			p.mu.Unlock()
			return nil, err
		}
		ch := make(chan struct{})
		p.waiters = append(p.waiters, ch)
		p.mu.Unlock()
		if deadline == nil && timeout > 0 {
			t := time.NewTimer(timeout)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-ch:
		case <-ctx.Done():
			status := registry.StatusClientClosed
			if !errors.Is(ctx.Err(), context.Canceled) {
				status = 503
			}
			return nil, registry.Error(status, fmt.Errorf("asgi %s: waiting for a worker: %w", p.m.Prefix, ctx.Err()))
		case <-deadline:
			return nil, registry.Errorf(503, "asgi %s: no worker ready within %s", p.m.Prefix, timeout)
		}
	}
}

func (p *pool) wakeWaitersLocked() {
	for _, ch := range p.waiters {
		close(ch)
	}
	p.waiters = nil
}

// abandon gives up a stream whose request ended before the application
// did (client gone, timeout): frames for it are dropped from now on.
func (p *pool) abandon(s *stream) {
	s.abandoned.Store(true)
}

// cancel stops a stream past request_timeout: the worker cancels its
// task and logs where it waited. A worker that has not ended the task
// within cancelGrace has an event loop stuck in blocking code, and is
// killed.
func (p *pool) cancel(s *stream) {
	p.timeouts.Add(1)
	_ = s.send(frameCancel)
	p.abandon(s)
	time.AfterFunc(cancelGrace, func() {
		if s.ended.Load() {
			return
		}
		p.mu.Lock()
		s.w.stale = true // no new streams for it
		p.mu.Unlock()
		p.log.Error("asgi worker did not end a cancelled task; its event loop is blocked: killing it (its threads' stacks follow)",
			"pid", s.w.pid, "after", cancelGrace)
		// SIGUSR1 makes the worker's faulthandler write every thread's
		// stack to stderr, which the error log gets, even while the
		// event loop is blocked.
		_ = syscall.Kill(s.w.pid, syscall.SIGUSR1)
		time.AfterFunc(stackDumpWait, s.w.kill)
	})
}

// retireLocked stops giving the worker requests; it exits once its
// streams have ended. Its WebSockets are closed (1001) after
// WebSocketGrace, and a worker whose streams have still not ended
// StopGrace later is told to stop all the same.
func (p *pool) retireLocked(w *worker) {
	if w.state == retiring || w.state == dead {
		return
	}
	w.state = retiring
	w.stale = true
	if len(w.streams) == 0 {
		p.finishLocked(w)
		return
	}
	w.graceTimer = time.AfterFunc(WebSocketGrace, func() { p.goAway(w) })
}

// goAway closes the WebSockets of a retiring worker whose grace is over,
// and bounds the wait for its last streams.
func (p *pool) goAway(w *worker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.state != retiring || w.ctrlClosed {
		return
	}
	n := 0
	for _, s := range w.streams {
		if s.ws {
			close(s.away)
			n++
		}
	}
	if n > 0 {
		p.log.Info("asgi worker retiring: closing its WebSockets with 1001 (going away)", "pid", w.pid, "websockets", n, "grace", WebSocketGrace)
	}
	w.graceTimer = time.AfterFunc(StopGrace, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if w.state == retiring && !w.ctrlClosed {
			p.log.Warn("asgi worker retiring: streams still open; stopping it", "pid", w.pid, "streams", len(w.streams))
			p.finishLocked(w)
		}
	})
}

// finishLocked closes the control socket, which tells the worker to run
// its lifespan shutdown and exit, and kills it if it has not after
// StopGrace.
func (p *pool) finishLocked(w *worker) {
	if w.ctrlClosed {
		return
	}
	w.ctrlClosed = true
	w.ctrl.Close()
	w.killTimer = time.AfterFunc(StopGrace, w.kill)
}

func (p *pool) readyLocked() int {
	n := 0
	for w := range p.workers {
		if w.state == ready {
			n++
		}
	}
	return n
}

// close stops the pool: waiting requests get 503, workers finish their
// streams (up to StopGrace), run their lifespan shutdown and exit; when
// the server's time is up (Env.Kill) they are killed at once. It returns
// when all goroutines of the pool have ended.
func (p *pool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.markStarted()
	p.wakeWaitersLocked()
	var exits []chan struct{}
	for w := range p.workers {
		p.retireLocked(w)
		exits = append(exits, w.exited)
	}
	p.mu.Unlock()
	close(p.stop)

	deadline := time.NewTimer(StopGrace + 2*time.Second)
	defer deadline.Stop()
	for _, ch := range exits {
		select {
		case <-ch:
		case <-deadline.C:
			p.signalAll(syscall.SIGKILL)
			<-ch
		case <-p.m.kill:
			p.signalAll(syscall.SIGKILL)
			<-ch
		}
	}
	p.wg.Wait()
}

func (p *pool) signalAll(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for w := range p.workers {
		if w.pid > 0 {
			_ = syscall.Kill(-w.pid, sig)
		}
	}
}

// report counts the pool for the status page.
func (p *pool) report() *registry.PoolReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := &registry.PoolReport{Max: p.m.Processes, Queued: len(p.waiters)}
	for w := range p.workers {
		switch w.state {
		case ready:
			r.Busy += len(w.streams)
			if len(w.streams) == 0 {
				r.Idle++
			}
		case retiring:
			r.Busy += len(w.streams) // finishing them
		}
	}
	r.Crashes = p.crashes.Load()
	r.Restarts = p.restarts.Load()
	r.Timeouts = p.timeouts.Load()
	return r
}
