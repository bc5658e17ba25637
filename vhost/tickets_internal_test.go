package vhost

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"httpd/conf"
)

// flakySource gives keys until it is told to fail.
type flakySource struct {
	n    byte
	fail bool
}

func (f *flakySource) TicketKeys(context.Context, time.Duration, int) ([][32]byte, time.Duration, error) {
	if f.fail {
		return nil, 0, errors.New("storage down")
	}
	f.n++
	return [][32]byte{{f.n}}, time.Hour, nil
}

// TestTicketKeysSourceDown: when the source fails, the keys held stay on
// the configs and the error says why.
func TestTicketKeysSourceDown(t *testing.T) {
	var tk ticketKeys
	defer tk.stop()
	tk.opening(conf.ServerTLS{SessionTickets: true, TicketRotation: time.Hour}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	src := &flakySource{}
	cfg := &tls.Config{}
	tk.register(cfg, src)
	if len(tk.keys) != 1 || tk.keys[0][0] != 1 {
		t.Fatalf("keys after register: %v", tk.keys)
	}
	src.fail = true
	tk.mu.Lock()
	err := tk.refreshLocked(context.Background())
	tk.mu.Unlock()
	if err == nil {
		t.Fatal("a failing source gave no error")
	}
	if len(tk.keys) != 1 || tk.keys[0][0] != 1 {
		t.Errorf("keys after a failure: %v", tk.keys)
	}
	src.fail = false
	tk.mu.Lock()
	err = tk.refreshLocked(context.Background())
	tk.mu.Unlock()
	if err != nil || tk.keys[0][0] != 2 {
		t.Errorf("after the source came back: %v, %v", err, tk.keys)
	}
	runtime.KeepAlive(cfg)
}

// TestTicketKeysDropClosedConfigs: the config of a listener that is gone
// is dropped at the next refresh; live ones stay.
func TestTicketKeysDropClosedConfigs(t *testing.T) {
	var tk ticketKeys
	defer tk.stop()
	tk.opening(conf.ServerTLS{SessionTickets: true, TicketRotation: time.Hour}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	src := &flakySource{}
	live := &tls.Config{}
	tk.register(live, src)
	tk.register(&tls.Config{}, src)
	if len(tk.configs) != 2 {
		t.Fatalf("%d configs", len(tk.configs))
	}
	runtime.GC()
	tk.mu.Lock()
	err := tk.refreshLocked(context.Background())
	n := len(tk.configs)
	tk.mu.Unlock()
	if err != nil || n != 1 {
		t.Errorf("after a GC and a refresh: %d configs, %v", n, err)
	}
	runtime.KeepAlive(live)
}
