// Command rate is the constant-rate load generator of the gateway
// benchmarks: it offers -rate requests per second to -url over -c
// keep-alive HTTP/1.1 connections for -d, and prints the latency
// percentiles.
//
// Latency counts from when a request was due, not from when a connection
// was free to send it: when the server falls behind, the requests queue
// here and their wait is part of their latency, as it would be for
// clients arriving on their own (no coordinated omission). That is what
// makes p99 at a fixed offered rate comparable between servers; wrk's
// closed loop measures queueing at saturation instead, and h2load --rps
// prints no percentiles.
//
// A server that closes the connection after a response (Connection:
// close, HTTP/1.0 style, or silently) is reconnected to; the reconnect
// counts in the latency of the next request.
//
// Output, one "name value" per line: requests, errors, offered (req/s),
// achieved (req/s), and p50, p90, p99, p999 and max in milliseconds.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"
)

func main() {
	target := flag.String("url", "", "URL to load (http only)")
	rate := flag.Float64("rate", 1000, "requests per second offered")
	conns := flag.Int("c", 16, "connections")
	dur := flag.Duration("d", 5*time.Second, "duration")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		log.Fatalf("rate: -url %q: want http://host:port/path", *target)
	}
	if *rate <= 0 || *conns <= 0 || *dur <= 0 {
		log.Fatal("rate: -rate, -c and -d must be positive")
	}
	path := u.RequestURI()
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: httpd-bench-rate\r\n\r\n")

	total := int(*rate * dur.Seconds())
	due := make(chan time.Time, total)
	var (
		mu     sync.Mutex
		lats   = make([]time.Duration, 0, total)
		errors int
		wg     sync.WaitGroup
	)
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, total / *conns + 16)
			bad := 0
			var c *client
			for t := range due {
				if c == nil {
					var err error
					c, err = dial(u.Host)
					if err != nil {
						bad++
						continue
					}
				}
				keep, err := c.do(req)
				if err != nil && c.used {
					// A kept connection the server had closed (as
					// uWSGI's --http-socket does after each answer
					// while speaking HTTP/1.1): once more on a new one.
					c.close()
					if c, err = dial(u.Host); err == nil {
						keep, err = c.do(req)
					}
				}
				if err != nil {
					bad++
					if c != nil {
						c.close()
					}
					c = nil
					continue
				}
				mine = append(mine, time.Since(t))
				if !keep {
					c.close()
					c = nil
				}
			}
			if c != nil {
				c.close()
			}
			mu.Lock()
			lats = append(lats, mine...)
			errors += bad
			mu.Unlock()
		}()
	}

	// Send each request when it is due: wake often, and send every
	// request whose time has come with that time as its start.
	interval := time.Duration(float64(time.Second) / *rate)
	start := time.Now()
	for i := 0; i < total; {
		next := start.Add(time.Duration(i) * interval)
		if d := time.Until(next); d > 0 {
			time.Sleep(min(d, time.Millisecond))
			continue
		}
		for i < total {
			at := start.Add(time.Duration(i) * interval)
			if at.After(time.Now()) {
				break
			}
			due <- at
			i++
		}
	}
	close(due)
	wg.Wait()
	elapsed := time.Since(start)

	slices.Sort(lats)
	pct := func(p float64) string {
		if len(lats) == 0 {
			return "0"
		}
		i := min(int(p*float64(len(lats))), len(lats)-1)
		return fmt.Sprintf("%.3f", float64(lats[i])/float64(time.Millisecond))
	}
	fmt.Printf("requests %d\nerrors %d\noffered %.0f\nachieved %.0f\n", len(lats), errors, *rate, float64(len(lats))/elapsed.Seconds())
	fmt.Printf("p50 %s\np90 %s\np99 %s\np999 %s\nmax %s\n", pct(0.50), pct(0.90), pct(0.99), pct(0.999), pct(1))
	if errors > 0 {
		os.Exit(1)
	}
}

type client struct {
	nc   net.Conn
	br   *bufio.Reader
	used bool // a response came on it
}

func dial(addr string) (*client, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &client{nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}, nil
}

// do sends one request and reads its response; keep reports that the
// connection may carry the next.
func (c *client) do(req []byte) (keep bool, err error) {
	if err := c.nc.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return false, err
	}
	if _, err := c.nc.Write(req); err != nil {
		return false, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return false, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, err
	}
	c.used = true
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("status %d", resp.StatusCode)
	}
	return !resp.Close, nil
}

func (c *client) close() { c.nc.Close() }
