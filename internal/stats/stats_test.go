package stats

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"httpd/internal/testutil"
	"httpd/registry"
)

func TestStatsIndexes(t *testing.T) {
	methods := []struct {
		in   string
		want string
	}{
		{"GET", "GET"}, {"HEAD", "HEAD"}, {"POST", "POST"}, {"PUT", "PUT"}, {"DELETE", "DELETE"},
		{"PATCH", "PATCH"}, {"OPTIONS", "OPTIONS"}, {"CONNECT", "CONNECT"}, {"TRACE", "TRACE"},
		{"get", "OTHER"}, {"PROPFIND", "OTHER"}, {"", "OTHER"}, {strings.Repeat("X", 100), "OTHER"},
	}
	for _, tt := range methods {
		if got := Methods[MethodIndex(tt.in)]; got != tt.want {
			t.Errorf("method %q counts as %s, want %s", tt.in, got, tt.want)
		}
	}
	classes := []struct {
		status int
		want   string
	}{
		{100, "1xx"}, {101, "1xx"}, {200, "2xx"}, {304, "3xx"}, {404, "4xx"}, {499, "4xx"},
		{500, "5xx"}, {599, "5xx"}, {0, "5xx"}, {600, "5xx"}, {-1, "5xx"},
	}
	for _, tt := range classes {
		if got := Classes[ClassIndex(tt.status)]; got != tt.want {
			t.Errorf("status %d counts as %s, want %s", tt.status, got, tt.want)
		}
	}
}

func TestStatsObserve(t *testing.T) {
	s := New(time.Now())
	c := s.Counters(Key{VHost: "a", Mount: "/app"})
	if s.Counters(Key{VHost: "a", Mount: "/app"}) != c {
		t.Fatal("the same key gave other counters")
	}
	obs := []struct {
		method string
		status int
		d      time.Duration
		in     int64
		out    int64
	}{
		{"GET", 200, 100 * time.Microsecond, 0, 1024},
		{"GET", 200, 3 * time.Millisecond, 0, 10},
		{"POST", 502, 2 * time.Second, 300, 5},
		{"BREW", 418, time.Minute, 0, 0},
	}
	for _, o := range obs {
		c.Observe(o.method, o.status, o.d, o.in, o.out)
	}
	var none *Counters
	none.Observe("GET", 200, 0, 0, 0) // counts nothing, does not panic

	sn := c.Snapshot()
	if got := sn.Requests[MethodIndex("GET")][ClassIndex(200)]; got != 2 {
		t.Errorf("GET 2xx = %d, want 2", got)
	}
	if got := sn.Requests[MethodIndex("OTHER")][ClassIndex(418)]; got != 1 {
		t.Errorf("OTHER 4xx = %d, want 1", got)
	}
	if sn.Total() != 4 || sn.Class(4) != 1 {
		t.Errorf("total %d, 5xx %d; want 4 and 1", sn.Total(), sn.Class(4))
	}
	if sn.BytesIn != 300 || sn.BytesOut != 1039 {
		t.Errorf("bytes in %d out %d, want 300 and 1039", sn.BytesIn, sn.BytesOut)
	}
	want := 100*time.Microsecond + 3*time.Millisecond + 2*time.Second + time.Minute
	if sn.Sum != want {
		t.Errorf("sum %v, want %v", sn.Sum, want)
	}
	// 100µs ≤ 0.5ms; 3ms ≤ 5ms; 2s ≤ 2.5s; a minute above every bound.
	for _, b := range []struct {
		le   float64
		want uint64
	}{{0.0005, 1}, {0.005, 1}, {2.5, 1}} {
		for i, x := range Buckets {
			if x == b.le && sn.Buckets[i] != b.want {
				t.Errorf("bucket le=%v holds %d, want %d", b.le, sn.Buckets[i], b.want)
			}
		}
	}
	if sn.Buckets[len(Buckets)] != 1 {
		t.Errorf("+Inf bucket holds %d, want 1", sn.Buckets[len(Buckets)])
	}
	if r, e := s.Totals(); r != 4 || e != 1 {
		t.Errorf("server totals %d, %d; want 4, 1", r, e)
	}
}

func TestStatsObserveAllocs(t *testing.T) {
	c := New(time.Now()).Counters(Key{VHost: "a"})
	if n := testing.AllocsPerRun(100, func() { c.Observe("GET", 200, time.Millisecond, 10, 1024) }); n != 0 {
		t.Errorf("Observe allocates %v times, want 0", n)
	}
}

func BenchmarkStatsObserve(b *testing.B) {
	c := New(time.Now()).Counters(Key{VHost: "a"})
	for b.Loop() {
		c.Observe("GET", 200, time.Millisecond, 0, 1024)
	}
}

