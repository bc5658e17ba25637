package forwarded

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// FuzzForwarded feeds arbitrary forwarding headers from a trusted peer:
// nothing panics, the client found is a valid address, and the headers
// made for the next hop keep the Forwarded quoting sound.
func FuzzForwarded(f *testing.F) {
	f.Add("198.51.100.7, 10.0.0.9", `for=192.0.2.60;proto=http, for="[2001:db8::1]:80"`)
	f.Add("", `for="\"quoted\\";x=y"`)
	f.Add("garbage,,,", `for=unknown, for=_hidden`)
	tr := NewTrusted([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	f.Fuzz(func(t *testing.T, xff, fwd string) {
		r, _ := http.NewRequest("GET", "http://example.com/", nil)
		r.RemoteAddr = "10.0.0.2:1234"
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		if fwd != "" {
			r.Header.Set("Forwarded", fwd)
		}
		r = tr.Rewrite(r)
		if r.RemoteAddr != "10.0.0.2:1234" {
			if _, err := netip.ParseAddr(r.RemoteAddr); err != nil {
				t.Fatalf("client %q is no address", r.RemoteAddr)
			}
		}
		out := http.Header{}
		SetHeaders(out, r)
		if !strings.HasSuffix(out.Get("X-Forwarded-For"), "10.0.0.2") {
			t.Fatalf("X-Forwarded-For %q does not end with the peer", out.Get("X-Forwarded-For"))
		}
		if q := Quote(fwd); unquote(q) != fwd {
			t.Fatalf("Quote(%q) = %q does not unquote", fwd, q)
		}
	})
}
