package registry

import (
	"net/http"
	"time"
)

// Reporter is implemented by stages with live state worth showing on the
// status page and in metrics: worker pools, responders, upstreams. Report
// must be cheap and safe to call from any goroutine while the stage
// serves.
type Reporter interface {
	Report() Report
}

// Report is a snapshot of one stage's live state.
type Report struct {
	// Kind is the module's name, e.g. "wsgi_script_alias".
	Kind string `json:"kind"`
	// Target says what the stage runs: a script, an app, a responder's
	// address.
	Target string `json:"target"`
	// Workers is the pool of processes or threads, when the stage has one.
	Workers *PoolReport `json:"workers,omitempty"`
	// Upstreams are the servers the stage passes requests to, when it
	// has any.
	Upstreams []UpstreamReport `json:"upstreams,omitempty"`
}

// PoolReport counts a worker pool's capacity and what happened to it.
type PoolReport struct {
	Busy     int    `json:"busy"`     // requests being served now
	Idle     int    `json:"idle"`     // capacity free now
	Queued   int    `json:"queued"`   // requests waiting for capacity
	Max      int    `json:"max"`      // capacity (processes × threads, or a limit)
	Restarts uint64 `json:"restarts"` // workers replaced on purpose (max_requests, reload)
	Crashes  uint64 `json:"crashes"`  // workers that died unasked
	Timeouts uint64 `json:"timeouts"` // requests stopped by a timeout
	// QueueWait is the total time requests spent waiting for capacity.
	QueueWait time.Duration `json:"queue_wait_ns"`
}

// UpstreamReport is the state of one upstream server or responder.
type UpstreamReport struct {
	Address   string `json:"address"`
	Healthy   bool   `json:"healthy"`
	Active    int    `json:"active"`     // requests in flight to it
	Requests  uint64 `json:"requests"`   // requests sent to it
	Failures  uint64 `json:"failures"`   // failed connections or answers
	LastError string `json:"last_error"` // "" when none
}

// Explainer is implemented by stages that can say what they would do
// with a request without serving it, for httpd explain. It runs on a
// decoded module that was never provisioned: it must use only what
// Decode and Validate set, and touch nothing but the file system.
type Explainer interface {
	// Explain describes what the stage does with r. For a PhaseMount
	// stage m is what the router matched; for others it is zero.
	Explain(r *http.Request, m Mount) Explanation
}

// Explanation is one step of an explained request.
type Explanation struct {
	// Says, in a sentence a newcomer understands, what the stage does
	// with the request ("passes it to the WSGI app wsgi/hello.wsgi in
	// 2 processes × 8 threads").
	Says string
	// Status is the status the stage answers with, when that can be known
	// without running anything; 0 otherwise.
	Status int
	// Ends reports that the stage answers the request itself: the walk
	// stops here.
	Ends bool
	// Path, when set, is a new path the request continues with from the
	// start of the pipeline (an internal rewrite).
	Path string
}
