package tests

import (
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestErrorLogJSON switches a running server's error log to
// error_format = "json" with a reload and checks that from then on
// every line is one slog JSON object, with the attributes the text
// lines have (a failed request's vhost, status and method).
func TestErrorLogJSON(t *testing.T) {
	h := NewHarness(t)
	h.Write("htdocs/index.html", "hi\n", 0o644)
	config := func(format string) string {
		return `server {
  listen = ["127.0.0.1:0"]
}
log {
  access       = "off"
  level        = "debug"
  error_format = "` + format + `"
}
vhost "j.test" {
  document_root = "htdocs"
}
`
	}
	srv := h.Start(config("text"))
	h.Write("httpd.hcl", config("json"), 0o644)
	srv.Signal(syscall.SIGHUP)
	srv.WaitStderr(`"msg":"reload done"`, 10*time.Second)
	resp, err := http.Get(srv.URL("/missing.txt"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("GET /missing.txt: %d, want 404", resp.StatusCode)
	}
	srv.WaitStderr(`"msg":"request failed"`, 10*time.Second)
	srv.Stop()

	text, after, ok := strings.Cut(srv.Stderr(), "msg=\"reloading config\"")
	if !ok || !strings.Contains(text, "level=INFO msg=\"httpd started\"") {
		t.Fatalf("the text lines before the reload are missing:\n%s", srv.Stderr())
	}
	_, after, _ = strings.Cut(after, "\n")
	var failed map[string]any
	lines := strings.Split(strings.TrimSpace(after), "\n")
	for _, line := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("error log line after the switch to json is no JSON object: %v\n%s", err, line)
			continue
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("JSON line lacks %q: %s", k, line)
			}
		}
		if rec["msg"] == "request failed" {
			failed = rec
		}
	}
	if failed == nil {
		t.Fatalf("no JSON request failed line:\n%s", after)
	}
	if failed["vhost"] != "j.test" || failed["status"] != float64(404) || failed["method"] != "GET" || failed["uri"] != "/missing.txt" {
		t.Errorf("request failed line = %v; want vhost j.test, status 404, method GET, uri /missing.txt", failed)
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, `"msg":"stopped"`) {
		t.Errorf("last line %q, want the JSON stopped line", last)
	}
}
