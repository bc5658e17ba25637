// Package heapfloor lets the heap grow by at least a fixed amount between
// garbage collections, however small the live heap is.
//
// Go starts a collection when the heap has grown by GOGC percent (100)
// of what the last one left live, and never below 4 MiB. A server whose
// live heap is small and whose requests each allocate a few KiB collects
// dozens of times a second: serving a cached 1 KiB file over HTTP/2
// (h2load, 10 connections of 100 streams, one CPU) the collector, its
// assists and the stacks it shrinks and the handlers grow again took
// about 30% of the CPU, and GOGC=400 (a 16 MiB least goal) served
// 15–20% more requests. A fixed GOGC that high would let a large heap (thousands of connections,
// each with its buffers) grow five times over, so instead, after each
// collection, Start sets the percent that makes the next goal the live
// heap plus the floor, and never below 100: a live heap as large as the
// floor is collected as by default. The percent applies to goroutine
// stacks and globals as well as to the live heap, so they count: with
// 5,000 idle connections the stacks outweigh the heap, and a percent
// from the heap alone let the goal, and the RSS, double.
//
// A heap that grew under load keeps its pages: the runtime gives memory
// back slowly, only beyond about a tenth over the goal. So when the
// process goes quiet (it allocated less than a MiB in a second) with
// more than a quarter of the floor held beyond what is live, Start's
// watcher collects once and gives every free page back
// (debug.FreeOSMemory), and does not again until there was load. With
// 5,000 idle connections just opened, that is the difference between the
// RSS of the last goal and that of what the connections hold.
//
// A GOGC set in the environment is the operator's choice and is left
// alone, as is GOGC=off.
package heapfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// Floor is the growth allowed between collections by default.
const Floor = 16 << 20

var start sync.Once

// Start keeps the floor for the life of the process, unless GOGC is set
// in the environment. It reports whether it does.
func Start(floor uint64) bool {
	if _, set := os.LookupEnv("GOGC"); set || floor == 0 {
		return false
	}
	start.Do(func() {
		t := &tuner{floor: floor, sample: samples(scanned)}
		t.tune()
		t.arm()
		go watchQuiet(floor, time.NewTicker(time.Second).C)
	})
	return true
}

// quietAllocs is the most a process allocates in a second of quiet.
const quietAllocs = 1 << 20

// watchQuiet gives memory back once each time the process goes quiet,
// looking at every tick.
func watchQuiet(floor uint64, tick <-chan time.Time) {
	var w quietWatch
	for range tick {
		if w.check(floor) {
			debug.FreeOSMemory()
		}
	}
}

// quietWatch decides when to give memory back.
type quietWatch struct {
	sample   []metrics.Sample
	allocs   uint64
	released bool // since the last load
}

var watched = []string{"/gc/heap/allocs:bytes", "/gc/heap/live:bytes",
	"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes", "/memory/classes/heap/free:bytes"}

// check reports whether to give memory back now.
func (w *quietWatch) check(floor uint64) bool {
	if w.sample == nil {
		w.sample = samples(watched)
	}
	metrics.Read(w.sample)
	v := func(i int) uint64 { return value(w.sample[i]) }
	return w.decide(v(0), v(1), v(2)+v(3)+v(4), floor)
}

// decide is check's rule, given the bytes allocated so far, the live
// heap and the heap memory held.
func (w *quietWatch) decide(allocs, live, held, floor uint64) bool {
	busy := allocs-w.allocs >= quietAllocs
	w.allocs = allocs
	if busy {
		w.released = false
		return false
	}
	if w.released || held < live || held-live <= floor/4 {
		return false
	}
	w.released = true
	return true
}

// What the collector's goal is a percent of.
var scanned = []string{"/gc/heap/live:bytes", "/gc/scan/stack:bytes", "/gc/scan/globals:bytes"}

// samples makes the samples that read the metrics names.
func samples(names []string) []metrics.Sample {
	s := make([]metrics.Sample, len(names))
	for i, name := range names {
		s[i].Name = name
	}
	return s
}

// value is a sample's figure, 0 where the runtime has none.
func value(s metrics.Sample) uint64 {
	if s.Value.Kind() == metrics.KindUint64 {
		return s.Value.Uint64()
	}
	return 0
}

type tuner struct {
	floor   uint64
	sample  []metrics.Sample
	percent int
}

// sentinel is an object whose collection marks the end of a cycle. It
// holds a pointer so that it is not batched with other tiny objects.
type sentinel struct {
	_ *int
	_ [16]byte
}

// arm sets a cleanup that runs after the next collection.
func (t *tuner) arm() {
	s := new(sentinel)
	runtime.AddCleanup(s, func(t *tuner) {
		t.tune()
		t.arm()
	}, t)
}

// tune sets the percent for the live heap, stacks and globals the last
// collection found.
func (t *tuner) tune() {
	metrics.Read(t.sample)
	var live uint64
	for _, s := range t.sample {
		live += value(s)
	}
	p := Percent(live, t.floor)
	// Small changes are left alone: setting the percent takes the
	// heap's lock.
	if p != t.percent && (t.percent == 0 || p*8 < t.percent*7 || p*7 > t.percent*8) {
		debug.SetGCPercent(p)
		t.percent = p
	}
}

// Percent is the GOGC that makes the goal after live bytes (heap,
// stacks and globals) at least live+floor, and at least 100. The
// runtime's minimum goal, 4 MiB at GOGC=100, grows with the percent as
// well, so the percent stays at most the one that makes that minimum the
// floor: past it, a small heap would grow far beyond the floor (the first
// collection of a server taking 5,000 TLS connections came at 184 MB).
func Percent(live, floor uint64) int {
	most := max(100, int(floor*100/minimumGoal))
	if live == 0 || floor*100/live >= uint64(most) {
		return most
	}
	return max(100, int((floor*100+live-1)/live))
}

// minimumGoal is the runtime's least heap goal at GOGC=100.
const minimumGoal = 4 << 20
