package tests

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"httpd/internal/stats"
)

// chromiumPath finds Debian's chromium, or ends the test: it fails when
// chromium is missing but could be installed (apt-get install chromium;
// .ci/run does), and is skipped only where no chromium package exists.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("HTTPD_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	out, err := exec.Command("apt-cache", "policy", "chromium").Output()
	if err != nil || !strings.Contains(string(out), "Candidate:") || strings.Contains(string(out), "Candidate: (none)") {
		t.Skipf("chromium is not installed and this system has no chromium package to install (apt-cache policy chromium: %v): "+
			"the status page is not checked in a browser", err)
	}
	t.Fatal("chromium is not installed: run `apt-get install chromium` (.ci/run installs it), or set HTTPD_CHROMIUM to a chromium binary")
	return ""
}

// chromium runs headless chromium with args and returns its standard
// output. It gets a throwaway profile, and its whole process group is
// killed when it overruns its time.
func chromium(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
		"--hide-scrollbars", "--force-device-scale-factor=1", "--user-data-dir=" + t.TempDir()}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("chromium %s: no result within 60s\n%s", args, stderr.String())
		}
		t.Fatalf("chromium %s: %v\n%s", args, err, stderr.String())
	}
	return string(out)
}

// screenshot saves a PNG of url at the window size w×h as name under
// dir, and copies it to $HTTPD_SCREENSHOTS when that is set.
func screenshot(t *testing.T, bin, dir, name, url string, w, h int) {
	t.Helper()
	file := filepath.Join(dir, name)
	chromium(t, bin, "--screenshot="+file, "--window-size="+strconv.Itoa(w)+","+strconv.Itoa(h), url)
	png, err := os.ReadFile(file)
	if err != nil || len(png) < 1000 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot %s: %d bytes, %v", file, len(png), err)
	}
	t.Logf("screenshot of %s at %dx%d: %s", url, w, h, file)
	if out := os.Getenv("HTTPD_SCREENSHOTS"); out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("copied to %s", filepath.Join(out, name))
	}
}

// TestChromium looks at the status page and a directory listing in a
// real browser: the rendered DOM holds the vhosts, the mounts and the
// numbers, and screenshots at desktop and phone widths are kept.
func TestChromium(t *testing.T) {
	bin := chromiumPath(t)
	s := startOps(t)
	s.traffic(t, 4)
	s.waitReport(t, 10*time.Second, "traffic sampled", func(r *stats.Report) bool { return r.RequestsPerSecond > 0 })

	dom := chromium(t, bin, "--dump-dom", s.URL("/server-status"))
	for _, want := range []string{"Server status", "ops.test", "secure.test", "/cgi-bin/", "/app", "/api/", "/server-status",
		"CGI", "WSGI", "Proxy", "httpd local CA", "days left", "<svg", "<polyline"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered status page lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`id="requests">(\d+)<`).FindStringSubmatch(dom); m == nil {
		t.Error("the rendered status page has no request count")
	} else if n, _ := strconv.Atoi(m[1]); n < 16 {
		t.Errorf("the status page counts %d requests, want at least the 16 sent", n)
	}
	if m := regexp.MustCompile(`id="rps">([0-9.]+)<`).FindStringSubmatch(dom); m == nil || m[1] == "0.00" {
		t.Errorf("requests/s on the page: %v, want a rate above 0", m)
	}
	if !regexp.MustCompile(`<dt>Max</dt><dd>4</dd>`).MatchString(dom) {
		t.Error("the WSGI pool's max of 4 is not on the page")
	}

	listing := chromium(t, bin, "--dump-dom", s.URL("/files/"))
	for _, want := range []string{"readme.txt", "data.csv"} {
		if !strings.Contains(listing, want) {
			t.Errorf("the rendered listing of /files/ lacks %q", want)
		}
	}

	dir := t.TempDir()
	screenshot(t, bin, dir, "status.png", s.URL("/server-status"), 1280, 1000)
	screenshot(t, bin, dir, "status-phone.png", s.URL("/server-status"), 390, 1800)
	screenshot(t, bin, dir, "listing.png", s.URL("/files/"), 1280, 600)
	screenshot(t, bin, dir, "listing-phone.png", s.URL("/files/"), 390, 800)
}
