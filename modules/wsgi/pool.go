package wsgi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"httpd/internal/pyworker"
	"httpd/registry"
)

// Backoff bounds for restarting workers that crash or fail to load the
// application.
const (
	crashBackoffMin  = 100 * time.Millisecond
	crashBackoffMax  = 10 * time.Second
	importBackoffMin = time.Second
	importBackoffMax = 30 * time.Second
	// reloadPoll is how often the script's modification time is checked
	// when reload = true.
	reloadPoll = time.Second
	// watchAfter is how long a request waits for a worker before the
	// server watches for its client going away (see acquire).
	watchAfter = 10 * time.Millisecond
)

type workerState int

const (
	starting workerState = iota // loading the application
	ready                       // serving
	retiring                    // finishing its requests; takes no new ones
	dead                        // exited
)

// worker is one Python process and its connections.
type worker struct {
	p      *pool
	cmd    *exec.Cmd
	pid    int
	ctrl   *net.UnixConn
	conns  []*conn
	stdout *pyworker.LineLogger
	stderr *pyworker.LineLogger
	exited chan struct{} // closed once the process has exited

	// Guarded by p.mu.
	state      workerState
	stale      bool // superseded (reload, max_requests, broken); not counted as active
	failed     bool // reported an import error
	timedOut   bool // killed because a request ran past request_timeout
	busy       int  // connections in use by requests
	served     int  // requests handed to this worker
	ctrlClosed bool
	killTimer  *time.Timer

	stackMu sync.Mutex // serializes stack requests on ctrl
}

// killForTimeout kills the worker of a request that ran past
// request_timeout: a replacement on purpose, counted as a timeout and a
// restart rather than a crash, and not slowed by the crash backoff.
func (p *pool) killForTimeout(w *worker) {
	p.timeouts.Add(1)
	p.mu.Lock()
	w.timedOut = true
	p.mu.Unlock()
	w.kill()
}

// kill sends SIGKILL to the worker's process group.
func (w *worker) kill() {
	if w.pid > 0 {
		_ = syscall.Kill(-w.pid, syscall.SIGKILL)
	}
}

// conn is one connection to one worker thread. A conn is used by one
// request at a time.
type conn struct {
	w   *worker
	idx int // the worker thread it talks to: "wsgi-IDX"
	nc  *net.UnixConn
	br  *bufio.Reader
	buf []byte // incoming payloads
	out []byte // outgoing frames

	// Guarded by w.p.mu.
	busy   bool
	closed bool
}

type acquired struct {
	c   *conn
	err error
}

type waiter struct{ ch chan acquired }

// pool runs the workers of one mount.
type pool struct {
	m      *Module
	log    *slog.Logger
	python string // the interpreter, resolved on PATH
	config []byte // the ctrlConfig frame every worker gets
	env    []string
	dir    string
	seq    atomic.Int64 // workers started, numbering them in their titles
	hello  sync.Once    // logs the interpreter once

	kick chan struct{} // wakes the supervisor loop
	stop chan struct{} // closed by close
	wg   sync.WaitGroup

	mu        sync.Mutex // guards the fields below and the guarded fields of workers and conns
	idle      []*conn
	waiters   []*waiter
	workers   map[*worker]struct{}
	spawning  int // spawns in progress, counted as active
	backoff   time.Duration
	nextSpawn time.Time
	importErr string // summary of the last import failure, until a worker is ready
	closed    bool
	started   chan struct{} // closed when the first worker is ready or failed to load
	startOnce sync.Once

	modTime time.Time // of the script, read by the supervisor loop only
	size    int64

	// For Report: workers that exited when asked (max_requests, reload,
	// a broken connection) or unasked, and the time requests waited.
	restarts  atomic.Uint64
	crashes   atomic.Uint64
	timeouts  atomic.Uint64 // requests stopped by request_timeout
	queueWait atomic.Int64  // nanoseconds

	// Guarded by mu: what the first worker said about its interpreter.
	version    string // like "3.11.2"
	executable string // sys.executable
}

// workerConfig makes the ctrlConfig frame: what a worker runs, as
// NUL-separated "key\0value\0" pairs; python_path repeats, once per
// directory.
func workerConfig(m *Module) ([]byte, error) {
	b := appendFrameHeader(nil, ctrlConfig, 0)
	pairs := [][2]string{
		{"script", m.Script}, {"callable", m.Callable}, {"mount", m.Prefix},
		{"threads", strconv.Itoa(m.Threads)}, {"processes", strconv.Itoa(m.Processes)},
		{"virtualenv", m.Virtualenv},
	}
	for _, d := range m.PythonPath {
		pairs = append(pairs, [2]string{"python_path", d})
	}
	for _, kv := range pairs {
		if strings.IndexByte(kv[1], 0) >= 0 {
			return nil, fmt.Errorf("%s %q holds a NUL byte", kv[0], kv[1])
		}
		b = appendPair(b, kv[0], kv[1])
	}
	setFrameLength(b, 0)
	return b, nil
}

