package h2

import (
	"sync"
	"time"
)

// deadline is a movable point in time after which reads or writes of a
// stream fail. Its fields are guarded by the lock given to set.
type deadline struct {
	timer   *time.Timer
	gen     int // bumped by every set, so a timer for an old time does nothing
	expired bool
}

// set arms d for t (the zero time disarms it). When t passes, expired is
// set and fire runs, both with mu held; a t already past does so at
// once. mu is held by the caller.
func (d *deadline) set(t time.Time, mu sync.Locker, fire func()) {
	d.stop()
	d.expired = false
	if t.IsZero() {
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		d.expired = true
		fire()
		return
	}
	gen := d.gen
	d.timer = time.AfterFunc(wait, func() {
		mu.Lock()
		defer mu.Unlock()
		if d.gen == gen {
			d.expired = true
			fire()
		}
	})
}

// stop disarms d; the lock given to set is held.
func (d *deadline) stop() {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	d.gen++
}
