package conf

import (
	"strings"
	"testing"
)

func TestConfSplitAddr(t *testing.T) {
	tests := []struct {
		in, addr, scheme string
		err              string
	}{
		{":8080", ":8080", "", ""},
		{"127.0.0.1:80", "127.0.0.1:80", "", ""},
		{"[::1]:8080", "[::1]:8080", "", ""},
		{"localhost:0", "localhost:0", "", ""},
		{"http://:8080", ":8080", "http", ""},
		{"https://[::]:443", "[::]:443", "https", ""},
		{"8080", "", "", "is not an address"},
		{"::1:8080", "", "", "is not an address"},
		{":http", "", "", "no valid port"},
		{":65536", "", "", "no valid port"},
		{":-1", "", "", "no valid port"},
		{"example.com:80", "", "", "not a name"},
		{"ws://:80", "", "", `scheme "ws"`},
		{"", "", "", "is not an address"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			addr, scheme, err := splitAddr(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("splitAddr(%q) error = %v, want %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil || addr != tt.addr || scheme != tt.scheme {
				t.Errorf("splitAddr(%q) = %q, %q, %v; want %q, %q", tt.in, addr, scheme, err, tt.addr, tt.scheme)
			}
		})
	}
}

func TestConfCheckName(t *testing.T) {
	tests := []struct {
		name     string
		wildcard bool
		ok       bool
	}{
		{"example.com", false, true},
		{"localhost", false, true},
		{"a-b_c.example", false, true},
		{"xn--bcher-kva.example", false, true},
		{"[::1]", false, true},
		{"127.0.0.1", false, true},
		{"*.example.org", true, true},
		{"*.example.org", false, false},
		{"*", true, false},
		{"a.*.b", true, false},
		{"", false, false},
		{"a..b", false, false},
		{".a", false, false},
		{"bücher.example", false, false},
		{"host:80", false, false},
		{"a b", false, false},
		{"[zz]", false, false},
		{strings.Repeat("a", 64) + ".com", false, false},
		{strings.Repeat("a.", 127) + "aa", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if msg := checkName(tt.name, tt.wildcard); (msg == "") != tt.ok {
				t.Errorf("checkName(%q, %v) = %q, want ok %v", tt.name, tt.wildcard, msg, tt.ok)
			}
		})
	}
}

func TestConfSuggest(t *testing.T) {
	choices := []string{"common", "combined", "json"}
	for in, want := range map[string]string{"combind": "combined", "jsno": "json", "comon": "common", "xml": "", "": ""} {
		if got := suggest(in, choices); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
	if got := normalizeName(" Example.COM. "); got != "example.com" {
		t.Errorf("normalizeName = %q", got)
	}
}
