package fastcgi

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"httpd/registry"
)

// TestFastCGIReport follows the pool's counters through connections
// taken, given back and failed.
func TestFastCGIReport(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "fpm.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	var shared registry.Shared
	m := &Module{To: "unix:" + sock, MaxIdleConns: 2}
	if rep := m.Report(); rep.Workers != nil || rep.Kind != "fastcgi" || rep.Target != m.To {
		t.Errorf("before Provision: %+v", rep)
	}
	m.pool = newPool(&shared, "unix", sock, 2)
	defer m.pool.close()

	var held []*conn
	steps := []struct {
		name     string
		do       func(t *testing.T)
		busy     int
		idle     int
		requests uint64
		failures uint64
		healthy  bool
	}{
		{"fresh", func(*testing.T) {}, 0, 0, 0, 0, true},
		{"two taken", func(t *testing.T) {
			for range 2 {
				c, err := m.pool.get(context.Background(), false)
				if err != nil {
					t.Fatal(err)
				}
				m.pool.answered(c)
				held = append(held, c)
			}
		}, 2, 0, 2, 0, true},
		{"both given back", func(*testing.T) {
			for _, c := range held {
				m.pool.put(c, true)
			}
		}, 0, 2, 2, 0, true},
		{"responder gone", func(t *testing.T) {
			r := m.pool.resp
			r.mu.Lock()
			for _, c := range r.idle {
				c.nc.Close()
			}
			r.open -= len(r.idle)
			r.idle = nil
			r.mu.Unlock()
			ln.Close()
			if _, err := m.pool.get(context.Background(), false); err == nil {
				t.Fatal("get succeeded with no responder")
			}
		}, 0, 0, 2, 1, false},
	}
	for _, s := range steps {
		s.do(t)
		rep := m.Report()
		w, u := rep.Workers, rep.Upstreams
		if w == nil || len(u) != 1 {
			t.Fatalf("%s: report %+v", s.name, rep)
		}
		if w.Busy != s.busy || w.Idle != s.idle || u[0].Requests != s.requests || u[0].Failures != s.failures || u[0].Healthy != s.healthy || u[0].Active != s.busy {
			t.Errorf("%s: workers %+v, upstream %+v; want busy %d idle %d requests %d failures %d healthy %v",
				s.name, *w, u[0], s.busy, s.idle, s.requests, s.failures, s.healthy)
		}
		if !s.healthy && u[0].LastError == "" {
			t.Errorf("%s: no last error", s.name)
		}
	}
}
