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
