package tests

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestVHostAccessLogWholeAcrossReloads: under load, with the config
// reloaded (and the access log reopened) again and again, every line of
// the access log is whole (SPEC §10). Long lines fill the buffers
// often, which is when a line could be cut.
func TestVHostAccessLogWholeAcrossReloads(t *testing.T) {
	const (
		reloads  = 20
		clients  = 8
		minTotal = 20000
	)
	h := NewHarness(t)
	h.Write("htdocs/index.html", "index\n", 0o644)
	srv := h.Start(`
server {
  listen = ["127.0.0.1:0"]
}
log {
  access = "access.log"
  format = "combined"
  level  = "info"
}
vhost "localhost" {
  default       = true
  document_root = "htdocs"
}
`)
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	agent := "load/1.0 " + strings.Repeat("a", 300)
	var sent atomic.Int64
	var failed atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", srv.URL(fmt.Sprintf("/index.html?c=%d&n=%d&pad=%s", i, n, strings.Repeat("p", 200+n%1500))), nil)
				req.Header.Set("User-Agent", agent)
				resp, err := client.Do(req)
				if err != nil {
					failed.CompareAndSwap(nil, err.Error())
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				sent.Add(1)
			}
		})
	}
	var stopOnce sync.Once
	stopLoad := func() {
		stopOnce.Do(func() { close(stop) })
		wg.Wait()
	}
	defer stopLoad()
	// waitSent waits until n requests have been answered, failing after
	// a bound.
	waitSent := func(n int64) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); sent.Load() < n; time.Sleep(5 * time.Millisecond) {
			if err := failed.Load(); err != nil {
				t.Fatalf("request failed: %v", err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d requests answered within 60s, want %d", sent.Load(), n)
			}
		}
	}
	for i := 1; i <= reloads; i++ {
		waitSent(int64(i) * minTotal / (reloads + 1))
		srv.Signal(syscall.SIGHUP)
		for deadline := time.Now().Add(10 * time.Second); strings.Count(srv.Stderr(), `msg="config reloaded"`) < i; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("reload %d not done within 10s:\n%s", i, srv.Stderr())
			}
		}
	}
	waitSent(minTotal)
	stopLoad()
	srv.Stop() // flushes the log
	b, err := os.ReadFile(filepath.Join(h.Dir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^127\.0\.0\.1 - - \[[^]]+\] "GET /index\.html\?c=\d+&n=\d+&pad=p+ HTTP/1\.1" 200 6 "-" "load/1\.0 a+"$`)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	bad := 0
	for _, l := range lines {
		if !line.MatchString(l) {
			if bad < 3 {
				t.Errorf("torn line: %.300q", l)
			}
			bad++
		}
	}
	if bad > 0 || int64(len(lines)) != sent.Load() {
		t.Errorf("%d of %d lines torn; %d requests answered", bad, len(lines), sent.Load())
	}
}
