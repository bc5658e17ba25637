package wsgi

import (
	"testing"
	"time"

	"httpd/registry"
)

func TestWSGIReport(t *testing.T) {
	tests := []struct {
		name string
		pool func(m *Module) *pool
		want *registry.PoolReport
	}{
		{"not provisioned", func(*Module) *pool { return nil }, nil},
		{"busy, idle and waiting", func(m *Module) *pool {
			p := &pool{m: m, workers: map[*worker]struct{}{}}
			a, b := &worker{p: p, busy: 2}, &worker{p: p, busy: 1}
			p.workers[a], p.workers[b] = struct{}{}, struct{}{}
			p.idle = []*conn{{w: a}, {w: b}, {w: b}}
			p.waiters = []*waiter{{}, {}}
			p.restarts.Store(4)
			p.crashes.Store(1)
			p.timeouts.Store(5)
			p.queueWait.Store(int64(250 * time.Millisecond))
			return p
		}, &registry.PoolReport{Busy: 3, Idle: 3, Queued: 2, Max: 6, Restarts: 4, Crashes: 1, Timeouts: 5, QueueWait: 250 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Module{Script: "/srv/app.wsgi", Processes: 2, Threads: 3}
			m.pool = tt.pool(m)
			rep := m.Report()
			if rep.Kind != "wsgi_script_alias" || rep.Target != "/srv/app.wsgi" {
				t.Errorf("kind %q target %q", rep.Kind, rep.Target)
			}
			if tt.want == nil {
				if rep.Workers != nil {
					t.Errorf("workers %+v without a pool", rep.Workers)
				}
				return
			}
			if rep.Workers == nil || *rep.Workers != *tt.want {
				t.Errorf("workers %+v, want %+v", rep.Workers, tt.want)
			}
		})
	}
}
