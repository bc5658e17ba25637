// Command report turns the benchmark's results.tsv into Markdown tables:
// first one row per scenario with the ratios httpd/peer (h2o and nginx
// first), then per scenario the median, min and max of each server over
// the rounds, the spread, the ratio and the notes, then the issue's
// targets.
//
// Each line of the input is
//
//	scenario <TAB> server <TAB> round <TAB> value <TAB> unit [<TAB> description [<TAB> notes]]
//
// where units "MiB" (memory) and "ms" (latency) mean lower is better and
// anything else (req/s, conn/s, MiB/s) higher is better. A value of "-"
// is a failed run, "n/a" a scenario the server cannot do. Notes are
// separated by ";" and shown once per server. A note that starts with "!"
// is a warning about the run (say "!NOT RESUMED: 2.0% resumed", or
// "!client-bound"): it is shown in bold, and the server's ratios are
// marked † so that no figure resting on it passes unnoticed.
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
	na     bool     // the server cannot do this scenario
	notes  []string // distinct, in order of appearance
	warned bool     // some note is a warning ("!")
}

// doubtful reports whether some round of c failed or carries a warning.
func (c *cell) doubtful() bool { return c.failed > 0 || c.warned }

type scenario struct {
	name, unit, desc string
	servers          []string
	cells            map[string]*cell
}

// target is a ratio httpd/peer to reach (at least want, or with atMost
// at most want), or with peer "" an absolute bound on httpd's own value.
type target struct {
	scenario, peer string
	want           float64
	atMost         bool
}

var targets = []target{
	{"1k-50", "nginx", 1.0, false}, {"1k-50", "caddy", 3.0, false},
	{"1k-256", "nginx", 1.0, false}, {"1k-256", "caddy", 3.0, false},
	{"10m", "nginx", 1.0, false},
	{"404", "nginx", 1.0, false},
	{"h2", "caddy", 1.0, false}, {"h2", "nginx", 0.8, false},
	{"idle", "", 50, false},
	{"idle-tls", "nginx", 1.5, true},
}

// firstPeers lead the ratio table: h2o is the bar, nginx the usual pick.
var firstPeers = []string{"h2o", "nginx"}

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
		if len(f) > 6 {
			for _, n := range strings.Split(f[6], ";") {
				n = strings.TrimSpace(n)
				if w, ok := strings.CutPrefix(n, "!"); ok {
					c.warned = true
					n = "**" + strings.TrimSpace(w) + "**"
				}
				if n != "" && n != "****" && !slices.Contains(c.notes, n) {
					c.notes = append(c.notes, n)
				}
			}
		}
		if f[3] == "n/a" {
			c.na = true
			continue
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

func lowerIsBetter(unit string) bool { return unit == "MiB" || unit == "ms" }

// writeRatios writes one row per scenario: the base's median and the
// ratio base/peer for every peer, h2o and nginx first. A ratio marked †
// rests on rounds of which some failed or carry a warning.
func writeRatios(w io.Writer, scs []*scenario, base string) {
	var peers []string
	for _, p := range firstPeers {
		for _, s := range scs {
			if _, ok := s.cells[p]; ok && p != base {
				peers = append(peers, p)
				break
			}
		}
	}
	for _, s := range scs {
		for _, p := range s.servers {
			if p != base && !slices.Contains(peers, p) {
				peers = append(peers, p)
			}
		}
	}
	fmt.Fprintf(w, "### Ratios %s/peer\n\n| scenario | unit | %s |", base, base)
	for _, p := range peers {
		fmt.Fprintf(w, " %s/%s |", base, p)
	}
	fmt.Fprintf(w, "\n|---|---|---:|%s\n", strings.Repeat("---:|", len(peers)))
	dagger := false
	for _, s := range scs {
		unit := s.unit
		if lowerIsBetter(unit) {
			unit += ", lower is better"
		}
		bc := s.cells[base]
		bm := 0.0
		bs := "failed"
		switch {
		case bc == nil:
			bs = ""
		case bc.na:
			bs = "n/a"
		case len(bc.vals) > 0:
			bm = median(bc.vals)
			bs = num(bm)
		}
		if bc != nil && bc.doubtful() && bs != "" {
			bs += " †"
			dagger = true
		}
		fmt.Fprintf(w, "| %s | %s | %s |", s.name, unit, bs)
		for _, p := range peers {
			c := s.cells[p]
			r := ""
			switch {
			case c == nil:
			case c.na:
				r = "n/a"
			case len(c.vals) == 0:
				r = "failed"
			case bm > 0:
				r = fmt.Sprintf("%.2f×", bm/median(c.vals))
			}
			if c != nil && c.doubtful() && !c.na {
				r += " †"
				dagger = true
			}
			fmt.Fprintf(w, " %s |", r)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	if dagger {
		fmt.Fprintf(w, "† some rounds failed or carry a warning: see the scenario's table.\n\n")
	}
}

func write(w io.Writer, scs []*scenario, base string) {
	writeRatios(w, scs, base)
	med := map[[2]string]float64{}
	for _, s := range scs {
		title := s.name
		if s.desc != "" {
			title += ": " + s.desc
		}
		better := "higher is better"
		if lowerIsBetter(s.unit) {
			better = "lower is better"
		}
		hasNotes := false
		for _, c := range s.cells {
			hasNotes = hasNotes || len(c.notes) > 0
		}
		// notes is the last column, there only when some server has one.
		notes := func(c *cell) string {
			if !hasNotes {
				return ""
			}
			return " " + strings.Join(c.notes, "; ") + " |"
		}
		fmt.Fprintf(w, "### %s (%s, %s)\n\n", title, s.unit, better)
		if hasNotes {
			fmt.Fprintf(w, "| server | median | min | max | spread | rounds | %s/server | notes |\n|---|---:|---:|---:|---:|---:|---:|---|\n", base)
		} else {
			fmt.Fprintf(w, "| server | median | min | max | spread | rounds | %s/server |\n|---|---:|---:|---:|---:|---:|---:|\n", base)
		}
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
			if c.na {
				fmt.Fprintf(w, "| %s | n/a | | | | | |%s\n", name, notes(c))
				continue
			}
			if len(c.vals) == 0 {
				fmt.Fprintf(w, "| %s | failed | | | | 0/%d | |%s\n", name, c.failed, notes(c))
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
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |%s\n", name, num(m), num(lo), num(hi), spread, rounds, ratio, notes(c))
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
		if t.atMost {
			fmt.Fprintf(w, "| %s | ≤ %.1f× %s | %.2f× | %s |\n", t.scenario, t.want, t.peer, r, yes(r <= t.want))
			continue
		}
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
