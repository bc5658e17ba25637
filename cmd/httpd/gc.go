package main

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// gcHeadroom is the garbage the collector may let pile up beyond the live
// heap before it runs, when the live heap is small. A server allocates a
// little per request and keeps little: with Go's default (GOGC=100) its
// heap of a few MiB is collected about 20 times a second under load
// (1 KiB file, 256 connections: 112 collections in 5 s, against 9 with
// this headroom), and each collection also shrinks the stacks of waiting
// connections, which then grow again. Once the live heap passes 32 MiB,
// Go's default applies.
const gcHeadroom = 32 << 20

// gcPercent is the GOGC value that gives live bytes of heap gcHeadroom of
// headroom, between 100 (Go's default) and 1000.
func gcPercent(live uint64) int {
	if live == 0 {
		return 1000
	}
	p := int(gcHeadroom * 100 / live)
	return min(max(p, 100), 1000)
}

// tuneGC sets GOGC from the live heap every few seconds, unless the
// environment sets GOGC. It runs for the life of the process.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	last := 0
	for {
		metrics.Read(sample)
		if p := gcPercent(sample[0].Value.Uint64()); p != last {
			debug.SetGCPercent(p)
			last = p
		}
		time.Sleep(5 * time.Second)
	}
}
