package vhost

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestKillAfter: children are killed at the shutdown's deadline, but no
// sooner than killGrace after cleanup begins.
func TestKillAfter(t *testing.T) {
	tests := []struct {
		name     string
		deadline time.Duration // from now; negative when already past
		min, max time.Duration // when Kill may close
	}{
		{"deadline passed", -time.Second, killGrace, killGrace + time.Second},
		{"deadline soon", killGrace / 5, killGrace, killGrace + time.Second},
		{"deadline later", 3 * killGrace, 3 * killGrace, 3*killGrace + time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
			kill := s.baseEnv().Kill
			ctx, cancel := context.WithTimeout(context.Background(), tt.deadline)
			defer cancel()
			start := time.Now()
			stop := s.killAfter(ctx)
			defer stop()
			select {
			case <-kill:
			case <-time.After(tt.max):
				t.Fatalf("Kill still open after %v", tt.max)
			}
			if d := time.Since(start); d < tt.min {
				t.Errorf("Kill closed after %v, before %v", d, tt.min)
			}
		})
	}
	t.Run("stop", func(t *testing.T) {
		s := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
		stop := s.killAfter(context.Background())
		stop()
		select {
		case <-s.baseEnv().Kill:
		default:
			t.Error("Kill still open after stop")
		}
	})
}
