package conf_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"httpd/conf"
	_ "httpd/modules/alias"
	_ "httpd/modules/static"
)

var update = flag.Bool("update", false, "rewrite conf/testdata/*.golden from the current diagnostics")

// diagText renders diagnostics one per line as "file:line:col: summary:
// detail", the form the error log uses, with the absolute testdata folder
// replaced by $DIR so the golden files do not depend on the checkout.
func diagText(t *testing.T, diags hcl.Diagnostics) string {
	t.Helper()
	abs, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, d := range diags {
		sev := ""
		if d.Severity == hcl.DiagWarning {
			sev = "warning: "
		}
		line := sev + d.Summary
		if d.Detail != "" {
			line += ": " + d.Detail
		}
		if d.Subject != nil {
			line = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, line)
		}
		b.WriteString(strings.ReplaceAll(line, abs, "$DIR"))
		b.WriteByte('\n')
	}
	return b.String()
}

// TestConfDiagGolden loads every testdata/*.hcl and compares its
// diagnostics with testdata/*.golden. Run with -update to rewrite them.
func TestConfDiagGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".hcl")
		t.Run(name, func(t *testing.T) {
			_, diags := conf.Load(file)
			got := diagText(t, diags)
			golden := strings.TrimSuffix(file, ".hcl") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./conf -run Golden -update)", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics of %s differ from %s\n--- got\n%s--- want\n%s", file, golden, got, want)
			}
			if name == "good" && diags.HasErrors() {
				t.Errorf("good.hcl has errors")
			}
			if name != "good" && !diags.HasErrors() {
				t.Errorf("%s has no errors: every testdata file but good.hcl shows one", file)
			}
			for _, d := range diags {
				if d.Subject == nil && name != "missing_server_root" {
					t.Errorf("diagnostic %q has no file:line:col", d.Summary)
				}
			}
		})
	}
}
