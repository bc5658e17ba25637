package stats

import (
	"sync/atomic"
	"time"
)

// Methods are the request methods counted by name; any other counts as
// "OTHER", so that a client cannot make up label values.
var Methods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "OTHER"}

// NumMethods is len(Methods).
const NumMethods = len(Methods)

// Classes are the status classes counted: 1xx to 5xx.
var Classes = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// NumClasses is len(Classes).
const NumClasses = len(Classes)

// Buckets are the upper bounds, in seconds, of the request latency
// histogram; a last, implicit bucket is +Inf.
var Buckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// bucketNs are Buckets in nanoseconds.
var bucketNs = func() (b [len(Buckets)]int64) {
	for i, s := range Buckets {
		b[i] = int64(s * 1e9)
	}
	return b
}()

// MethodIndex is the index in Methods of method m.
func MethodIndex(m string) int {
	switch m {
	case "GET":
		return 0
	case "HEAD":
		return 1
	case "POST":
		return 2
	case "PUT":
		return 3
	case "DELETE":
		return 4
	case "PATCH":
		return 5
	case "OPTIONS":
		return 6
	case "CONNECT":
		return 7
	case "TRACE":
		return 8
	}
	return NumMethods - 1
}

// ClassIndex is the index in Classes of a status; statuses outside
// 100–599 count as 5xx, the server's fault.
func ClassIndex(status int) int {
	c := status/100 - 1
	if c < 0 || c >= NumClasses {
		return NumClasses - 1
	}
	return c
}

// Counters are the traffic of one mount of one vhost (or of what its
// document_root serves). They only grow, across reloads too. All methods
// are safe for concurrent use; Observe allocates nothing.
type Counters struct {
	requests [NumMethods][NumClasses]atomic.Uint64
	buckets  [len(Buckets) + 1]atomic.Uint64
	sumNs    atomic.Int64
	bytesIn  atomic.Uint64
	bytesOut atomic.Uint64
	// errors counts 5xx answers, and total every request, for the ring.
	total   *atomic.Uint64
	errors5 *atomic.Uint64
}

// Observe counts one finished request: its method, status, time taken,
// and body bytes read and written.
// A nil *Counters counts nothing.
func (c *Counters) Observe(method string, status int, d time.Duration, in, out int64) {
	if c == nil {
		return
	}
	cl := ClassIndex(status)
	c.requests[MethodIndex(method)][cl].Add(1)
	ns := int64(d)
	i := 0
	for i < len(bucketNs) && ns > bucketNs[i] {
		i++
	}
	c.buckets[i].Add(1)
	c.sumNs.Add(ns)
	if in > 0 {
		c.bytesIn.Add(uint64(in))
	}
	if out > 0 {
		c.bytesOut.Add(uint64(out))
	}
	if c.total != nil {
		c.total.Add(1)
		if cl == NumClasses-1 {
			c.errors5.Add(1)
		}
	}
}

// Snapshot is a copy of Counters at one moment.
type Snapshot struct {
	// Requests counts requests by method and status class (indexes of
	// Methods and Classes).
	Requests [NumMethods][NumClasses]uint64
	// Buckets counts requests by latency: Buckets[i] those that took at
	// most Buckets[i] seconds and more than the bucket before; the last
	// one those above every bound. Not cumulative.
	Buckets  [len(Buckets) + 1]uint64
	Sum      time.Duration // time taken by all requests
	BytesIn  uint64
	BytesOut uint64
}

// Snapshot copies the counters. Each number is read atomically; the
// numbers are not one consistent cut while requests run.
func (c *Counters) Snapshot() Snapshot {
	var s Snapshot
	for m := range c.requests {
		for k := range c.requests[m] {
			s.Requests[m][k] = c.requests[m][k].Load()
		}
	}
	for i := range c.buckets {
		s.Buckets[i] = c.buckets[i].Load()
	}
	s.Sum = time.Duration(c.sumNs.Load())
	s.BytesIn = c.bytesIn.Load()
	s.BytesOut = c.bytesOut.Load()
	return s
}

// Total is the number of requests counted.
func (s *Snapshot) Total() uint64 {
	var n uint64
	for m := range s.Requests {
		for k := range s.Requests[m] {
			n += s.Requests[m][k]
		}
	}
	return n
}

// Class is the number of requests answered with status class k (an
// index of Classes).
func (s *Snapshot) Class(k int) uint64 {
	var n uint64
	for m := range s.Requests {
		n += s.Requests[m][k]
	}
	return n
}
