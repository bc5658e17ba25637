// Package testutil holds the small helpers that the tests of several
// packages share.
package testutil

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"httpd/registry"
)

// SyncBuffer collects output, such as a server's log, that one goroutine
// writes while the test reads it. It is safe for concurrent use.
type SyncBuffer struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// Close does nothing, so that a SyncBuffer can stand for a log file.
func (b *SyncBuffer) Close() error { return nil }

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// WaitFor polls until what was written holds substr, and fails the test
// if it does not within timeout; what names the output in the failure.
func (b *SyncBuffer) WaitFor(t testing.TB, what, substr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(b.String(), substr) {
		if time.Now().After(deadline) {
			t.Fatalf("%s has no %q after %v:\n%s", what, substr, timeout, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Recv waits up to d for a value on ch and fails the test if none comes;
// what names the value in the failure.
func Recv[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("timed out after %v waiting for %s", d, what)
		panic("unreachable")
	}
}

// ParseBlock parses src, which must hold exactly one HCL block, and
// returns that block; a parse error fails the test. The file is named
// test.hcl in diagnostics.
func ParseBlock(t testing.TB, src string) *hcl.Block {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %s", diags.Error())
	}
	blocks := f.Body.(*hclsyntax.Body).Blocks
	if len(blocks) != 1 {
		t.Fatalf("want one block, got %d", len(blocks))
	}
	return blocks[0].AsHCLBlock()
}

// Mounted routes requests the way a vhost's router does for one mount
// stage: a path under prefix goes to h, which must be a
// registry.MountHandler, with what matched; any other path goes to next.
func Mounted(prefix string, h, next registry.Handler) registry.Handler {
	mh := h.(registry.MountHandler)
	return registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if mt, ok := registry.MatchMount(prefix, r.URL.Path); ok {
			return mh.ServeMount(w, r, mt)
		}
		return next.ServeHTTP(w, r)
	})
}

// WaitUntil polls cond until it holds, failing after five seconds.
func WaitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
