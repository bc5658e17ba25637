package vhost_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestH2specListeners runs the h2spec conformance suite in strict mode
// against real listeners: a TLS one, where the listener does the
// handshake and ALPN hands the connection to vhost/h2, and a plain one
// with h2c, where vhost/h1 sees the preface and hands it over. Every
// case must pass on both, H2SPEC_LISTENER_RUNS times in a row (default
// 20, which takes about 30s under -race on two cores: a flaky case, such
// as one racing the answer against a stream error, shows up in CI).
func TestH2specListeners(t *testing.T) {
	if testing.Short() {
		t.Skip("h2spec runs for several seconds")
	}
	runs := 20
	if n, err := strconv.Atoi(os.Getenv("H2SPEC_LISTENER_RUNS")); err == nil && n > 0 {
		runs = n
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("h2spec runs through the go command: %v", err)
	}
	bctx, bcancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer bcancel()
	if out, err := exec.CommandContext(bctx, goCmd, "tool", "h2spec", "--version").CombinedOutput(); err != nil {
		t.Fatalf("building h2spec: %v\n%s", err, out)
	}
	ts := newTLSServer(t)
	ts.writeCert("a", "a.test", "127.0.0.1")
	ts.start(`
vhost "a.test" {
  listen = ["https://127.0.0.1:0"]
  tls {
    cert = "a.crt"
    key  = "a.key"
  }
  tls_echo {}
}
vhost "h2c.test" {
  listen = ["127.0.0.2:0"]
  h2c    = true
  tls_echo {}
}
`)
	for i := range runs {
		for _, l := range []struct {
			name, addr string
			tls        bool
		}{
			{"tls", ts.addr("127.0.0.1:0"), true},
			{"h2c", ts.addr("127.0.0.2:0"), false},
		} {
			if failed := h2spec(t, goCmd, l.addr, l.tls); failed != "" {
				t.Fatalf("%s, run %d of %d:\n%s", l.name, i+1, runs, failed)
			}
		}
	}
	t.Logf("h2spec: %d runs on TLS and on h2c, every case passed", runs)
}

// h2spec runs h2spec strictly once against addr and returns its failed
// cases, or "" if all passed.
func h2spec(t *testing.T, goCmd, addr string, useTLS bool) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	report := filepath.Join(t.TempDir(), "h2spec.xml")
	args := []string{"tool", "h2spec", "-h", host, "-p", port, "-S", "-o", "2", "-j", report}
	if useTLS {
		args = append(args, "-t", "-k")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run() // exits 1 when a case fails
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("h2spec wrote no report (run: %v): %v\n%s", runErr, err, out.String())
	}
	var rep struct {
		Suites []struct {
			Package string `xml:"package,attr"`
			Cases   []struct {
				Desc    string `xml:"classname,attr"`
				Failure *struct {
					Content string `xml:",innerxml"`
				} `xml:"failure"`
				Error *struct {
					Content string `xml:",innerxml"`
				} `xml:"error"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &rep); err != nil {
		t.Fatalf("parsing the report: %v", err)
	}
	var ran int
	var failed []string
	for _, s := range rep.Suites {
		for i, c := range s.Cases {
			ran++
			switch {
			case c.Failure != nil:
				failed = append(failed, fmt.Sprintf("%s/%d %s: %s", s.Package, i+1, c.Desc, strings.Join(strings.Fields(c.Failure.Content), " ")))
			case c.Error != nil:
				failed = append(failed, fmt.Sprintf("%s/%d %s: %s", s.Package, i+1, c.Desc, strings.Join(strings.Fields(c.Error.Content), " ")))
			case c.Skipped != nil:
				failed = append(failed, fmt.Sprintf("%s/%d %s: skipped", s.Package, i+1, c.Desc))
			}
		}
	}
	if ran != 146 {
		failed = append(failed, fmt.Sprintf("%d cases ran, want 146 (run: %v)\n%s", ran, runErr, out.String()))
	}
	return strings.Join(failed, "\n")
}
