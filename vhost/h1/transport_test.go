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

	"httpd/vhost/h1"
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

// TestH2CHandOver: with Server.H2C set, the HTTP/2 preface and a
// bodiless HTTP/1.1 request upgrading to h2c hand the connection over
// (the latter after a 101); a request with a body, an HTTP/1.0 one, or
// one without HTTP2-Settings is served as HTTP/1.1.
func TestH2CHandOver(t *testing.T) {
	type handed struct {
		upgrade  *http.Request
		settings []byte
		first    string
	}
	got := make(chan handed, 1)
	ln := listen(t)
	s := &h1.Server{
		Handler: http.HandlerFunc(echo),
		H2C: func(c net.Conn, upgrade *http.Request, settings []byte) {
			defer c.Close()
			b := make([]byte, len("PRI * HTTP/2.0\r\n"))
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, _ := io.ReadFull(c, b)
			got <- handed{upgrade, settings, string(b[:n])}
		},
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	upgrade := "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n"
	for _, tt := range []struct {
		name, send, want string
		handed           bool
	}{
		{"preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "", true},
		{"upgrade", "GET /u HTTP/1.1\r\nHost: a\r\n" + upgrade + "\r\nPRI * HTTP/2.0\r\n", "HTTP/1.1 101 Switching Protocols\r\n", true},
		{"upgrade with a body", "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n" + upgrade + "\r\nx", "HTTP/1.1 200 OK\r\n", false},
		{"HTTP/1.0 upgrade", "GET /u HTTP/1.0\r\nHost: a\r\n" + upgrade + "\r\n", "HTTP/1.0 200 OK\r\n", false},
		{"no settings", "GET /u HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n", "HTTP/1.1 200 OK\r\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, tt.send); err != nil {
				t.Fatal(err)
			}
			if tt.want != "" {
				b := make([]byte, len(tt.want))
				if _, err := io.ReadFull(c, b); err != nil || string(b) != tt.want {
					t.Fatalf("answer %q (%v), want %q", b, err, tt.want)
				}
			}
			if !tt.handed {
				select {
				case h := <-got:
					t.Fatalf("handed over: %+v", h)
				default:
				}
				return
			}
			select {
			case h := <-got:
				if h.first != "PRI * HTTP/2.0\r\n" {
					t.Errorf("the new owner read %q first", h.first)
				}
				if tt.name == "upgrade" && (h.upgrade == nil || h.upgrade.URL.Path != "/u" || string(h.settings) != "\x00\x03\x00\x00\x00\x64") {
					t.Errorf("upgrade handed as %+v, settings %q", h.upgrade, h.settings)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("not handed over")
			}
		})
	}
}
