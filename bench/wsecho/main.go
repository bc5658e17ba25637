// Command wsecho is the WebSocket side of bench/proxy/run.sh: with -serve
// it is an echo server (every message comes back as it was sent, on any
// path); with -url it is the load generator: -c connections, each sending
// a 64-byte text message and waiting for its echo before the next, for
// -d. It prints messages/s (echoes received) and the 99th percentile of
// the round trip in milliseconds.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"
)

func main() {
	serve := flag.String("serve", "", "serve echo on this address")
	url := flag.String("url", "", "WebSocket URL to load")
	conns := flag.Int("c", 50, "connections")
	dur := flag.Duration("d", 5*time.Second, "duration")
	flag.Parse()
	switch {
	case *serve != "":
		log.Fatal(http.ListenAndServe(*serve, http.HandlerFunc(echo)))
	case *url != "":
		if err := load(*url, *conns, *dur); err != nil {
			fmt.Fprintln(os.Stderr, "wsecho:", err)
			os.Exit(1)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
}

func echo(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		if err := c.Write(ctx, typ, msg); err != nil {
			return
		}
	}
}

func load(url string, n int, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d+10*time.Second)
	defer cancel()
	msg := bytes.Repeat([]byte("x"), 64)
	var (
		mu    sync.Mutex
		lat   []time.Duration
		first error
		wg    sync.WaitGroup
	)
	start := make(chan struct{})
	for range n {
		c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return fmt.Errorf("dial %s: %w", url, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.CloseNow()
			<-start
			end := time.Now().Add(d)
			var mine []time.Duration
			for time.Now().Before(end) {
				t := time.Now()
				if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
					mu.Lock()
					first = cmpErr(first, err)
					mu.Unlock()
					break
				}
				if _, got, err := c.Read(ctx); err != nil || len(got) != len(msg) {
					mu.Lock()
					first = cmpErr(first, fmt.Errorf("read echo: %v (%d bytes)", err, len(got)))
					mu.Unlock()
					break
				}
				mine = append(mine, time.Since(t))
			}
			c.Close(websocket.StatusNormalClosure, "")
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	el := time.Since(t0)
	if first != nil {
		return first
	}
	if len(lat) == 0 {
		return fmt.Errorf("no echo came back")
	}
	slices.Sort(lat)
	p99 := lat[len(lat)*99/100]
	fmt.Printf("messages/s %.0f\np99_ms %.3f\n", float64(len(lat))/el.Seconds(), float64(p99.Microseconds())/1000)
	return nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
