package h2_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"httpd/vhost/h2"
)

// h2specReport is the part of h2spec's JUnit report the test reads.
type h2specReport struct {
	Suites []struct {
		Package string `xml:"package,attr"` // e.g. "http2/6.5.3"
		Cases   []struct {
			Desc    string    `xml:"classname,attr"`
			Failure *inner    `xml:"failure"`
			Error   *inner    `xml:"error"`
			Skipped *struct{} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

type inner struct {
	Content string `xml:",innerxml"`
}

// h2specAllowed are h2spec cases the engine may fail by design, with the
// reason. There are none.
var h2specAllowed = map[string]string{}

// TestH2spec runs the h2spec conformance suite against the engine over
// TLS and fails listing every failed case.
func TestH2spec(t *testing.T) {
	if testing.Short() {
		t.Skip("h2spec runs for up to a minute")
	}
	runH2spec(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "hello")
	}))
}

// TestH2specAnswerFirst runs h2spec against a handler that answers at
// once without reading the request body, as static does with a 405 for
// a POST: the stream and flow-control errors the cases provoke must be
// found all the same, also once the answer is out. The runs are repeated
// since what goes first, the answer or the error, changes from run to
// run; H2SPEC_RUNS sets how many (more than CI's few, to hunt a flake).
func TestH2specAnswerFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("h2spec runs for up to a minute")
	}
	runs := 3
	if n, err := strconv.Atoi(os.Getenv("H2SPEC_RUNS")); err == nil && n > 0 {
		runs = n
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusMethodNotAllowed)
		io.WriteString(w, "<!DOCTYPE html>\n<html><head><title>405 Method Not Allowed</title></head></html>\n")
	})
	for i := range runs {
		if !runH2spec(t, h) {
			t.Fatalf("run %d of %d failed", i+1, runs)
		}
	}
}

// runH2spec runs h2spec once against h served by the engine over TLS,
// reporting every failed case; it returns whether all passed.
func runH2spec(t *testing.T, h http.Handler) bool {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("h2spec runs through the go command: %v", err)
	}
	cert, _ := testCert(t)
	ts := startServer(t, &h2.Server{}, h, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}})
	_, port, _ := net.SplitHostPort(ts.addr)

	// Build the tool first, so that a cold build cache does not eat the
	// run's time.
	bctx, bcancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer bcancel()
	if out, err := exec.CommandContext(bctx, goCmd, "tool", "h2spec", "--version").CombinedOutput(); err != nil {
		t.Fatalf("building h2spec: %v\n%s", err, out)
	}

	report := filepath.Join(t.TempDir(), "h2spec.xml")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, "tool", "h2spec",
		"-h", "127.0.0.1", "-p", port, "-t", "-k", "-o", "2", "-j", report)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run() // exits 1 when a case fails
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("h2spec wrote no report (run: %v, context: %v): %v\noutput tail:\n%s", runErr, ctx.Err(), err, tail(out.String(), 4000))
	}
	var rep h2specReport
	if err := xml.Unmarshal(data, &rep); err != nil {
		t.Fatalf("parsing the report: %v", err)
	}
	var ran, failed int
	var failures []string
	for _, s := range rep.Suites {
		for i, c := range s.Cases {
			ran++
			msg := ""
			switch {
			case c.Failure != nil:
				msg = c.Failure.Content
			case c.Error != nil:
				msg = c.Error.Content
			default:
				continue
			}
			id := fmt.Sprintf("%s/%d", s.Package, i+1)
			msg = h2specMessage(msg)
			if why, ok := h2specAllowed[id]; ok {
				t.Logf("allowed: %s %s (%s): %s", id, c.Desc, why, msg)
				continue
			}
			failed++
			failures = append(failures, fmt.Sprintf("%s %s: %s", id, c.Desc, msg))
		}
	}
	if ran == 0 {
		t.Fatalf("h2spec ran no case (run: %v)\noutput tail:\n%s", runErr, tail(out.String(), 4000))
	}
	t.Logf("h2spec: %d cases, %d failed", ran, failed)
	if failed > 0 {
		t.Errorf("h2spec: %d of %d cases failed:\n%s", failed, ran, strings.Join(failures, "\n"))
	}
	return failed == 0
}

// h2specMessage puts h2spec's "expected lines, then the actual line" on
// one line.
func h2specMessage(s string) string {
	var lines []string
	for _, l := range strings.Split(html.UnescapeString(s), "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) < 2 {
		return strings.Join(lines, "")
	}
	n := len(lines) - 1
	return "want " + strings.Join(lines[:n], " or ") + "; got " + lines[n]
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
