package fastcgi

import "httpd/registry"

// Report gives the responder's state for the status page and metrics:
// requests being served (busy), idle connections kept to the address, and the
// responder as one upstream, healthy unless the last attempt to connect
// to it failed.
func (m *Module) Report() registry.Report {
	rep := registry.Report{Kind: "fastcgi", Target: m.To}
	p := m.pool
	if p == nil {
		return rep
	}
	p.mu.Lock()
	last, down := p.lastErr, p.down
	p.mu.Unlock()
	idle := p.idleCount()
	busy := int(p.busy.Load())
	rep.Workers = &registry.PoolReport{Busy: busy, Idle: idle, Max: max(m.MaxIdleConns, busy+idle)}
	failures := p.failures.Load()
	rep.Upstreams = []registry.UpstreamReport{{
		Address:   m.To,
		Healthy:   !down,
		Active:    busy,
		Requests:  p.requests.Load(),
		Failures:  failures,
		LastError: last,
	}}
	return rep
}

var _ registry.Reporter = (*Module)(nil)
