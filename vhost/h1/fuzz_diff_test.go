package h1_test

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fuzzSentinel follows every fuzz input: when the input is a sequence of
// complete requests, both servers answer it and close, which ends the
// exchange without waiting for quiet; when they disagree on where the
// input's requests end, they disagree on the sentinel too.
const fuzzSentinel = "GET /__end HTTP/1.1\r\nHost: end\r\nConnection: close\r\n\r\n"

// FuzzDifferential feeds arbitrary bytes to net/http and to the engine,
// both running echo, and checks: the engine never panics (the test binary
// would die) or hangs where net/http answers; every request net/http
// answers 2xx the engine answers 2xx with the same echo, unless the input
// is one of the documented stricter cases, where the engine may refuse; the
// engine never accepts what net/http refuses.
//
//	go test -run '^$' -fuzz FuzzDifferential -fuzztime 5m ./vhost/h1/
func FuzzDifferential(f *testing.F) {
	var seeds [][]byte
	for _, cases := range [][]diffCase{requestCases(), framingCases()} {
		for _, tc := range cases {
			in, _ := caseInput(tc)
			if tc.h != nil || tc.setup != nil || tc.cfg.maxHeaderBytes != 0 || tc.want != 0 || len(in) > 16<<10 {
				continue
			}
			f.Add([]byte(in))
			seeds = append(seeds, []byte(in))
		}
	}
	// Every input runs over plain TCP and over TLS (transports): the
	// engine must match net/http on both, and so answer the same on both.
	type pair struct{ std, eng *testServer }
	var pairs []pair
	for _, tr := range transports {
		pairs = append(pairs, pair{startOn(tr, startStd)(f, http.HandlerFunc(echo), config{}),
			startOn(tr, startEngine)(f, http.HandlerFunc(echo), config{})})
	}
	check := func(in []byte) string {
		input := string(in) + fuzzSentinel
		steps := []step{{write: input}}
		methods := requestMethods(input)
		for _, p := range pairs {
			run := func(timeout, quiet time.Duration) (exch, exch) {
				var se, ee exch
				var wg sync.WaitGroup
				wg.Go(func() { se = exchange(p.std.addr, steps, methods, 0, timeout, quiet) })
				wg.Go(func() { ee = exchange(p.eng.addr, steps, methods, 0, timeout, quiet) })
				wg.Wait()
				return se, ee
			}
			se, ee := run(2*time.Second, 250*time.Millisecond)
			if compareFuzz([]byte(input), se, ee, methods) == "" {
				continue
			}
			// Once more with patience, so that a loaded machine does not
			// pass for a silent server.
			se, ee = run(4*time.Second, time.Second)
			if msg := compareFuzz([]byte(input), se, ee, methods); msg != "" {
				return fmt.Sprintf("%s (%s)\ninput: %q\n--- net/http:\n%s\n--- engine:\n%s", msg, p.eng.addr, clip(in),
					render(se, methods, false), render(ee, methods, false))
			}
		}
		return ""
	}
	// Without -fuzz, only the seeds run, one at a time (-parallel is
	// GOMAXPROCS and the seeds mostly wait): check them all concurrently
	// first, and let f.Fuzz report the results.
	seedResults := map[string]string{}
	if fl := flag.Lookup("test.fuzz"); fl == nil || fl.Value.String() == "" {
		var mu sync.Mutex
		sem := make(chan struct{}, concurrency)
		var wg sync.WaitGroup
		for _, in := range seeds {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				msg := check(in)
				mu.Lock()
				seedResults[string(in)] = msg
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if msg, ok := seedResults[string(in)]; ok {
			if msg != "" {
				t.Error(msg)
			}
			return
		}
		if len(in) > 64<<10 {
			t.Skip("too long")
		}
		if msg := check(in); msg != "" {
			t.Error(msg)
		}
	})
}

func finalOnly(rs []resp) []resp {
	var out []resp
	for _, r := range rs {
		if r.final || r.statusLine == "" {
			out = append(out, r)
		}
	}
	return out
}

