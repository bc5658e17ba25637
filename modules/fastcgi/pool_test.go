package fastcgi

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"httpd/internal/testutil"
)

// TestFastCGIQueuesForBusyWorkers sends requests from more clients than
// the responder has workers, as a site under load does: the requests
// wait for kept connections to come back instead of each opening one that
// waits in the responder's backlog.
func TestFastCGIQueuesForBusyWorkers(t *testing.T) {
	const workers, clients, each = 2, 16, 25
	p := newWorkerPeer(t, workers, func(req *rawRequest, w io.Writer) bool {
		w.Write(reply("Content-Type: text/plain\r\n\r\nok"))
		return true
	})
	f := newFixture(t, phpSite(t), fmt.Sprintf("to = %q\ntimeout = \"20s\"", p.to))
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range each {
				resp, err := client.Get(f.srv.URL + "/info.php")
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(b) != "ok" {
					errs <- fmt.Errorf("%d %q (%v)", resp.StatusCode, b, f.lastError())
					return
				}
			}
			errs <- nil
		})
	}
	for range clients {
		if err := testutil.Recv(t, errs, 30*time.Second, "a client's requests"); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	// The first burst opens one connection per client; after that they
	// are used again, but for a few opened when none came back in time
	// (a test run with -race has pauses). Before, nearly every request
	// opened one.
	if n := p.accepted(); n > clients*each/2 {
		t.Errorf("%d requests took %d connections to %d workers", clients*each, n, workers)
	}
	r := f.m.pool.resp
	r.mu.Lock()
	proven, open := r.proven, r.open
	r.mu.Unlock()
	// What it learned may be off by a little after the first burst (a
	// worker freed for one new connection can take another); what it
	// holds at the end may not be.
	if proven < 1 || open > workers+1 {
		t.Errorf("the responder holds %d connections and learned %d workers, has %d", open, proven, workers)
	}
}

// TestFastCGIOpensForLongRequests has every kept connection busy with a
// request that does not end: a new request must not wait for one of them
// but open a connection of its own, which the responder's idle workers
// take.
func TestFastCGIOpensForLongRequests(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 8)
	p := newWorkerPeer(t, 8, func(req *rawRequest, w io.Writer) bool {
		if req.params["SCRIPT_NAME"] == "/slow.php" {
			started <- struct{}{}
			<-release
		}
		w.Write(reply("Content-Type: text/plain\r\n\r\nok"))
		return true
	})
	root := phpSite(t)
	writeFile(t, root, "slow.php", "")
	f := newFixture(t, root, fmt.Sprintf("to = %q\ntimeout = \"20s\"", p.to))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(release)
	// Two workers proven and kept, then both held by long requests.
	for range 2 {
		if resp, _ := f.get("/info.php"); resp.StatusCode != 200 {
			t.Fatal(resp.Status)
		}
	}
	for range 3 {
		wg.Go(func() { f.get("/slow.php") })
		testutil.Recv(t, started, 10*time.Second, "a long request at the responder")
	}
	for i := range 4 {
		start := time.Now()
		if resp, got := f.get("/info.php"); resp.StatusCode != 200 || got != "ok" {
			t.Fatalf("request %d beside long ones: %d %q (%v)", i, resp.StatusCode, got, f.lastError())
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("request %d beside long ones took %v", i, d)
		}
	}
}
