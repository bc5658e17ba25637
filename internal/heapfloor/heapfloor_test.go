package heapfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{0, 16 << 20, 400},
		{1 << 10, 16 << 20, 400},
		{1 << 20, 16 << 20, 400},
		{4 << 20, 16 << 20, 400},
		{5 << 20, 16 << 20, 320},
		{8 << 20, 16 << 20, 200},
		{12 << 20, 16 << 20, 134},
		{16 << 20, 16 << 20, 100},
		{0, 2 << 20, 100},
		{0, 64 << 20, 1600},
		{64 << 20, 16 << 20, 100},
		{1 << 40, 16 << 20, 100},
	} {
		if got := Percent(c.live, c.floor); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.live, c.floor, got, c.want)
		}
	}
}

// TestStartFollowsCollections checks that the percent is set after a
// collection from the live heap it left.
func TestStartFollowsCollections(t *testing.T) {
	t.Setenv("GOGC", "")
	if Start(Floor) {
		t.Fatal("Start with GOGC in the environment took over")
	}
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	tu := &tuner{floor: Floor, sample: samples(scanned)}
	var live []byte
	for _, size := range []int{1 << 20, 48 << 20} {
		live = make([]byte, size)
		runtime.GC()
		tu.tune()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		got := debug.SetGCPercent(tu.percent)
		// What the collector counts lies between HeapAlloc and
		// HeapAlloc plus StackInuse right after a collection (the stacks'
		// used part, and globals, which are small); allow an eighth
		// beyond either.
		least, most := Percent(m.HeapAlloc+m.StackInuse, Floor), Percent(m.HeapAlloc, Floor)
		if got*8 < least*7 || got*7 > most*8 {
			t.Errorf("with %d bytes live: percent %d, want %d to %d", size, got, least, most)
		}
	}
	runtime.KeepAlive(live)
}

// TestStartTunesAfterEachCollection checks the whole loop: after Start,
// each collection sets the percent for the heap it left live.
func TestStartTunesAfterEachCollection(t *testing.T) {
	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC")
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	if !Start(Floor) {
		t.Fatal("Start did not take over without GOGC")
	}
	gogc := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	wait := func(ok func(int) bool) int {
		deadline := time.Now().Add(5 * time.Second)
		for {
			runtime.GC()
			metrics.Read(gogc)
			p := int(gogc[0].Value.Uint64())
			if ok(p) || time.Now().After(deadline) {
				return p
			}
			runtime.Gosched()
		}
	}
	if p := wait(func(p int) bool { return p == 400 }); p != 400 {
		t.Errorf("with a small live heap the percent is %d, want 400", p)
	}
	live := make([]byte, 64<<20)
	if p := wait(func(p int) bool { return p == 100 }); p != 100 {
		t.Errorf("with 64 MiB live the percent is %d, want 100", p)
	}
	runtime.KeepAlive(live)
}

func TestQuietWatch(t *testing.T) {
	const mib = 1 << 20
	var w quietWatch
	steps := []struct {
		allocs, live, held uint64
		want               bool
		why                string
	}{
		{500 * mib, 10 * mib, 40 * mib, false, "busy: 500 MiB allocated"},
		{900 * mib, 10 * mib, 40 * mib, false, "busy: 400 MiB in a second"},
		{900*mib + 1000, 10 * mib, 40 * mib, true, "quiet, 30 MiB held beyond the live heap"},
		{900*mib + 2000, 10 * mib, 40 * mib, false, "already given back since the load"},
		{950 * mib, 10 * mib, 40 * mib, false, "busy again"},
		{950 * mib, 10 * mib, 13 * mib, false, "quiet, but 3 MiB beyond live is under a quarter of the floor"},
		{950 * mib, 10 * mib, 16 * mib, true, "quiet, 6 MiB beyond live"},
	}
	for _, s := range steps {
		if got := w.decide(s.allocs, s.live, s.held, Floor); got != s.want {
			t.Errorf("%s: give back %v, want %v", s.why, got, s.want)
		}
	}
}

// TestQuietWatchReadsMetrics checks that check reads the runtime's
// figures: right after a collection and a long quiet, nothing is held
// beyond a quarter of a large floor.
func TestQuietWatchReadsMetrics(t *testing.T) {
	var w quietWatch
	w.check(1 << 40) // takes the allocation count
	runtime.GC()
	if w.check(1 << 40) {
		t.Error("gave back with a floor of 1 TiB")
	}
	if w.sample[0].Value.Uint64() == 0 {
		t.Error("the allocation count reads zero")
	}
}
