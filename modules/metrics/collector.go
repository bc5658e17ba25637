package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"httpd/internal/stats"
)

// NoMount is the mount label of requests that no mount served: the
// vhost's document_root, or its 404. Mount prefixes start with "/", so
// it names no mount.
const NoMount = "none"

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	pool = []string{"vhost", "mount", "kind"}
	up   = []string{"vhost", "mount", "upstream"}

	descRequests  = desc("httpd_requests_total", "Requests answered, by vhost, mount prefix, method and status class.", "vhost", "mount", "method", "code_class")
	descDuration  = desc("httpd_request_duration_seconds", "Time from a request's head to the end of its answer.", "vhost", "mount")
	descBytesIn   = desc("httpd_request_body_bytes_total", "Request body bytes read.", "vhost", "mount")
	descBytesOut  = desc("httpd_response_body_bytes_total", "Response body bytes written.", "vhost", "mount")
	descConns     = desc("httpd_connections", "Open client connections by state: active (serving a request; every HTTP/2 connection), idle (keep-alive), tls_handshake.", "state")
	descBusy      = desc("httpd_pool_busy", "Workers (or slots, or connections) of a gateway mount serving a request now.", pool...)
	descIdle      = desc("httpd_pool_idle", "Workers of a gateway mount free now.", pool...)
	descQueued    = desc("httpd_pool_queued", "Requests waiting for a worker of a gateway mount.", pool...)
	descMax       = desc("httpd_pool_max", "Capacity of a gateway mount's pool.", pool...)
	descRestarts  = desc("httpd_pool_restarts_total", "Workers replaced on purpose (max_requests, reload).", pool...)
	descCrashes   = desc("httpd_pool_crashes_total", "Workers that exited unasked.", pool...)
	descTimeouts  = desc("httpd_pool_timeouts_total", "Requests stopped by a timeout.", pool...)
	descQueueWait = desc("httpd_pool_queue_wait_seconds_total", "Time requests spent waiting for a worker.", pool...)
	descUpHealthy = desc("httpd_upstream_healthy", "1 when the upstream takes requests, 0 when it is out of rotation.", up...)
	descUpActive  = desc("httpd_upstream_active", "Requests in flight to the upstream.", up...)
	descUpReqs    = desc("httpd_upstream_requests_total", "Requests sent to the upstream.", up...)
	descUpFails   = desc("httpd_upstream_failures_total", "Failed connections or answers of the upstream.", up...)
	descCertLeft  = desc("httpd_certificate_expiry_seconds", "Seconds until the vhost's certificate expires (negative once expired).", "vhost", "name", "issuer")
	descCertNA    = desc("httpd_certificate_not_after_timestamp_seconds", "When the vhost's certificate expires, in Unix seconds.", "vhost", "name", "issuer")
	descGen       = desc("httpd_config_generation", "Number of the running config generation: 1 at start, one more per reload.")
	descLoaded    = desc("httpd_config_load_timestamp_seconds", "When the running config was loaded, in Unix seconds.")
	descStarted   = desc("httpd_start_time_seconds", "When the server started, in Unix seconds.")
)

var all = []*prometheus.Desc{descRequests, descDuration, descBytesIn, descBytesOut, descConns,
	descBusy, descIdle, descQueued, descMax, descRestarts, descCrashes, descTimeouts, descQueueWait,
	descUpHealthy, descUpActive, descUpReqs, descUpFails, descCertLeft, descCertNA, descGen, descLoaded, descStarted}

// Collector reads a server's live state when scraped.
type Collector struct {
	s   *stats.Server
	now func() time.Time
}

// NewCollector returns the collector of s.
func NewCollector(s *stats.Server) *Collector { return &Collector{s: s, now: time.Now} }

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range all {
		ch <- d
	}
}

