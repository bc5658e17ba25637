package reverseproxy

import (
	"strings"
	"time"

	"httpd/registry"
)

// Report gives the state of each upstream for the status page and
// metrics: healthy (neither out after failures nor failing its active
// check), requests in flight and sent, failures and the last one.
func (m *Module) Report() registry.Report {
	rep := registry.Report{Kind: "reverse_proxy", Target: strings.Join(m.To, ", ")}
	now := time.Now()
	for _, u := range m.upstreams {
		u.mu.Lock()
		last := u.lastErr
		u.mu.Unlock()
		rep.Upstreams = append(rep.Upstreams, registry.UpstreamReport{
			Address:   u.to,
			Healthy:   u.available(now),
			Active:    int(u.inflight.Load()),
			Requests:  u.requests.Load(),
			Failures:  u.failures.Load(),
			LastError: last,
		})
	}
	return rep
}

var _ registry.Reporter = (*Module)(nil)
