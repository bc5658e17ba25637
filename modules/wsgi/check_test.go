package wsgi

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCheckImport loads scripts in a throwaway worker as httpd -t does.
func TestCheckImport(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		src     string
		timeout time.Duration
		file    string // "" for no diagnostic
		line    int
		detail  string
	}{
		{"loads", "def application(e, s):\n    return []\n", 0, "", 0, ""},
		{"raises", "x = 1\nraise RuntimeError('no database')\n", 0, "raises.wsgi", 2, "RuntimeError: no database"},
		{"syntax", "def application(:\n", 0, "syntax.wsgi", 1, "SyntaxError"},
		{"no callable", "app = 1\n", 0, "", 0, "defines no callable named 'application'"},
		{"exits", "import os\nos._exit(7)\n", 0, "", 0, "the worker exited without reporting (exit status 7)"},
		{"hangs", "import time\ntime.sleep(60)\n", 500 * time.Millisecond, "", 0, "did not finish loading within the check's time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			script := write(tc.name+".wsgi", tc.src)
			m := &Module{Prefix: "/app", Script: script, Callable: DefaultCallable, Python: python, Processes: 1, Threads: 4}
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			start := time.Now()
			diags := m.CheckImport(ctx)
			if tc.detail == "" {
				if len(diags) != 0 {
					t.Fatalf("CheckImport: %v", diags)
				}
				return
			}
			if len(diags) != 1 {
				t.Fatalf("CheckImport: %d diagnostics, want 1: %v", len(diags), diags)
			}
			d := diags[0]
			if !strings.Contains(d.Summary+": "+d.Detail, tc.detail) {
				t.Errorf("diagnostic %q: %q lacks %q", d.Summary, d.Detail, tc.detail)
			}
			if tc.file != "" && (d.Subject == nil || d.Subject.Filename != filepath.Join(dir, tc.file) || d.Subject.Start.Line != tc.line) {
				t.Errorf("diagnostic at %v, want %s:%d", d.Subject, tc.file, tc.line)
			}
			if strings.Contains(d.Detail, "<stdin>") {
				t.Errorf("detail shows the worker's own frames: %s", d.Detail)
			}
			if tc.timeout > 0 && time.Since(start) > tc.timeout+3*time.Second {
				t.Errorf("CheckImport took %s past a %s limit", time.Since(start), tc.timeout)
			}
		})
	}
}
