package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"httpd/conf"
)

// TestLogsErrorFormat checks that a logger derived with With before the
// format changes follows it, and that each format writes its lines.
func TestLogsErrorFormat(t *testing.T) {
	file := filepath.Join(t.TempDir(), "error.log")
	l := newLogs(os.Stderr)
	defer l.close()
	derived := l.logger.With("vhost", "a.test")
	for _, tc := range []struct {
		format string
		check  func(line string) bool
	}{
		{"text", func(line string) bool { return strings.Contains(line, `level=INFO msg=hello vhost=a.test n=1`) }},
		{"json", func(line string) bool {
			var rec map[string]any
			return json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "hello" && rec["vhost"] == "a.test" && rec["n"] == float64(1)
		}},
		{"text", func(line string) bool { return strings.Contains(line, `msg=hello vhost=a.test`) }},
	} {
		if err := l.apply(conf.Log{Error: file, Level: "info", ErrorFormat: tc.format}); err != nil {
			t.Fatal(err)
		}
		derived.Info("hello", "n", 1)
		derived.Debug("not at info")
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if last := lines[len(lines)-1]; !tc.check(last) || strings.Contains(string(b), "not at info") {
			t.Errorf("error_format %s: log is\n%s", tc.format, b)
		}
	}
}