// compareFuzz returns what is wrong with the engine's answers, or "".
func compareFuzz(in []byte, se, ee exch, methods []string) string {
	sr, _ := parseResponses(se.raw, methods, se.closed)
	er, _ := parseResponses(ee.raw, methods, ee.closed)
	sf, ef := finalOnly(sr), finalOnly(er)
	strict := stricterInput(in)
	engineRefused := len(ef) > 0 && rejectCodes[ef[len(ef)-1].code]
	for i, s := range sf {
		if i >= len(ef) {
			if s.code/100 == 2 {
				if strict && engineRefused {
					return ""
				}
				return fmt.Sprintf("net/http answered request %d with %d; the engine did not answer it", i+1, s.code)
			}
			if rejectCodes[s.code] && len(ef) == i && !ee.closed {
				return fmt.Sprintf("net/http refused request %d with %d; the engine neither answered nor closed", i+1, s.code)
			}
			return ""
		}
		e := ef[i]
		switch {
		case s.statusLine == "" || e.statusLine == "":
			if s.statusLine == "" && e.statusLine == "" {
				return ""
			}
			return fmt.Sprintf("answer %d: unparsable on one side only", i+1)
		case s.code/100 == 2:
			if e.code/100 == 2 {
				if !bytes.Equal(s.body, e.body) {
					return fmt.Sprintf("request %d: both answered 2xx, with different echoes", i+1)
				}
				continue
			}
			if strict && rejectCodes[e.code] {
				return ""
			}
			return fmt.Sprintf("request %d: net/http answered %d, the engine %d", i+1, s.code, e.code)
		case rejectCodes[s.code] && e.code/100 == 2:
			return fmt.Sprintf("request %d: net/http refused with %d, the engine accepted it (%d)", i+1, s.code, e.code)
		default:
			return "" // both refused (or net/http answered non-2xx): nothing more to compare
		}
	}
	if len(ef) > len(sf) {
		for _, e := range ef[len(sf):] {
			if e.code/100 == 2 && !strict {
				return fmt.Sprintf("the engine answered %d requests, net/http %d (net/http waits for more input): framing disagreement", len(ef), len(sf))
			}
		}
	}
	return ""
}

// stricterInput reports whether in holds one of the documented cases where
// the engine refuses what net/http accepts: Content-Length with
// Transfer-Encoding, Transfer-Encoding other than exactly chunked or on
// HTTP/1.0, more than 100 header fields, chunked framing that is not
// strict (bare LF or CR, whitespace before CRLF in a size line). It walks
// the requests in in as far as it can (best effort).
func stricterInput(in []byte) bool {
	p := 0
	for p < len(in) {
		reqLine, fields, n, ok := splitHead(in[p:])
		if !ok {
			return false
		}
		p += n
		if len(fields) > 100 || strings.HasPrefix(reqLine, "PRI ") || strings.Contains(reqLine, "  ") {
			// An empty request-target (two spaces), which net/http takes
			// for CONNECT, is refused.
			return true
		}
		for _, f := range fields {
			if f != "" && (f[0] == ' ' || f[0] == '\t') {
				return true // obs-fold
			}
		}
		var te, cl []string
		for _, f := range fields {
			name, value, _ := strings.Cut(f, ":")
			value = strings.Trim(value, " \t")
			switch strings.ToLower(name) {
			case "transfer-encoding":
				te = append(te, value)
			case "content-length":
				cl = append(cl, value)
			}
		}
		if len(te) > 0 {
			if len(cl) > 0 || strings.HasSuffix(reqLine, "HTTP/1.0") || len(te) > 1 || !strings.EqualFold(te[0], "chunked") {
				return true
			}
			m, ok := strictChunkedLen(in[p:])
			if !ok {
				return true
			}
			p += m
			continue
		}
		if len(cl) > 0 {
			v, err := strconv.Atoi(cl[0])
			if err != nil || v < 0 {
				return false
			}
			p += v
		}
		for p < len(in) && (in[p] == '\r' || in[p] == '\n') {
			p++ // net/http skips these after a POST
		}
	}
	return false
}

// splitHead splits a request head (lines ending in LF or CRLF, up to an
// empty line) into its request line and field lines.
func splitHead(b []byte) (reqLine string, fields []string, n int, ok bool) {
	first := true
	for {
		i := bytes.IndexByte(b[n:], '\n')
		if i < 0 {
			return "", nil, 0, false
		}
		line := strings.TrimSuffix(string(b[n:n+i]), "\r")
		n += i + 1
		switch {
		case first:
			reqLine, first = line, false
		case line == "":
			return reqLine, fields, n, true
		default:
			fields = append(fields, line)
		}
	}
}

// strictChunkedLen returns the length of the strictly framed chunked body
// at the start of b, or false if it is not strictly framed (or incomplete).
func strictChunkedLen(b []byte) (int, bool) {
	pos := 0
	line := func() (string, bool) {
		i := bytes.Index(b[pos:], []byte("\r\n"))
		if i < 0 {
			return "", false
		}
		l := string(b[pos : pos+i])
		if strings.ContainsAny(l, "\r\n") {
			return "", false
		}
		pos += i + 2
		return l, true
	}
	for {
		l, ok := line()
		if !ok {
			return 0, false
		}
		j := 0
		for j < len(l) && strings.IndexByte("0123456789abcdefABCDEF", l[j]) >= 0 {
			j++
		}
		if j == 0 || j > 16 {
			return 0, false
		}
		size, _ := strconv.ParseUint(l[:j], 16, 64)
		if ext := strings.TrimLeft(l[j:], " \t"); l[j:] != "" && !strings.HasPrefix(ext, ";") {
			return 0, false
		}
		if size == 0 {
			break
		}
		if uint64(len(b)-pos) < size+2 || size > 1<<30 {
			return 0, false
		}
		pos += int(size)
		if string(b[pos:pos+2]) != "\r\n" {
			return 0, false
		}
		pos += 2
	}
	for {
		l, ok := line()
		if !ok {
			return 0, false
		}
		if l == "" {
			return pos, true
		}
	}
}
