package reverseproxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// checkHealth runs the active health checks until ctx ends or kill is
// closed: every upstream at once, right away and then every interval.
// An upstream whose check fails is out of rotation until one passes.
func (m *Module) checkHealth(ctx context.Context, kill <-chan struct{}) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-kill:
			cancel()
		case <-ctx.Done():
		}
	}()
	client := &http.Client{
		Transport: m.transport,
		Timeout:   m.Health.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is an answer
		},
	}
	t := time.NewTicker(m.Health.Interval)
	defer t.Stop()
	for {
		var wg sync.WaitGroup
		for _, u := range m.upstreams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m.checkOne(ctx, client, u)
			}()
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkOne checks one upstream and logs when its state changes.
func (m *Module) checkOne(ctx context.Context, client *http.Client, u *upstream) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.scheme+"://"+u.host+u.rawPath+m.Health.Path, nil)
	if err != nil {
		return
	}
	req.Host = u.hostHeader
	req.Header.Set("User-Agent", "httpd-health-check")
	resp, err := client.Do(req)
	if ctx.Err() != nil {
		return // stopping: the result means nothing
	}
	var reason string
	switch {
	case err != nil:
		reason = err.Error()
	case !m.healthy(resp.StatusCode):
		reason = fmt.Sprintf("%s answered %d", m.Health.Path, resp.StatusCode)
	}
	if err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
	if !u.setHealthy(reason == "", reason) {
		return
	}
	if reason != "" {
		m.log.Warn("upstream failed its health check; out of rotation", "upstream", u.to, "err", reason)
	} else {
		m.log.Info("upstream passed its health check; back in rotation", "upstream", u.to)
	}
}

// healthy reports whether a check's status counts as healthy:
// expect_status, or any 2xx and 3xx.
func (m *Module) healthy(status int) bool {
	if m.Health.ExpectStatus != 0 {
		return status == m.Health.ExpectStatus
	}
	return status >= 200 && status < 400
}