func newPool(m *Module, python string) (*pool, error) {
	p := &pool{
		m:       m,
		log:     m.log,
		python:  python,
		dir:     filepath.Dir(m.Script),
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
	if st, err := os.Stat(m.Script); err == nil {
		p.modTime, p.size = st.ModTime(), st.Size()
	}
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

// waitStarted waits until a worker is ready or has failed to load the
// application, or ctx ends.
func (p *pool) waitStarted(ctx context.Context) {
	select {
	case <-p.started:
	case <-ctx.Done():
	}
}

func (p *pool) markStarted() { p.startOnce.Do(func() { close(p.started) }) }

// spawn starts one worker process with a control socket and one
// connection per thread, all socket pairs inherited as fds 3, 4, ...
func (p *pool) spawn() (*worker, error) {
	n := p.m.Threads + 1
	var (
		parents []*net.UnixConn
		files   []*os.File
	)
	closeAll := func() {
		for _, c := range parents {
			c.Close()
		}
		for _, f := range files {
			f.Close()
		}
	}
	for i := 0; i < n; i++ {
		parent, child, err := pyworker.SocketPair("wsgi-conn")
		if err != nil {
			closeAll()
			return nil, err
		}
		files = append(files, child)
		parents = append(parents, parent)
	}
	w := &worker{p: p, exited: make(chan struct{}), ctrl: parents[0]}
	w.stdout = pyworker.NewLineLogger(p.log, slog.LevelInfo, "wsgi worker stdout")
	w.stderr = pyworker.NewLineLogger(p.log, slog.LevelError, "wsgi worker stderr")
	// The worker program comes on stdin ("python -"), its configuration
	// on the control socket: the command line stays short and readable.
	if _, err := parents[0].Write(p.config); err != nil {
		closeAll()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	cmd := exec.Command(p.python, "-", pyworker.Title("wsgi", p.m.Prefix, p.m.vhost, p.seq.Add(1)))
	cmd.Stdin = strings.NewReader(workerPy)
	cmd.Dir = p.dir
	cmd.Env = p.env
	cmd.ExtraFiles = files
	cmd.Stdout = w.stdout
	cmd.Stderr = w.stderr
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		closeAll()
		return nil, fmt.Errorf("start %s: %w", p.python, err)
	}
	for _, f := range files {
		f.Close()
	}
	w.cmd, w.pid = cmd, cmd.Process.Pid
	w.stdout.SetPID(w.pid)
	w.stderr.SetPID(w.pid)
	for i, nc := range parents[1:] {
		w.conns = append(w.conns, &conn{w: w, idx: i, nc: nc, br: bufio.NewReaderSize(nc, 16<<10)})
	}
	p.log.Debug("wsgi worker started", "pid", w.pid)
	return w, nil
}

// add registers a started worker and starts its supervisor goroutine.
func (p *pool) add(w *worker) {
	p.mu.Lock()
	p.workers[w] = struct{}{}
	if p.closed {
		p.retireLocked(w)
	}
	p.mu.Unlock()
	p.wg.Add(1)
	go p.supervise(w)
}

// supervise waits for the worker to report, then for it to exit.
func (p *pool) supervise(w *worker) {
	defer p.wg.Done()
	br := bufio.NewReader(w.ctrl)
	typ, payload, _, err := readFrame(br, nil)
	if err == nil && typ == ctrlHello {
		p.helloFrom(w, payload)
		typ, payload, _, err = readFrame(br, nil)
	}
	switch {
	case err == nil && typ == ctrlReady:
		p.markReady(w)
	case err == nil && typ == ctrlImportError:
		p.importFailed(w, string(payload))
	}
	werr := w.cmd.Wait()
	w.stdout.Flush()
	w.stderr.Flush()
	p.exited(w, werr)
}

// helloFrom records what a worker said about its interpreter; the first
// worker's report is logged, once per pool.
func (p *pool) helloFrom(w *worker, payload []byte) {
	version, executable, _ := strings.Cut(string(payload), "\x00")
	p.mu.Lock()
	if p.version == "" {
		p.version, p.executable = version, executable
	}
	p.mu.Unlock()
	p.hello.Do(func() {
		p.log.Info("wsgi python", "python", p.python, "version", version, "executable", executable, "pid", w.pid)
	})
}

// interpreter returns the version and sys.executable the workers
// reported, or "" before any did.
func (p *pool) interpreter() (version, executable string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.version, p.executable
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
	p.importErr = ""
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
	for _, c := range w.conns {
		p.putLocked(c)
	}
}

func (p *pool) importFailed(w *worker, traceback string) {
	summary := pyworker.LastLine(traceback)
	p.log.Error("wsgi application failed to load", "script", p.m.Script, "pid", w.pid, "error", summary, "traceback", traceback)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.markStarted()
	w.failed = true
	p.importErr = summary
	for o := range p.workers {
		if o.stale {
			p.retireLocked(o)
		}
	}
	if p.readyLocked() == 0 {
		err := p.loadErrorLocked()
		for _, wt := range p.waiters {
			wt.ch <- acquired{err: err}
		}
		p.waiters = nil
	}
}

func (p *pool) exited(w *worker, werr error) {
	p.mu.Lock()
	expected := w.state == retiring || p.closed || w.timedOut
	w.state = dead
	for _, c := range w.conns {
		p.closeConnLocked(c)
	}
	p.dropIdleLocked(w)
	if !w.ctrlClosed {
		w.ctrlClosed = true
		w.ctrl.Close()
	}
	if w.killTimer != nil {
		w.killTimer.Stop()
	}
	delete(p.workers, w)
	if expected && !p.closed {
		p.restarts.Add(1)
	} else if !expected {
		p.crashes.Add(1)
	}
	if !expected {
		lo, hi := crashBackoffMin, crashBackoffMax
		if w.failed {
			lo, hi = importBackoffMin, importBackoffMax
		}
		p.backoff = min(max(p.backoff*2, lo), hi)
		p.nextSpawn = time.Now().Add(p.backoff)
	}
	backoff := p.backoff
	p.mu.Unlock()
	w.kill() // anything the application left in the worker's process group
	close(w.exited)
	switch {
	case expected:
		p.log.Debug("wsgi worker stopped", "pid", w.pid)
	case w.failed:
		p.log.Info("wsgi worker will retry loading the application", "pid", w.pid, "in", backoff)
	default:
		p.log.Error("wsgi worker exited unexpectedly; replacing it", "pid", w.pid, "error", exitError(werr), "in", backoff)
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

// loop keeps the pool at its size and watches the script when reload is
// on. It runs until close.
func (p *pool) loop() {
	defer p.wg.Done()
	var tick <-chan time.Time
	if p.m.Reload {
		t := time.NewTicker(reloadPoll)
		defer t.Stop()
		tick = t.C
	}
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
				p.log.Error("wsgi worker failed to start", "error", err)
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
		case <-tick:
			p.checkScript()
		}
	}
}

// missing reserves the workers to start now, or says how long to wait
// before starting them.
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

// checkScript recycles every worker when the script changed.
func (p *pool) checkScript() {
	st, err := os.Stat(p.m.Script)
	if err != nil || (st.ModTime().Equal(p.modTime) && st.Size() == p.size) {
		return
	}
	p.modTime, p.size = st.ModTime(), st.Size()
	p.log.Info("wsgi script changed; reloading workers", "script", p.m.Script)
	p.mu.Lock()
	for w := range p.workers {
		if w.state == starting || w.state == ready {
			w.stale = true
		}
	}
	p.backoff = 0
	p.nextSpawn = time.Time{}
	p.mu.Unlock()
}

// acquire returns an idle connection, waiting up to timeout (0: no limit)
// or until ctx ends. The caller must release it.
func (p *pool) acquire(ctx context.Context, timeout time.Duration) (*conn, error) {
	p.mu.Lock()
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if c.closed || c.w.state != ready {
			continue
		}
		p.takeLocked(c)
		p.mu.Unlock()
		return c, nil
	}
	if p.closed {
		p.mu.Unlock()
		return nil, registry.Errorf(503, "wsgi %s: the worker pool is stopping", p.m.Prefix)
	}
	if p.importErr != "" && p.readyLocked() == 0 {
		err := p.loadErrorLocked()
		p.mu.Unlock()
		return nil, err
	}
	wt := &waiter{ch: make(chan acquired, 1)}
	p.waiters = append(p.waiters, wt)
	p.mu.Unlock()

	// The client may go away while its request waits. Watching for that
	// costs the server a goroutine and a read, so it starts only once
	// the request has waited watchAfter; most waits are far shorter.
	start := time.Now()
	first := watchAfter
	if timeout > 0 && timeout < first {
		first = timeout
	}
	t := time.NewTimer(first)
	defer t.Stop()
	defer func() { p.queueWait.Add(int64(time.Since(start))) }()
	var (
		gone <-chan struct{}
		err  error
	)
wait:
	for {
		select {
		case a := <-wt.ch:
			return a.c, a.err
		case <-gone:
			// A canceled request context means the client went away:
			// nobody is left to answer, and it is no fault of the server.
			status := registry.StatusClientClosed
			if !errors.Is(ctx.Err(), context.Canceled) {
				status = http.StatusServiceUnavailable
			}
			err = registry.Error(status, fmt.Errorf("wsgi %s: waiting for a worker: %w", p.m.Prefix, ctx.Err()))
			break wait
		case <-t.C:
			if gone == nil {
				p.log.Debug("wsgi request waiting for a worker", "waited", time.Since(start).Round(time.Millisecond))
			}
			gone = ctx.Done()
			if timeout > 0 {
				left := timeout - time.Since(start)
				if left <= 0 {
					err = registry.Errorf(503, "wsgi %s: no worker free within %s", p.m.Prefix, timeout)
					break wait
				}
				t.Reset(left)
			}
		}
	}
	p.mu.Lock()
	removed := false
	for i, o := range p.waiters {
		if o == wt {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			removed = true
			break
		}
	}
	p.mu.Unlock()
	if !removed {
		if a := <-wt.ch; a.c != nil {
			p.release(a.c, true)
		}
	}
	return nil, err
}

func (p *pool) loadErrorLocked() error {
	return registry.Errorf(500, "wsgi %s: application failed to load: %s", p.m.Prefix, p.importErr)
}

// takeLocked marks c in use and counts the request against its worker.
func (p *pool) takeLocked(c *conn) {
	w := c.w
	c.busy = true
	w.busy++
	w.served++
	if p.m.MaxRequests > 0 && w.served >= p.m.MaxRequests && !w.stale {
		p.log.Debug("wsgi worker reached max_requests; recycling", "pid", w.pid, "max_requests", p.m.MaxRequests)
		w.stale = true
		p.retireLocked(w)
		p.wake()
	}
}

// putLocked hands an idle connection to the first waiter, or parks it.
func (p *pool) putLocked(c *conn) {
	if len(p.waiters) > 0 {
		wt := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.takeLocked(c)
		wt.ch <- acquired{c: c}
		return
	}
	p.idle = append(p.idle, c)
}

// release returns a connection after a request. ok = false means the
// exchange broke off (crash, timeout, protocol error): the connection is
// closed and its worker replaced.
func (p *pool) release(c *conn, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := c.w
	c.busy = false
	w.busy--
	if !ok && w.state != dead && !w.stale {
		w.stale = true
		p.wake()
	}
	if !ok && w.state != dead {
		p.retireLocked(w)
	}
	if w.state != ready || c.closed {
		p.closeConnLocked(c)
		if w.state == retiring && w.busy == 0 {
			p.finishLocked(w)
		}
		return
	}
	p.putLocked(c)
}

// retireLocked stops giving the worker requests; it exits once its busy
// connections are released.
func (p *pool) retireLocked(w *worker) {
	if w.state == retiring || w.state == dead {
		return
	}
	w.state = retiring
	w.stale = true
	p.dropIdleLocked(w)
	for _, c := range w.conns {
		if !c.busy {
			p.closeConnLocked(c)
		}
	}
	if w.busy == 0 {
		p.finishLocked(w)
	}
}

// finishLocked closes the control socket, which tells the worker to exit,
// and kills it if it has not after StopGrace.
func (p *pool) finishLocked(w *worker) {
	if w.ctrlClosed {
		return
	}
	w.ctrlClosed = true
	w.ctrl.Close()
	w.killTimer = time.AfterFunc(StopGrace, w.kill)
}

func (p *pool) dropIdleLocked(w *worker) {
	kept := p.idle[:0]
	for _, c := range p.idle {
		if c.w != w {
			kept = append(kept, c)
		}
	}
	clear(p.idle[len(kept):])
	p.idle = kept
}

func (p *pool) closeConnLocked(c *conn) {
	if !c.closed {
		c.closed = true
		c.nc.Close()
	}
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

// close stops the pool: waiting requests get 503, workers finish the
// requests they have (up to StopGrace), then every worker process group
// is terminated; when the server's time is up (Env.Kill) they are killed
// at once. It returns when all goroutines of the pool have ended.
func (p *pool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.markStarted()
	for _, wt := range p.waiters {
		wt.ch <- acquired{err: registry.Errorf(503, "wsgi %s: the worker pool is stopping", p.m.Prefix)}
	}
	p.waiters = nil
	var exits []chan struct{}
	for w := range p.workers {
		p.retireLocked(w)
		exits = append(exits, w.exited)
	}
	p.mu.Unlock()
	close(p.stop)

	deadline := time.NewTimer(StopGrace)
	defer deadline.Stop()
	for _, ch := range exits {
		select {
		case <-ch:
		case <-deadline.C:
			p.signalAll(syscall.SIGTERM)
			select {
			case <-ch:
			case <-time.After(time.Second):
			}
			p.signalAll(syscall.SIGKILL)
		case <-p.m.kill:
			p.signalAll(syscall.SIGKILL)
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
