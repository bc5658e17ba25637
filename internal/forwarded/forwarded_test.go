package forwarded

import (
	"crypto/tls"
	"net/http"
	"net/netip"
	"testing"
)

func trusted(t *testing.T, cidrs ...string) *Trusted {
	t.Helper()
	var ps []netip.Prefix
	for _, c := range cidrs {
		p, err := ParsePrefix(c)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return NewTrusted(ps)
}

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"10.0.0.0/8", "10.0.0.0/8", true},
		{"127.0.0.1", "127.0.0.1/32", true},
		{"::1", "::1/128", true},
		{"fd00::/8", "fd00::/8", true},
		{"10.1.2.3/8", "10.0.0.0/8", true},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8", true},
		{"::ffff:192.0.2.1", "192.0.2.1/32", true},
		{"2001:db8::1/32", "2001:db8::/32", true},
		{"0.0.0.0/0", "0.0.0.0/0", true},
		{"fe80::1%eth0", "", false},
		{"10.0.0.0/33", "", false},
		{"example.com", "", false},
		{"10.0.0.0/", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePrefix(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if tt.ok && p.String() != tt.want {
				t.Errorf("= %s, want %s", p, tt.want)
			}
		})
	}
}

func TestContains(t *testing.T) {
	tr := trusted(t, "10.1.2.3/8", "::ffff:192.168.0.0/112", "fd00::/8")
	for _, tt := range []struct {
		ip   string
		want bool
	}{
		{"10.200.0.1", true},      // the prefix was masked
		{"::ffff:10.0.0.1", true}, // mapped address as IPv4
		{"192.168.3.4", true},     // mapped prefix as IPv4
		{"fd12::1%eth0", true},    // zone ignored
		{"11.0.0.1", false},
		{"fe80::1", false},
	} {
		if got := tr.Contains(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("Contains(%s) = %v, want %v", tt.ip, got, tt.want)
		}
	}
	var none *Trusted
	if none.Contains(netip.MustParseAddr("127.0.0.1")) || NewTrusted(nil) != nil {
		t.Error("an empty set trusts someone")
	}
}

func TestRewrite(t *testing.T) {
	tr := trusted(t, "10.0.0.0/8", "::1")
	tests := []struct {
		name    string
		peer    string
		headers map[string][]string
		want    string // RemoteAddr after
		trusted bool   // Peer says trusted
	}{
		{"untrusted peer keeps its address", "203.0.113.9:5000",
			map[string][]string{"X-Forwarded-For": {"1.2.3.4"}}, "203.0.113.9:5000", false},
		{"trusted peer without headers", "10.0.0.2:5000", nil, "10.0.0.2:5000", true},
		{"trusted peer names the client", "10.0.0.2:5000",
			map[string][]string{"X-Forwarded-For": {"198.51.100.7"}}, "198.51.100.7", true},
		{"rightmost untrusted wins", "10.0.0.2:5000",
			map[string][]string{"X-Forwarded-For": {"6.6.6.6, 198.51.100.7", "10.9.9.9"}}, "198.51.100.7", true},
		{"all trusted: leftmost", "10.0.0.2:5000",
			map[string][]string{"X-Forwarded-For": {"10.0.0.5, 10.0.0.4"}}, "10.0.0.5", true},
		{"garbage ends the walk", "10.0.0.2:5000",
			map[string][]string{"X-Forwarded-For": {"198.51.100.7, nonsense, 10.0.0.4"}}, "10.0.0.4", true},
		{"only garbage", "10.0.0.2:5000",
			map[string][]string{"X-Forwarded-For": {"nonsense"}}, "10.0.0.2:5000", true},
		{"xff with port", "10.0.0.2:5000",
			map[string][]string{"X-Forwarded-For": {"198.51.100.7:4711"}}, "198.51.100.7", true},
		{"forwarded when no xff", "10.0.0.2:5000",
			map[string][]string{"Forwarded": {`for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"`}}, "2001:db8:cafe::17", true},
		{"forwarded unknown", "10.0.0.2:5000",
			map[string][]string{"Forwarded": {`for=unknown`}}, "10.0.0.2:5000", true},
		{"xff before forwarded", "10.0.0.2:5000",
			map[string][]string{"X-Forwarded-For": {"198.51.100.7"}, "Forwarded": {"for=192.0.2.60"}}, "198.51.100.7", true},
		{"ipv6 peer", "[::1]:5000",
			map[string][]string{"X-Forwarded-For": {"2001:db8::5"}}, "2001:db8::5", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "http://example.com/", nil)
			r.RemoteAddr = tt.peer
			for k, v := range tt.headers {
				r.Header[k] = v
			}
			got := tr.Rewrite(r)
			if got.RemoteAddr != tt.want {
				t.Errorf("RemoteAddr = %q, want %q", got.RemoteAddr, tt.want)
			}
			peer, tru := Peer(got)
			if peer != tt.peer || tru != tt.trusted {
				t.Errorf("Peer = %q, %v; want %q, %v", peer, tru, tt.peer, tt.trusted)
			}
			if !tt.trusted && got != r {
				t.Error("an untrusted request was copied")
			}
		})
	}
	var none *Trusted
	r, _ := http.NewRequest("GET", "http://example.com/", nil)
	r.RemoteAddr = "10.0.0.2:1"
	r.Header.Set("X-Forwarded-For", "1.2.3.4")
	if none.Rewrite(r) != r || r.RemoteAddr != "10.0.0.2:1" {
		t.Error("no trusted proxies, yet the request changed")
	}
}