func TestStatsRing(t *testing.T) {
	s := New(time.Unix(0, 0))
	c := s.Counters(Key{VHost: "v"})
	t0 := time.Unix(1000, 0)
	s.Sample(t0) // the baseline
	for i := 1; i <= RingSeconds+5; i++ {
		for range i % 7 {
			c.Observe("GET", 200, 0, 0, 0)
		}
		if i%5 == 0 {
			c.Observe("GET", 503, 0, 0, 0)
		}
		s.Sample(t0.Add(time.Duration(i) * time.Second))
	}
	ring := s.Ring()
	if len(ring) != RingSeconds {
		t.Fatalf("ring holds %d seconds, want %d", len(ring), RingSeconds)
	}
	for k, sec := range ring {
		i := k + 6 // the oldest 6 samples (baseline and 1..5) fell out
		want := uint64(i % 7)
		var errs uint64
		if i%5 == 0 {
			want++
			errs = 1
		}
		if sec.Requests != want || sec.Errors != errs || !sec.Time.Equal(t0.Add(time.Duration(i)*time.Second)) {
			t.Errorf("second %d = %+v, want %d requests, %d errors at +%ds", k, sec, want, errs, i)
		}
	}
	if got := New(time.Now()).Ring(); len(got) != 0 {
		t.Errorf("a new ring holds %v", got)
	}
}

func TestStatsHuman(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {1400 * time.Millisecond, "1s"}, {59 * time.Second, "59s"}, {61 * time.Second, "1m 1s"},
		{3*time.Hour + 2*time.Minute + 5*time.Second, "3h 2m"}, {50 * time.Hour, "2d 2h"},
	}
	for _, tt := range tests {
		if got := Human(tt.d); got != tt.want {
			t.Errorf("Human(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestStatsAllow(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		diag  string // "" for none
		allow []string
		deny  []string
	}{
		{"v4 and v6", `status "/s" { allow = ["127.0.0.1/32", "::1"] }`, "",
			[]string{"127.0.0.1:5000", "[::1]:80", "127.0.0.1", "[::ffff:127.0.0.1]:1"}, []string{"127.0.0.2:1", "10.0.0.1:1", "[::2]:1", "@", ""}},
		{"network", `status "/s" { allow = ["10.0.0.0/8"] }`, "", []string{"10.9.8.7:1"}, []string{"11.0.0.1:1"}},
		{"unmasked", `status "/s" { allow = ["192.168.1.77/24"] }`, "", []string{"192.168.1.1:1"}, []string{"192.168.2.1:1"}},
		{"empty", `status "/s" { allow = [] }`, "", nil, []string{"127.0.0.1:1"}},
		{"missing", `status "/s" {}`, "Missing required argument", nil, nil},
		{"bad entry", `status "/s" { allow = ["127.0.0.1", "localhost"] }`, `"localhost" is not a CIDR`, nil, nil},
		{"zone", `status "/s" { allow = ["fe80::1%eth0"] }`, "is not a CIDR", nil, nil},
		{"not a list", `status "/s" { allow = 7 }`, "list of strings", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := testutil.ParseBlock(t, tt.src)
			content, diags := b.Body.Content(allowSchema)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			a, diags := DecodeAllow(b, content, &registry.DecodeContext{})
			if tt.diag != "" {
				if !diags.HasErrors() || !strings.Contains(diags.Error(), tt.diag) {
					t.Fatalf("diagnostics %v, want one holding %q", diags, tt.diag)
				}
				if d := diags[0]; d.Subject == nil || d.Subject.Filename != "test.hcl" {
					t.Errorf("diagnostic points at %v, want test.hcl", d.Subject)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			for _, remote := range tt.allow {
				if !a.Allows(&http.Request{RemoteAddr: remote}) {
					t.Errorf("%s denied", remote)
				}
			}
			for _, remote := range tt.deny {
				if a.Allows(&http.Request{RemoteAddr: remote}) {
					t.Errorf("%s allowed", remote)
				}
			}
		})
	}
}

func FuzzStatsAllow(f *testing.F) {
	for _, s := range []string{"127.0.0.1/32", "::1", "10.0.0.0/8", "fe80::1%eth0", "", "1.2.3.4/33", "::ffff:1.2.3.4/120"} {
		f.Add(s, "127.0.0.1:80")
	}
	f.Fuzz(func(t *testing.T, entry, remote string) {
		src := `status "/s" { allow = [` + quote(entry) + `] }`
		b := testutil.ParseBlock(t, src)
		content, diags := b.Body.Content(allowSchema)
		if diags.HasErrors() {
			t.Skip()
		}
		a, _ := DecodeAllow(b, content, &registry.DecodeContext{})
		_ = a.Allows(&http.Request{RemoteAddr: remote})
		_ = a.String()
	})
}

// allowSchema is the schema of a block holding only allow.
var allowSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "allow"}}}

// quote writes s as an HCL string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r == '$' || r == '%':
			b.WriteString(string(r) + string(r))
		case r < 0x20 || r == 0x7f || r == 0xfffd:
			b.WriteString(`\u0020`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
