package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitFile waits until the file at path holds substr.
func waitFile(t *testing.T, path, substr string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), substr) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has no %q:\n%s", path, substr, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLogsToFiles: logs go to the files the config names, and SIGHUP
// reopens them, so a rotated log (renamed away) is followed by a new file.
func TestLogsToFiles(t *testing.T) {
	t.Parallel()
	h := NewHarness(t)
	h.Write("htdocs/a.txt", "a\n", 0o644)
	h.Write("logs/.keep", "", 0o644)
	srv := h.StartErrorLog(`
log {
  access = "logs/access.log"
  format = "json"
  error  = "logs/error.log"
}
vhost "localhost" {
  listen        = ["127.0.0.1:0"]
  document_root = "htdocs"
}
`, "logs/error.log")
	access := filepath.Join(h.Dir, "logs/access.log")

	coreGet(t, nil, srv.Addr, "localhost", "/a.txt")
	line := strings.TrimSpace(waitFile(t, access, `"uri":"/a.txt"`))
	var rec struct {
		Status int    `json:"status"`
		VHost  string `json:"vhost"`
		Method string `json:"method"`
	}
	if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Status != 200 || rec.VHost != "localhost" || rec.Method != "GET" {
		t.Errorf("access line %q: %+v %v", line, rec, err)
	}
	if strings.Contains(srv.Stdout(), "/a.txt") || strings.Contains(srv.Stderr(), "httpd started") {
		t.Errorf("logs also went to stdout or stderr:\n%s\n%s", srv.Stdout(), srv.Stderr())
	}

	// Rotate: rename both logs away, SIGHUP, and the next lines go to new files.
	for _, n := range []string{"access.log", "error.log"} {
		if err := os.Rename(filepath.Join(h.Dir, "logs", n), filepath.Join(h.Dir, "logs", n+".1")); err != nil {
			t.Fatal(err)
		}
	}
	srv.Signal(syscall.SIGHUP)
	waitFile(t, filepath.Join(h.Dir, "logs/error.log"), "config reloaded")
	coreGet(t, nil, srv.Addr, "localhost", "/a.txt?after")
	waitFile(t, access, `"uri":"/a.txt?after"`)
	if old, _ := os.ReadFile(access + ".1"); strings.Contains(string(old), "after") {
		t.Errorf("the rotated access log got a line after SIGHUP:\n%s", old)
	}
	srv.Stop()
}

// TestDropPrivileges: with server.user set, httpd binds as root, then runs
// as that user, owns data_dir, and still serves.
func TestDropPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("dropping privileges needs root; CI runs as root")
	}
	t.Parallel()
	h := NewHarness(t)
	h.Write("htdocs/a.txt", "as nobody\n", 0o644)
	if err := os.Chmod(filepath.Join(h.Dir, "htdocs"), 0o755); err != nil {
		t.Fatal(err)
	}
	srv := h.Start(`
server {
  data_dir = "var"
  user     = "nobody"
}
vhost "localhost" {
  listen        = ["127.0.0.1:0"]
  document_root = "htdocs"
}
`)
	status, err := os.ReadFile("/proc/" + strconv.Itoa(srv.Pid()) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var uids []string
	for _, l := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(l, "Uid:"); ok {
			uids = strings.Fields(rest)
		}
	}
	if len(uids) != 4 || uids[0] != "65534" || uids[1] != "65534" || uids[2] != "65534" {
		t.Errorf("Uid line %v, want real, effective and saved uid 65534", uids)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(h.Dir, "var"), &st); err != nil || st.Uid != 65534 {
		t.Errorf("data_dir owner %d (%v), want 65534", st.Uid, err)
	}
	resp, body := coreGet(t, nil, srv.Addr, "localhost", "/a.txt")
	if resp.StatusCode != 200 || body != "as nobody\n" {
		t.Errorf("GET /a.txt: %d %q", resp.StatusCode, body)
	}
	srv.Stop()
}
