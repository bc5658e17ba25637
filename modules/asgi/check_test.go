package asgi

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// TestCheckImport loads applications in a throwaway worker as httpd -t
// does.
func TestCheckImport(t *testing.T) {
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("this test needs Debian's python3 at %s: %v", python, err)
	}
	dir := t.TempDir()
	appRange := hcl.Range{Filename: "httpd.hcl", Start: hcl.Pos{Line: 3, Column: 9}, End: hcl.Pos{Line: 3, Column: 20}}
	tests := []struct {
		name    string
		src     string // the module's source; "" for none
		app     string // "" for MODULE:app
		timeout time.Duration
		file    string // where the diagnostic points: a file in dir, or "httpd.hcl" (the app attribute); "" for no diagnostic
		line    int
		detail  string
	}{
		{"loads", "async def app(scope, receive, send):\n    pass\n", "", 0, "", 0, ""},
		{"lifespan does not run", "async def app(scope, receive, send):\n    assert scope['type'] != 'lifespan', 'lifespan ran'\n", "", 0, "", 0, ""},
		{"raises", "x = 1\nraise RuntimeError('no database')\n", "", 0, "raises.py", 2, "RuntimeError: no database"},
		{"syntax", "async def app(scope:\n", "", 0, "syntax.py", 1, "SyntaxError"},
		{"no module", "", "no_such_module_here:app", 0, "httpd.hcl", 3, "ModuleNotFoundError: No module named 'no_such_module_here'"},
		{"no attribute", "application = None\n", "", 0, "httpd.hcl", 3, "AttributeError: module 'no_attribute' has no attribute 'app'"},
		{"not callable", "app = 42\n", "", 0, "httpd.hcl", 3, "TypeError: app is not callable but int 42"},
		{"exits", "import os\nos._exit(7)\n", "", 0, "", 0, "the worker exited without reporting (exit status 7)"},
		{"hangs", "import time\ntime.sleep(60)\n", "", 500 * time.Millisecond, "", 0, "did not finish loading within the check's time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mod := strings.ReplaceAll(tc.name, " ", "_")
			if tc.src != "" {
				if err := os.WriteFile(filepath.Join(dir, mod+".py"), []byte(tc.src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			app := tc.app
			if app == "" {
				app = mod + ":app"
			}
			m := &Module{Prefix: "/api", App: app, Python: python, PythonPath: []string{dir}, Processes: 1,
				Lifespan: "on", AppRange: appRange, DefRange: appRange, dir: dir}
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
			if tc.file != "" {
				want := filepath.Join(dir, tc.file)
				if tc.file == "httpd.hcl" {
					want = tc.file
				}
				if d.Subject == nil || d.Subject.Filename != want || d.Subject.Start.Line != tc.line {
					t.Errorf("diagnostic at %v, want %s:%d", d.Subject, want, tc.line)
				}
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
