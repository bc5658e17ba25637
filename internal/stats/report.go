package stats

import (
	"fmt"
	"math"
	"time"

	"httpd/registry"
)

// Report is everything the status page shows, at one moment. Its JSON
// form is the page's ?format=json.
type Report struct {
	Now           time.Time `json:"now"`
	Started       time.Time `json:"started"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	Uptime        string    `json:"uptime"` // like "3d 4h 5m"

	Generation uint64    `json:"generation"`
	Loaded     time.Time `json:"loaded"`
	ConfigFile string    `json:"config_file"`

	Requests  uint64 `json:"requests"`   // since start
	Errors5xx uint64 `json:"errors_5xx"` // since start
	// RequestsPerSecond and ErrorsPerSecond are averages over the
	// seconds of Seconds.
	RequestsPerSecond float64  `json:"requests_per_second"`
	ErrorsPerSecond   float64  `json:"errors_5xx_per_second"`
	Seconds           []Second `json:"seconds"` // the last minute, oldest first

	Conns  Conns         `json:"connections"`
	VHosts []VHostReport `json:"vhosts"`
}

// VHostReport is one vhost on the status page.
type VHostReport struct {
	Name      string        `json:"name"`
	Aliases   []string      `json:"aliases"`
	Listeners []Listener    `json:"listeners"`
	TLS       string        `json:"tls"`
	Cert      *CertReport   `json:"certificate,omitempty"`
	Requests  uint64        `json:"requests"`
	Errors5xx uint64        `json:"errors_5xx"`
	Mounts    []MountReport `json:"mounts"`
}

// CertReport is a vhost's certificate, or why it could not be read.
type CertReport struct {
	Cert
	DaysLeft int    `json:"days_left"`
	Error    string `json:"error,omitempty"`
}

// MountReport is one mount of a vhost: its traffic and, for gateways,
// its live state.
type MountReport struct {
	Kind          string  `json:"kind"`
	Prefix        string  `json:"prefix"`
	Requests      uint64  `json:"requests"`
	Errors5xx     uint64  `json:"errors_5xx"`
	BytesIn       uint64  `json:"bytes_in"`
	BytesOut      uint64  `json:"bytes_out"`
	MeanLatencyMs float64 `json:"mean_latency_ms"`
	// State is what the mount's Reporter says; nil for mounts without
	// live state.
	State *registry.Report `json:"state,omitempty"`
}

// Report gathers the report at now.
func (s *Server) Report(now time.Time) *Report {
	r := &Report{Now: now, Started: s.Started}
	up := now.Sub(s.Started)
	r.UptimeSeconds = up.Seconds()
	r.Uptime = Human(up)
	r.Requests, r.Errors5xx = s.Totals()
	r.Seconds = s.Ring()
	if n := len(r.Seconds); n > 0 {
		var req, errs uint64
		for _, sec := range r.Seconds {
			req += sec.Requests
			errs += sec.Errors
		}
		r.RequestsPerSecond = float64(req) / float64(n)
		r.ErrorsPerSecond = float64(errs) / float64(n)
	}
	r.Conns = s.Conns()
	snaps := map[Key]Snapshot{}
	s.Each(func(k Key, c *Counters) { snaps[k] = c.Snapshot() })
	g := s.Generation()
	if g == nil {
		return r
	}
	r.Generation, r.Loaded, r.ConfigFile = g.Number, g.Loaded, g.File
	for _, v := range g.VHosts {
		vr := VHostReport{Name: v.Name, Aliases: v.Aliases, Listeners: v.Listeners, TLS: v.TLS}
		if vr.Aliases == nil {
			vr.Aliases = []string{}
		}
		if v.Cert != nil {
			vr.Cert = certReport(v.Cert, now)
		}
		for k, sn := range snaps {
			if k.VHost == v.Name {
				vr.Requests += sn.Total()
				vr.Errors5xx += sn.Class(NumClasses - 1)
			}
		}
		for _, m := range v.Mounts {
			mr := MountReport{Kind: m.Kind, Prefix: m.Prefix}
			if sn, ok := snaps[Key{VHost: v.Name, Mount: m.Prefix}]; ok {
				mr.Requests = sn.Total()
				mr.Errors5xx = sn.Class(NumClasses - 1)
				mr.BytesIn, mr.BytesOut = sn.BytesIn, sn.BytesOut
				if mr.Requests > 0 {
					mr.MeanLatencyMs = math.Round(sn.Sum.Seconds()*1e6/float64(mr.Requests)) / 1000
				}
			}
			if m.Reporter != nil {
				rep := m.Reporter.Report()
				mr.State = &rep
			}
			vr.Mounts = append(vr.Mounts, mr)
		}
		if vr.Mounts == nil {
			vr.Mounts = []MountReport{}
		}
		r.VHosts = append(r.VHosts, vr)
	}
	return r
}

func certReport(get func() (*Cert, error), now time.Time) *CertReport {
	c, err := get()
	if err != nil {
		return &CertReport{Error: err.Error()}
	}
	return &CertReport{Cert: *c, DaysLeft: int(math.Floor(c.NotAfter.Sub(now).Hours() / 24))}
}

// Human writes a duration the way a person reads an uptime: "42s",
// "5m 3s", "4h 5m", "3d 4h".
func Human(d time.Duration) string {
	d = d.Round(time.Second)
	days := int(d / (24 * time.Hour))
	h := int(d/time.Hour) % 24
	m := int(d/time.Minute) % 60
	sec := int(d/time.Second) % 60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh", days, h)
	case h > 0:
		return fmt.Sprintf("%dh %dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm %ds", m, sec)
	}
	return fmt.Sprintf("%ds", sec)
}
