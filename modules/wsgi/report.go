package wsgi

import (
	"time"

	"httpd/registry"
)

// Report gives the worker pool's state for the status page and metrics.
// Busy and idle count threads (connections) of ready workers; Max is
// processes × threads. Restarts are workers replaced on purpose
// (max_requests, reload, a broken exchange, a worker killed because a
// request ran past request_timeout), crashes those that exited unasked;
// timeouts count the requests request_timeout stopped.
func (m *Module) Report() registry.Report {
	rep := registry.Report{Kind: "wsgi_script_alias", Target: m.Script}
	p := m.pool
	if p == nil {
		return rep
	}
	pr := &registry.PoolReport{Max: m.Processes * m.Threads}
	p.mu.Lock()
	for w := range p.workers {
		pr.Busy += w.busy
	}
	pr.Idle = len(p.idle)
	pr.Queued = len(p.waiters)
	p.mu.Unlock()
	pr.Restarts = p.restarts.Load()
	pr.Crashes = p.crashes.Load()
	pr.Timeouts = p.timeouts.Load()
	pr.QueueWait = time.Duration(p.queueWait.Load())
	rep.Workers = pr
	return rep
}

var _ registry.Reporter = (*Module)(nil)