// Collect sends the metrics of the moment.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counter, gauge := prometheus.CounterValue, prometheus.GaugeValue
	ch <- prometheus.MustNewConstMetric(descStarted, gauge, float64(c.s.Started.UnixNano())/1e9)
	c.s.Each(func(k stats.Key, ctr *stats.Counters) {
		mount := k.Mount
		if mount == "" {
			mount = NoMount
		}
		sn := ctr.Snapshot()
		for m := range sn.Requests {
			for cl := range sn.Requests[m] {
				if n := sn.Requests[m][cl]; n > 0 {
					ch <- prometheus.MustNewConstMetric(descRequests, counter, float64(n), k.VHost, mount, stats.Methods[m], stats.Classes[cl])
				}
			}
		}
		buckets := make(map[float64]uint64, len(stats.Buckets))
		var cum uint64
		for i, le := range stats.Buckets {
			cum += sn.Buckets[i]
			buckets[le] = cum
		}
		count := cum + sn.Buckets[len(stats.Buckets)]
		ch <- prometheus.MustNewConstHistogram(descDuration, count, sn.Sum.Seconds(), buckets, k.VHost, mount)
		ch <- prometheus.MustNewConstMetric(descBytesIn, counter, float64(sn.BytesIn), k.VHost, mount)
		ch <- prometheus.MustNewConstMetric(descBytesOut, counter, float64(sn.BytesOut), k.VHost, mount)
	})
	cs := c.s.Conns()
	ch <- prometheus.MustNewConstMetric(descConns, gauge, float64(cs.Active), "active")
	ch <- prometheus.MustNewConstMetric(descConns, gauge, float64(cs.Idle), "idle")
	ch <- prometheus.MustNewConstMetric(descConns, gauge, float64(cs.Handshake), "tls_handshake")

	g := c.s.Generation()
	if g == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descGen, gauge, float64(g.Number))
	ch <- prometheus.MustNewConstMetric(descLoaded, gauge, float64(g.Loaded.UnixNano())/1e9)
	now := c.now()
	// Two vhost blocks may share a name on different listeners: each
	// series goes out once, from the first.
	seen := map[[3]string]bool{}
	once := func(a, b, c string) bool {
		k := [3]string{a, b, c}
		if seen[k] {
			return false
		}
		seen[k] = true
		return true
	}
	for _, v := range g.VHosts {
		if v.Cert != nil {
			if cert, err := v.Cert(); err == nil && once("cert", v.Name, cert.Subject+"\x00"+cert.Issuer) {
				ch <- prometheus.MustNewConstMetric(descCertLeft, gauge, cert.NotAfter.Sub(now).Seconds(), v.Name, cert.Subject, cert.Issuer)
				ch <- prometheus.MustNewConstMetric(descCertNA, gauge, float64(cert.NotAfter.Unix()), v.Name, cert.Subject, cert.Issuer)
			}
		}
		for _, mt := range v.Mounts {
			if mt.Reporter == nil || !once("mount", v.Name, mt.Prefix) {
				continue
			}
			rep := mt.Reporter.Report()
			if p := rep.Workers; p != nil {
				l := []string{v.Name, mt.Prefix, mt.Kind}
				ch <- prometheus.MustNewConstMetric(descBusy, gauge, float64(p.Busy), l...)
				ch <- prometheus.MustNewConstMetric(descIdle, gauge, float64(p.Idle), l...)
				ch <- prometheus.MustNewConstMetric(descQueued, gauge, float64(p.Queued), l...)
				ch <- prometheus.MustNewConstMetric(descMax, gauge, float64(p.Max), l...)
				ch <- prometheus.MustNewConstMetric(descRestarts, counter, float64(p.Restarts), l...)
				ch <- prometheus.MustNewConstMetric(descCrashes, counter, float64(p.Crashes), l...)
				ch <- prometheus.MustNewConstMetric(descTimeouts, counter, float64(p.Timeouts), l...)
				ch <- prometheus.MustNewConstMetric(descQueueWait, counter, p.QueueWait.Seconds(), l...)
			}
			for _, u := range rep.Upstreams {
				if !once("upstream", v.Name+"\x00"+mt.Prefix, u.Address) {
					continue // the same address twice in to
				}
				l := []string{v.Name, mt.Prefix, u.Address}
				healthy := 0.0
				if u.Healthy {
					healthy = 1
				}
				ch <- prometheus.MustNewConstMetric(descUpHealthy, gauge, healthy, l...)
				ch <- prometheus.MustNewConstMetric(descUpActive, gauge, float64(u.Active), l...)
				ch <- prometheus.MustNewConstMetric(descUpReqs, counter, float64(u.Requests), l...)
				ch <- prometheus.MustNewConstMetric(descUpFails, counter, float64(u.Failures), l...)
			}
		}
	}
}

var _ prometheus.Collector = (*Collector)(nil)
