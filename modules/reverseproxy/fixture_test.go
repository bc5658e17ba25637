package reverseproxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"httpd/internal/forwarded"
	"httpd/internal/gateway/gatewaytest"
	"httpd/internal/testutil"
	"httpd/registry"
)

// fixture is a reverse_proxy block served the way a vhost serves it.
type fixture struct {
	t     *testing.T
	m     *Module
	h     registry.Handler
	srv   *httptest.Server
	log   *testutil.SyncBuffer
	trust *forwarded.Trusted
	kill  chan struct{}
	// maxBody, when set, limits request bodies as
	// server.limits.max_body_bytes does.
	maxBody int64

	mu      sync.Mutex
	lastErr error
}

// newFixture provisions a reverse_proxy block with body under prefix;
// trusted lists server.trusted_proxies.
func newFixture(t *testing.T, prefix, body string, trusted ...string) *fixture {
	t.Helper()
	f := &fixture{t: t, log: &testutil.SyncBuffer{}, kill: make(chan struct{})}
	var ps []netip.Prefix
	for _, c := range trusted {
		p, err := forwarded.ParsePrefix(c)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	f.trust = forwarded.NewTrusted(ps)
	m, diags := decode(t, prefix, body)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	logger := slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env := &registry.Env{Logger: logger, VHost: "test", ServerSoftware: "httpd/test", Kill: f.kill}
	if err := m.Provision(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Cleanup(); err != nil {
			t.Error(err)
		}
	})
	f.m = m
	f.h = testutil.Mounted(prefix, m.Wrap(nil), registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return registry.Errorf(http.StatusNotFound, "outside the mount")
	}))
	f.srv = httptest.NewServer(http.HandlerFunc(f.dispatch))
	t.Cleanup(f.srv.Close)
	return f
}

// dispatch serves r as a vhost does: trusted proxies first, then an
// error before the response began becomes its status, one after cuts
// the connection.
func (f *fixture) dispatch(w http.ResponseWriter, r *http.Request) {
	r = f.trust.Rewrite(r)
	if f.maxBody > 0 {
		r.Body = http.MaxBytesReader(w, r.Body, f.maxBody)
	}
	tw := &gatewaytest.TrackingWriter{ResponseWriter: w}
	err := f.h.ServeHTTP(tw, r)
	if err == nil {
		return
	}
	f.mu.Lock()
	f.lastErr = err
	f.mu.Unlock()
	f.log.Write([]byte("request failed: " + err.Error() + "\n"))
	if tw.Wrote {
		panic(http.ErrAbortHandler)
	}
	w.WriteHeader(registry.StatusOf(err))
}

func (f *fixture) lastError() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastErr
}

// do sends req and returns the response with its body read.
func (f *fixture) do(req *http.Request) (*http.Response, string) {
	f.t.Helper()
	return gatewaytest.Do(f.t, nil, req)
}

func (f *fixture) get(path string) (*http.Response, string) {
	f.t.Helper()
	return f.do(gatewaytest.NewRequest(f.t, "GET", f.srv.URL+path, nil))
}

// seen is what the echo upstream reports about a request.
type seen struct {
	Name    string
	Method  string
	URI     string
	Host    string
	Header  http.Header
	BodyLen int
}

// echo is an upstream named name that answers with what it was sent,
// as JSON.
func echo(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(echoHandler(name))
	t.Cleanup(s.Close)
	return s
}

func echoHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Upstream", name)
		json.NewEncoder(w).Encode(seen{Name: name, Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header, BodyLen: int(n)})
	})
}

// seenBy decodes an echo upstream's answer.
func (f *fixture) seenBy(req *http.Request) seen {
	f.t.Helper()
	resp, body := f.do(req)
	if resp.StatusCode != 200 {
		f.t.Fatalf("status %d: %s (%v)\n%s", resp.StatusCode, body, f.lastError(), f.log.String())
	}
	var s seen
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		f.t.Fatalf("%v: %s", err, body)
	}
	return s
}

// refusingAddr is an address nothing listens on.
func refusingAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// toList renders upstream URLs as an HCL list.
func toList(urls ...string) string {
	q := make([]string, len(urls))
	for i, u := range urls {
		q[i] = fmt.Sprintf("%q", u)
	}
	return "to = [" + strings.Join(q, ", ") + "]"
}

// eventually polls cond for a few seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
