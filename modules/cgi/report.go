package cgi

import (
	"time"

	"httpd/registry"
)

// Report gives the mount's process slots for the status page and
// metrics: scripts running (busy), free slots (idle), requests waiting
// for a slot and how long they waited, and scripts stopped by timeout.
func (m *Module) Report() registry.Report {
	target := m.Path
	if m.Program != "" {
		target = m.Program
	}
	rep := registry.Report{Kind: "script_alias", Target: target}
	if m.slots == nil {
		return rep
	}
	busy, capacity := len(m.slots), cap(m.slots)
	rep.Workers = &registry.PoolReport{
		Busy:      busy,
		Idle:      capacity - busy,
		Queued:    int(m.queued.Load()),
		Max:       capacity,
		Timeouts:  m.timeouts.Load(),
		QueueWait: time.Duration(m.queueWait.Load()),
	}
	return rep
}

var _ registry.Reporter = (*Module)(nil)
