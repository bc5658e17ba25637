// Command report turns the benchmark's results.tsv into Markdown tables:
// per scenario the median, min and max of each server over the rounds,
// the spread and the ratio httpd/peer, then the targets.
//
// Each line of the input is
//
//	scenario <TAB> server <TAB> round <TAB> value <TAB> unit <TAB> description
//
// where units "MiB" (memory) and "ms" (latency) mean lower is better and
// anything else (req/s, MB/s) higher is better. A value of "-" is a
// failed run.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

type cell struct {
	vals   []float64
	failed int
}

type scenario struct {
	name, unit, desc string
	servers          []string
	cells            map[string]*cell
}

// target is a ratio httpd/peer to reach, or with peer "" an absolute
// bound on httpd's own value.
type target struct {
	scenario, peer string
	want           float64
}

var targets = []target{
	{"1k-50", "nginx", 1.0}, {"1k-50", "caddy", 3.0},
	{"1k-256", "nginx", 1.0}, {"1k-256", "caddy", 3.0},
	{"10m", "nginx", 1.0},
	{"404", "nginx", 1.0},
	{"h2", "caddy", 1.0}, {"h2", "nginx", 0.8},
	{"idle", "", 50},
}

func main() {
	base := flag.String("base", "httpd", "the server the ratios are for")
	flag.Parse()
	var in io.Reader = os.Stdin
	if flag.NArg() > 0 {
		f, err := os.Open(flag.Arg(0))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer f.Close()
		in = f
	}
	scs, err := read(in)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	write(os.Stdout, scs, *base)
}

func read(in io.Reader) ([]*scenario, error) {
	var scs []*scenario
	byName := map[string]*scenario{}
	sc := bufio.NewScanner(in)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		f := strings.Split(t, "\t")
		if len(f) < 5 {
			return nil, fmt.Errorf("line %d: want 5 or 6 tab-separated fields, got %d", line, len(f))
		}
		s := byName[f[0]]
		if s == nil {
			s = &scenario{name: f[0], unit: f[4], cells: map[string]*cell{}}
			if len(f) > 5 {
				s.desc = f[5]
			}
			byName[f[0]] = s
			scs = append(scs, s)
		}
		c := s.cells[f[1]]
		if c == nil {
			c = &cell{}
			s.cells[f[1]] = c
			s.servers = append(s.servers, f[1])
		}
		v, err := strconv.ParseFloat(f[3], 64)
		if err != nil {
			c.failed++
			continue
		}
		c.vals = append(c.vals, v)
	}
	return scs, sc.Err()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func num(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func write(w io.Writer, scs []*scenario, base string) {
	med := map[[2]string]float64{}
	for _, s := range scs {
		title := s.name
		if s.desc != "" {
			title += ": " + s.desc
		}
		lower := s.unit == "MiB" || s.unit == "ms"
		better := "higher is better"
		if lower {
			better = "lower is better"
		}
		fmt.Fprintf(w, "### %s (%s, %s)\n\n", title, s.unit, better)
		fmt.Fprintf(w, "| server | median | min | max | spread | rounds | %s/server |\n|---|---:|---:|---:|---:|---:|---:|\n", base)
		servers := slices.Clone(s.servers)
		slices.SortStableFunc(servers, func(a, b string) int {
			switch {
			case a == base:
				return -1
			case b == base:
				return 1
			}
			return 0
		})
		bc := s.cells[base]
		var bm float64
		if bc != nil && len(bc.vals) > 0 {
			bm = median(bc.vals)
		}
		for _, name := range servers {
			c := s.cells[name]
			if len(c.vals) == 0 {
				fmt.Fprintf(w, "| %s | failed | | | | 0/%d | |\n", name, c.failed)
				continue
			}
			m := median(c.vals)
			med[[2]string{s.name, name}] = m
			lo, hi := slices.Min(c.vals), slices.Max(c.vals)
			spread := "-"
			if m > 0 {
				spread = fmt.Sprintf("±%.0f%%", 50*(hi-lo)/m)
			}
			ratio := ""
			if name != base && bm > 0 && m > 0 {
				ratio = fmt.Sprintf("%.2f×", bm/m)
			}
			rounds := strconv.Itoa(len(c.vals))
			if c.failed > 0 {
				rounds = fmt.Sprintf("%d/%d", len(c.vals), len(c.vals)+c.failed)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", name, num(m), num(lo), num(hi), spread, rounds, ratio)
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintf(w, "### Targets\n\n| scenario | target | measured | met |\n|---|---|---:|---|\n")
	for _, t := range targets {
		bm, ok := med[[2]string{t.scenario, base}]
		if !ok {
			continue
		}
		if t.peer == "" {
			fmt.Fprintf(w, "| %s | %s ≤ %s MiB | %s MiB | %s |\n", t.scenario, base, num(t.want), num(bm), yes(bm <= t.want))
			continue
		}
		pm, ok := med[[2]string{t.scenario, t.peer}]
		if !ok || pm == 0 {
			continue
		}
		r := bm / pm
		fmt.Fprintf(w, "| %s | ≥ %.1f× %s | %.2f× | %s |\n", t.scenario, t.want, t.peer, r, yes(r >= t.want))
	}
	fmt.Fprintln(w)
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
