package h1_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// blocked is a handler that waits for its request's context to end,
// reporting on started when it runs and on ended why it stopped.
func blocked(started chan<- struct{}, ended chan<- error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			ended <- r.Context().Err()
		case <-time.After(10 * time.Second):
			ended <- errors.New("context not canceled within 10s")
		}
	}
}

// TestCloseCancelsRequests: when Close ends connections whose handlers
// still run (the shutdown deadline has passed), their requests'
// contexts are canceled, on either transport.
func TestCloseCancelsRequests(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			started, ended := make(chan struct{}, 1), make(chan error, 1)
			s := startOn(tr, startEngine)(t, blocked(started, ended), config{})
			c, err := dialAddr(s.addr, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			<-started
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if err := s.shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Shutdown with a handler running: %v", err)
			}
			go s.close()
			select {
			case err := <-ended:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("handler ended with %v, want context.Canceled", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the handler still runs 5s after Close")
			}
		})
	}
}

// TestClientGoneOverTLS: over TLS, a client that resets the connection
// cancels its request's context; one that sends close_notify (TLS's
// half-close, SPEC §9) has not gone away and keeps it.
func TestClientGoneOverTLS(t *testing.T) {
	for _, tt := range []struct {
		name string
		end  func(c *tls.Conn) error
		gone bool
	}{
		{"reset", func(c *tls.Conn) error {
			if err := c.NetConn().(*net.TCPConn).SetLinger(0); err != nil {
				return err
			}
			return c.NetConn().Close()
		}, true},
		{"close_notify", func(c *tls.Conn) error { return c.CloseWrite() }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			started, ended := make(chan struct{}, 1), make(chan error, 1)
			h := func(w http.ResponseWriter, r *http.Request) {
				started <- struct{}{}
				select {
				case <-r.Context().Done():
					ended <- r.Context().Err()
				case <-time.After(500 * time.Millisecond):
					ended <- nil
					io.WriteString(w, "still here")
				}
			}
			s := startOn("tls", startEngine)(t, http.HandlerFunc(h), config{})
			nc, err := dialAddr(s.addr, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c := nc.(*tls.Conn)
			defer c.Close()
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			<-started
			if err := tt.end(c); err != nil {
				t.Fatal(err)
			}
			var got error
			select {
			case got = <-ended:
			case <-time.After(5 * time.Second):
				t.Fatal("the handler did not end")
			}
			if gone := got != nil; gone != tt.gone {
				t.Errorf("context error %v, want canceled = %v", got, tt.gone)
			}
			if !tt.gone {
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				b, _ := io.ReadAll(c)
				if !strings.Contains(string(b), "still here") {
					t.Errorf("after close_notify the answer was %q", b)
				}
			}
		})
	}
}