func TestSetHeaders(t *testing.T) {
	tr := trusted(t, "10.0.0.0/8", "::1")
	tests := []struct {
		name    string
		peer    string
		tls     bool
		host    string
		headers map[string][]string
		want    map[string]string
	}{
		{
			name: "untrusted: replaced",
			peer: "203.0.113.9:5000", host: "example.com",
			headers: map[string][]string{
				"X-Forwarded-For":   {"6.6.6.6"},
				"X-Forwarded-Proto": {"https"},
				"X-Forwarded-Host":  {"evil.example"},
				"Forwarded":         {"for=6.6.6.6"},
			},
			want: map[string]string{
				"X-Forwarded-For":   "203.0.113.9",
				"X-Forwarded-Proto": "http",
				"X-Forwarded-Host":  "example.com",
				"Forwarded":         "for=203.0.113.9;host=example.com;proto=http",
			},
		},
		{
			name: "untrusted ipv6 over tls with a port in host",
			peer: "[2001:db8::1]:443", tls: true, host: "example.com:8443",
			want: map[string]string{
				"X-Forwarded-For":   "2001:db8::1",
				"X-Forwarded-Proto": "https",
				"X-Forwarded-Host":  "example.com:8443",
				"Forwarded":         `for="[2001:db8::1]";host="example.com:8443";proto=https`,
			},
		},
		{
			name: "trusted: chain extended",
			peer: "10.0.0.2:5000", host: "example.com",
			headers: map[string][]string{
				"X-Forwarded-For":   {"198.51.100.7, 10.0.0.9"},
				"X-Forwarded-Proto": {"https"},
				"X-Forwarded-Host":  {"www.example.com"},
				"Forwarded":         {`for=198.51.100.7;proto=https, for=10.0.0.9`},
			},
			want: map[string]string{
				"X-Forwarded-For":   "198.51.100.7, 10.0.0.9, 10.0.0.2",
				"X-Forwarded-Proto": "https",
				"X-Forwarded-Host":  "www.example.com",
				"Forwarded":         "for=198.51.100.7;proto=https, for=10.0.0.9, for=10.0.0.2;host=example.com;proto=http",
			},
		},
		{
			name: "trusted: forwarded made from xff",
			peer: "[::1]:5000", host: "example.com",
			headers: map[string][]string{"X-Forwarded-For": {"2001:db8::7", "198.51.100.7"}},
			want: map[string]string{
				"X-Forwarded-For": "2001:db8::7, 198.51.100.7, ::1",
				"Forwarded":       `for="[2001:db8::7]", for=198.51.100.7, for="[::1]";host=example.com;proto=http`,
			},
		},
		{
			name: "trusted: xff made from forwarded",
			peer: "10.0.0.2:5000", host: "example.com",
			headers: map[string][]string{"Forwarded": {`for="[2001:db8::7]:80";host="a,b", for=_hidden`}},
			want: map[string]string{
				"X-Forwarded-For": "2001:db8::7, _hidden, 10.0.0.2",
				"Forwarded":       `for="[2001:db8::7]:80";host="a,b", for=_hidden, for=10.0.0.2;host=example.com;proto=http`,
			},
		},
		{
			name: "quoting in host",
			peer: "203.0.113.9:5000", host: `we"ird\host`,
			want: map[string]string{"Forwarded": `for=203.0.113.9;host="we\"ird\\host";proto=http`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "http://x/", nil)
			r.Host = tt.host
			r.RemoteAddr = tt.peer
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, v := range tt.headers {
				r.Header[k] = v
			}
			r = tr.Rewrite(r)
			out := http.Header{"Forwarded": {"stale"}}
			SetHeaders(out, r)
			for k, v := range tt.want {
				if got := out[k]; len(got) != 1 || got[0] != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestNodeAndQuote(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":        "192.0.2.1",
		"2001:db8::1":      `"[2001:db8::1]"`,
		"::ffff:192.0.2.1": "192.0.2.1",
		"bogus":            "unknown",
	} {
		if got := Node(in); got != want {
			t.Errorf("Node(%q) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"example.com": "example.com",
		"a:80":        `"a:80"`,
		"":            `""`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestAddr(t *testing.T) {
	tests := []struct {
		remote, want string
		ok           bool
	}{
		{"192.0.2.1:5000", "192.0.2.1", true},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1", true},
		{"[fe80::1%eth0]:80", "fe80::1", true},
		{"2001:db8::1", "2001:db8::1", true},
		{"10.0.0.9", "10.0.0.9", true},
		{"@", "", false},
		{"/run/httpd.sock", "", false},
	}
	for _, tt := range tests {
		a, ok := Addr(tt.remote)
		if ok != tt.ok || (ok && a.String() != tt.want) {
			t.Errorf("Addr(%q) = %v, %v; want %s, %v", tt.remote, a, ok, tt.want, tt.ok)
		}
	}
}
