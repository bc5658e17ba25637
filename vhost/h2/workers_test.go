package h2

import (
	"sync"
	"testing"
	"time"

	"httpd/internal/testutil"
)

func TestWorkersServeOneStreamAfterAnother(t *testing.T) {
	done := make(chan struct{})
	p := &workerPool{serve: func(job) { done <- struct{}{} }, maxIdle: 4, idleFor: time.Hour}
	for i := range 50 {
		p.start(job{st: &stream{}})
		<-done
		testutil.WaitUntil(t, "the worker to wait", func() bool { _, idle := p.alive(); return idle == 1 })
		if count, _ := p.alive(); count != 1 {
			t.Fatalf("after stream %d: %d workers, want 1", i, count)
		}
	}
}

func TestWorkersKeepAtMostMaxIdle(t *testing.T) {
	var release sync.WaitGroup
	release.Add(1)
	p := &workerPool{serve: func(job) { release.Wait() }, maxIdle: 4, idleFor: time.Hour}
	for range 10 {
		p.start(job{st: &stream{}})
	}
	if count, idle := p.alive(); count != 10 || idle != 0 {
		t.Fatalf("10 streams at once: %d workers, %d waiting; want 10, 0", count, idle)
	}
	release.Done()
	testutil.WaitUntil(t, "six workers to end", func() bool { count, _ := p.alive(); return count == 4 })
	if _, idle := p.alive(); idle != 4 {
		t.Errorf("%d workers waiting, want 4", idle)
	}
}

func TestWorkersLetGoAfterWaiting(t *testing.T) {
	var release sync.WaitGroup
	release.Add(1)
	p := &workerPool{serve: func(job) { release.Wait() }, maxIdle: 8, idleFor: 20 * time.Millisecond}
	for range 5 {
		p.start(job{st: &stream{}})
	}
	release.Done()
	testutil.WaitUntil(t, "every worker to end", func() bool { count, _ := p.alive(); return count == 0 })
	// The pool works again after it emptied.
	p.start(job{st: &stream{}})
	testutil.WaitUntil(t, "the new worker to end", func() bool { count, _ := p.alive(); return count == 0 })
}
