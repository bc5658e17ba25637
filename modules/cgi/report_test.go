package cgi

import (
	"testing"
	"time"

	"httpd/registry"
)

func TestCGIReport(t *testing.T) {
	tests := []struct {
		name     string
		m        func() *Module
		target   string
		want     *registry.PoolReport
		noWorker bool
	}{
		{"not provisioned", func() *Module { return &Module{Path: "/srv/cgi-bin"} }, "/srv/cgi-bin", nil, true},
		{"idle", func() *Module {
			return &Module{Path: "/srv/cgi-bin", slots: make(chan struct{}, 4)}
		}, "/srv/cgi-bin", &registry.PoolReport{Idle: 4, Max: 4}, false},
		{"busy and waiting", func() *Module {
			m := &Module{Program: "/usr/lib/git-core/git-http-backend", slots: make(chan struct{}, 2)}
			m.slots <- struct{}{}
			m.slots <- struct{}{}
			m.queued.Store(3)
			m.timeouts.Store(5)
			m.queueWait.Store(int64(1500 * time.Millisecond))
			return m
		}, "/usr/lib/git-core/git-http-backend", &registry.PoolReport{Busy: 2, Queued: 3, Max: 2, Timeouts: 5, QueueWait: 1500 * time.Millisecond}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := tt.m().Report()
			if rep.Kind != "script_alias" || rep.Target != tt.target {
				t.Errorf("kind %q target %q, want script_alias %q", rep.Kind, rep.Target, tt.target)
			}
			if tt.noWorker {
				if rep.Workers != nil {
					t.Errorf("workers %+v before Provision", rep.Workers)
				}
				return
			}
			if rep.Workers == nil || *rep.Workers != *tt.want {
				t.Errorf("workers %+v, want %+v", rep.Workers, tt.want)
			}
		})
	}
}
