package main

import (
	"strings"
	"testing"
)

// TestWriteDirection: each unit's table says which way is better, and the
// medians, failed rounds and ratios come out of the rounds given.
func TestWriteDirection(t *testing.T) {
	tsv := strings.Join([]string{
		"1k-50\thttpd\t1\t90\treq/s\t1 KiB",
		"1k-50\thttpd\t2\t110\treq/s\t1 KiB",
		"1k-50\tnginx\t1\t80\treq/s\t1 KiB",
		"1k-50\tnginx\t2\t-\treq/s\t1 KiB",
		"1k-50-p99\thttpd\t1\t2.0\tms\tp99",
		"1k-50-p99\tnginx\t1\t1.0\tms\tp99",
		"idle\thttpd\t1\t40\tMiB\tidle",
	}, "\n")
	scs, err := read(strings.NewReader(tsv))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	write(&b, scs, "httpd")
	out := b.String()
	for _, want := range []string{
		"### 1k-50: 1 KiB (req/s, higher is better)",
		"| httpd | 100 | 90.0 | 110 | ±10% | 2 |  |",
		"| nginx | 80.0 | 80.0 | 80.0 | ±0% | 1/2 | 1.25× |",
		"### 1k-50-p99: p99 (ms, lower is better)",
		"| nginx | 1.00 | 1.00 | 1.00 | ±0% | 1 | 2.00× |",
		"### idle: idle (MiB, lower is better)",
		"| 1k-50 | ≥ 1.0× nginx | 1.25× | yes |",
		"| idle | httpd ≤ 50.0 MiB | 40.0 MiB | yes |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// TestReadRejectsShortLines: a line without its unit is an error.
func TestReadRejectsShortLines(t *testing.T) {
	if _, err := read(strings.NewReader("1k-50\thttpd\t1\t90\n")); err == nil {
		t.Fatal("no error for a line of 4 fields")
	}
}

// TestWriteRatios: the ratio table leads with h2o and nginx whatever the
// order of the input, says n/a for a scenario a peer cannot do, and marks
// with † a ratio that rests on a failed or warned round.
func TestWriteRatios(t *testing.T) {
	tsv := strings.Join([]string{
		"h2c\thttpd\t1\t100\treq/s\th2c",
		"h2c\tcaddy\t1\t50\treq/s\th2c",
		"h2c\tgofs\t1\tn/a\treq/s\th2c\tno h2c",
		"h2c\tnginx\t1\t200\treq/s\th2c",
		"h2c\th2o\t1\t400\treq/s\th2c",
		"tls-resume-13\thttpd\t1\t90\tconn/s\tresume\tresumed 99.0%",
		"tls-resume-13\th2o\t1\t-\tconn/s\tresume\t!NOT RESUMED: 0.0% resumed",
		"tls-resume-13\tnginx\t1\t100\tconn/s\tresume\tresumed 98.0%;!client-bound",
		"idle-tls\thttpd\t1\t120\tMiB\tidle",
		"idle-tls\tnginx\t1\t100\tMiB\tidle",
	}, "\n")
	scs, err := read(strings.NewReader(tsv))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	write(&b, scs, "httpd")
	out := b.String()
	for _, want := range []string{
		"| scenario | unit | httpd | httpd/h2o | httpd/nginx | httpd/caddy | httpd/gofs |",
		"| h2c | req/s | 100 | 0.25× | 0.50× | 2.00× | n/a |",
		"| tls-resume-13 | conn/s | 90.0 | failed † | 0.90× † |  |  |",
		"| idle-tls | MiB, lower is better | 120 |  | 1.20× |  |  |",
		"| gofs | n/a | | | | | | no h2c |",
		"| h2o | failed | | | | 0/1 | | **NOT RESUMED: 0.0% resumed** |",
		"| nginx | 100 | 100 | 100 | ±0% | 1 | 0.90× | resumed 98.0%; **client-bound** |",
		"| idle-tls | ≤ 1.5× nginx | 1.20× | yes |",
		"† some rounds failed or carry a warning",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// A scenario without notes keeps the table without a notes column.
	if !strings.Contains(out, "| httpd | 120 | 120 | 120 | ±0% | 1 |  |\n") {
		t.Errorf("idle-tls table has a notes column:\n%s", out)
	}
}
