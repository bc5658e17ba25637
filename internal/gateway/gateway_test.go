package gateway

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var varName = regexp.MustCompile(`^HTTP_[A-Z0-9_]+$`)

// collect runs RequestVars and returns the variables, failing the test
// on a name set twice.
func collect(t testing.TB, r *http.Request, opts Options) map[string]string {
	t.Helper()
	env := make(map[string]string)
	RequestVars(r, opts, func(k, v string) {
		if old, dup := env[k]; dup {
			t.Errorf("%s set twice: %q, then %q", k, old, v)
		}
		env[k] = v
	})
	return env
}

func TestRequestVars(t *testing.T) {
	v4 := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	v6 := &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 8443}
	tests := []struct {
		name     string
		host     string   // r.Host
		proto    string   // r.Proto; "" is HTTP/1.1
		target   string   // r.RequestURI; "-" leaves it empty
		remote   string   // r.RemoteAddr; "" is 192.0.2.7:51000
		local    net.Addr // http.LocalAddrContextKey; nil for none
		tls      bool
		header   http.Header
		passAuth bool
		user     [2]string // WithUser's user and scheme, when set
		want     map[string]string
		absent   []string
	}{
		{
			name: "host with port", host: "example.com:8080", local: v4,
			want: map[string]string{
				"SERVER_NAME": "example.com", "SERVER_PORT": "8080", "SERVER_ADDR": "127.0.0.1",
				"HTTP_HOST": "example.com:8080", "REQUEST_SCHEME": "http",
			},
			absent: []string{"HTTPS"},
		},
		{
			name: "host port differs from local port", host: "example.com:9999", local: v4,
			want: map[string]string{"SERVER_NAME": "example.com", "SERVER_PORT": "8080"},
		},
		{
			name: "host port without local address", host: "example.com:9999",
			want:   map[string]string{"SERVER_NAME": "example.com", "SERVER_PORT": "9999"},
			absent: []string{"SERVER_ADDR"},
		},
		{
			name: "host without port", host: "Example.COM", local: v4,
			want: map[string]string{"SERVER_NAME": "Example.COM", "SERVER_PORT": "8080", "HTTP_HOST": "Example.COM"},
		},
		{
			name: "host without port or local address", host: "example.com",
			want: map[string]string{"SERVER_NAME": "example.com", "SERVER_PORT": "80"},
		},
		{
			name: "host with a bad port", host: "example.com:http",
			want: map[string]string{"SERVER_NAME": "example.com", "SERVER_PORT": "80"},
		},
		{
			name: "ipv6 host and local address", host: "[2001:db8::1]:8443", local: v6,
			remote: "[2001:db8::2]:51000",
			want: map[string]string{
				"SERVER_NAME": "[2001:db8::1]", "SERVER_PORT": "8443", "SERVER_ADDR": "2001:db8::1",
				"REMOTE_ADDR": "2001:db8::2", "REMOTE_PORT": "51000", "HTTP_HOST": "[2001:db8::1]:8443",
			},
		},
		{
			name: "ipv6 host without port", host: "[::1]",
			want: map[string]string{"SERVER_NAME": "[::1]", "SERVER_PORT": "80"},
		},
		{
			name: "ipv6 local address with zone", host: "", local: &net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 80, Zone: "eth0"},
			want: map[string]string{"SERVER_NAME": "[fe80::1%eth0]", "SERVER_ADDR": "fe80::1%eth0", "SERVER_PORT": "80"},
		},
		{
			name: "no host (HTTP/1.0)", proto: "HTTP/1.0", local: v4,
			want: map[string]string{
				"SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.0",
			},
			absent: []string{"HTTP_HOST"},
		},
		{
			name: "no host, ipv6 local address", proto: "HTTP/1.0", local: v6,
			want:   map[string]string{"SERVER_NAME": "[2001:db8::1]", "SERVER_PORT": "8443", "SERVER_ADDR": "2001:db8::1"},
			absent: []string{"HTTP_HOST"},
		},
		{
			name: "no host, no local address", proto: "HTTP/1.0",
			want:   map[string]string{"SERVER_NAME": "localhost", "SERVER_PORT": "80"},
			absent: []string{"HTTP_HOST", "SERVER_ADDR"},
		},
		{
			name: "local address not tcp", host: "example.com", local: &net.UnixAddr{Name: "/run/httpd.sock", Net: "unix"},
			want:   map[string]string{"SERVER_NAME": "example.com", "SERVER_PORT": "80"},
			absent: []string{"SERVER_ADDR"},
		},
		{
			name: "tls", host: "example.com", tls: true,
			want: map[string]string{"HTTPS": "on", "REQUEST_SCHEME": "https", "SERVER_PORT": "443"},
		},
		{
			name: "remote without port", host: "example.com", remote: "pipe",
			want:   map[string]string{"REMOTE_ADDR": "pipe"},
			absent: []string{"REMOTE_PORT"},
		},
		{
			name: "request line", host: "example.com", target: "/a%20b/c?x=1&y=%2F",
			want: map[string]string{
				"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "httpd/test", "SERVER_PROTOCOL": "HTTP/1.1",
				"REQUEST_METHOD": "GET", "REQUEST_URI": "/a%20b/c?x=1&y=%2F", "QUERY_STRING": "x=1&y=%2F",
				"REMOTE_ADDR": "192.0.2.7", "REMOTE_PORT": "51000",
			},
		},
		{
			name: "request built by the server", host: "example.com", target: "-",
			want: map[string]string{"REQUEST_URI": "/a%20b?x=1", "QUERY_STRING": "x=1"},
		},
		{
			name: "proxy never becomes HTTP_PROXY", host: "example.com", passAuth: true,
			header: http.Header{"Proxy": {"http://evil.example/"}, "proxy": {"http://evil.example/"}, "Proxy-Authorization": {"Basic eA=="}},
			absent: []string{"HTTP_PROXY", "HTTP_PROXY_AUTHORIZATION"},
		},
		{
			name: "authorization without pass_auth", host: "example.com",
			header: http.Header{"Authorization": {"Basic c2VjcmV0"}, "authorization": {"Basic c2VjcmV0"}},
			absent: []string{"HTTP_AUTHORIZATION"},
		},
		{
			name: "authorization with pass_auth", host: "example.com", passAuth: true,
			header: http.Header{"Authorization": {"Basic c2VjcmV0"}},
			want:   map[string]string{"HTTP_AUTHORIZATION": "Basic c2VjcmV0"},
		},
		{
			name: "underscore and odd header names skipped", host: "example.com",
			header: http.Header{
				"X_Forwarded_For": {"10.6.6.6"}, "X-Forwarded-For": {"192.0.2.7"},
				"X.Dot": {"1"}, "X~Tilde": {"1"}, "": {"1"},
			},
			want:   map[string]string{"HTTP_X_FORWARDED_FOR": "192.0.2.7"},
			absent: []string{"HTTP_X.DOT", "HTTP_X~TILDE", "HTTP_"},
		},
		{
			name: "multi-value join", host: "example.com",
			header: http.Header{"X-Multi": {"one", "two"}, "Accept": {"text/html", "*/*"}, "X-None": {}},
			want:   map[string]string{"HTTP_X_MULTI": "one, two", "HTTP_ACCEPT": "text/html, */*"},
			absent: []string{"HTTP_X_NONE"},
		},
		{
			name: "cookie join", host: "example.com",
			header: http.Header{"Cookie": {"a=1", "b=2"}},
			want:   map[string]string{"HTTP_COOKIE": "a=1; b=2"},
		},
		{
			name: "authenticated user", host: "example.com", user: [2]string{"alice", "Basic"},
			header: http.Header{"Authorization": {"Basic YWxpY2U6d29uZGVybGFuZA=="}},
			want:   map[string]string{"REMOTE_USER": "alice", "AUTH_TYPE": "Basic"},
			absent: []string{"HTTP_AUTHORIZATION"},
		},
		{
			name: "authenticated user with pass_auth", host: "example.com", user: [2]string{"zoë smith", "Basic"}, passAuth: true,
			header: http.Header{"Authorization": {"Basic x"}},
			want:   map[string]string{"REMOTE_USER": "zoë smith", "AUTH_TYPE": "Basic", "HTTP_AUTHORIZATION": "Basic x"},
		},
		{
			name: "user without a scheme", host: "example.com", user: [2]string{"alice", ""},
			want:   map[string]string{"REMOTE_USER": "alice"},
			absent: []string{"AUTH_TYPE"},
		},
		{
			name: "empty user sets nothing", host: "example.com", user: [2]string{"", "Basic"},
			absent: []string{"REMOTE_USER", "AUTH_TYPE"},
		},
		{
			name: "no user: headers cannot pose as one", host: "example.com",
			header: http.Header{"Remote-User": {"admin"}, "Remote_User": {"admin"}, "Auth-Type": {"Basic"}, "Authorization": {"Basic YWRtaW46eA=="}},
			want:   map[string]string{"HTTP_REMOTE_USER": "admin", "HTTP_AUTH_TYPE": "Basic"},
			absent: []string{"REMOTE_USER", "AUTH_TYPE", "HTTP_AUTHORIZATION"},
		},
		{
			name: "content headers have their own variables", host: "example.com",
			header: http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"3"}, "Host": {"evil.example"}},
			want:   map[string]string{"CONTENT_TYPE": "text/plain", "HTTP_HOST": "example.com"},
			absent: []string{"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "CONTENT_LENGTH"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{
				Method:     "GET",
				Proto:      "HTTP/1.1",
				Host:       tc.host,
				RequestURI: "/a%20b?x=1",
				URL:        &url.URL{Path: "/a b", RawPath: "/a%20b", RawQuery: "x=1"},
				RemoteAddr: "192.0.2.7:51000",
				Header:     tc.header,
			}
			if tc.header == nil {
				r.Header = http.Header{}
			}
			if tc.proto != "" {
				r.Proto = tc.proto
			}
			switch tc.target {
			case "":
			case "-":
				r.RequestURI = ""
			default:
				u, err := url.ParseRequestURI(tc.target)
				if err != nil {
					t.Fatal(err)
				}
				r.RequestURI, r.URL = tc.target, u
			}
			if tc.remote != "" {
				r.RemoteAddr = tc.remote
			}
			if tc.local != nil {
				r = r.WithContext(context.WithValue(context.Background(), http.LocalAddrContextKey, tc.local))
			}
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if tc.user != [2]string{} {
				r = WithUser(r, tc.user[0], tc.user[1])
			}
			env := collect(t, r, Options{Software: "httpd/test", PassAuth: tc.passAuth})
			for k, v := range tc.want {
				if got, ok := env[k]; !ok || got != v {
					t.Errorf("%s = %q (set %v), want %q", k, got, ok, v)
				}
			}
			for _, k := range tc.absent {
				if v, ok := env[k]; ok {
					t.Errorf("%s is set (%q)", k, v)
				}
			}
			for _, k := range []string{"GATEWAY_INTERFACE", "SERVER_SOFTWARE", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REQUEST_METHOD", "REQUEST_URI", "QUERY_STRING", "REQUEST_SCHEME", "REMOTE_ADDR"} {
				if _, ok := env[k]; !ok {
					t.Errorf("%s is not set", k)
				}
			}
			for k := range env {
				if strings.HasPrefix(k, "HTTP_") && !varName.MatchString(k) {
					t.Errorf("bad variable name %q", k)
				}
			}
			if t.Failed() {
				t.Logf("variables: %q", env)
			}
		})
	}
}

func TestHeaderVar(t *testing.T) {
	tests := []struct {
		name     string
		key      string
		passAuth bool
		want     string // "" for not passed
	}{
		{name: "common", key: "User-Agent", want: "HTTP_USER_AGENT"},
		{name: "uncommon", key: "X-Custom-2", want: "HTTP_X_CUSTOM_2"},
		{name: "lower case", key: "x-custom", want: "HTTP_X_CUSTOM"},
		{name: "long", key: strings.Repeat("X-", 50) + "Y", want: "HTTP_" + strings.Repeat("X_", 50) + "Y"},
		{name: "proxy", key: "Proxy"},
		{name: "proxy lower case", key: "pRoXy", passAuth: true},
		{name: "proxy-authorization", key: "Proxy-Authorization", passAuth: true},
		{name: "authorization", key: "Authorization"},
		{name: "authorization lower case", key: "authorization"},
		{name: "authorization with pass_auth", key: "Authorization", passAuth: true, want: "HTTP_AUTHORIZATION"},
		{name: "content-type", key: "Content-Type"},
		{name: "content-length", key: "content-length"},
		{name: "host", key: "Host"},
		{name: "underscore", key: "X_Forwarded_For"},
		{name: "dot", key: "X.Y"},
		{name: "space", key: "X Y"},
		{name: "non-ascii", key: "X-Ä"},
		{name: "nul", key: "X\x00Y"},
		{name: "empty", key: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := HeaderVar(tc.key, tc.passAuth)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("HeaderVar(%q, %v) = %q, %v; want %q", tc.key, tc.passAuth, got, ok, tc.want)
			}
		})
	}
}

func TestHeaderVarCommonAllocs(t *testing.T) {
	for k := range common {
		if n := testing.AllocsPerRun(10, func() { HeaderVar(k, false) }); n != 0 {
			t.Errorf("HeaderVar(%q) allocates %v times", k, n)
		}
	}
	if _, ok := common["Authorization"]; ok {
		t.Error("the common table holds Authorization")
	}
}

func FuzzHeaderVar(f *testing.F) {
	for _, k := range []string{"User-Agent", "Proxy", "proxy", "Authorization", "X_Forwarded_For", "X-Forwarded-For", "Content-Type", "-", "a", "Ä", "X\x00", ""} {
		f.Add(k, false)
		f.Add(k, true)
	}
	f.Fuzz(func(t *testing.T, key string, passAuth bool) {
		name, ok := HeaderVar(key, passAuth)
		if !ok {
			if name != "" {
				t.Errorf("HeaderVar(%q) = %q, false", key, name)
			}
			return
		}
		if !varName.MatchString(name) {
			t.Fatalf("HeaderVar(%q) = %q, not a variable name", key, name)
		}
		if want := "HTTP_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_")); name != want {
			t.Errorf("HeaderVar(%q) = %q, want %q", key, name, want)
		}
		switch name {
		case "HTTP_PROXY", "HTTP_PROXY_AUTHORIZATION", "HTTP_HOST", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH":
			t.Errorf("HeaderVar(%q, %v) passes %s", key, passAuth, name)
		case "HTTP_AUTHORIZATION":
			if !passAuth {
				t.Errorf("HeaderVar(%q, false) passes %s", key, name)
			}
		}
	})
}

func BenchmarkRequestVars(b *testing.B) {
	r := &http.Request{
		Method: "GET", Proto: "HTTP/1.1", Host: "example.com:8080", RequestURI: "/app/x?y=1",
		URL: &url.URL{Path: "/app/x", RawQuery: "y=1"}, RemoteAddr: "127.0.0.1:51000",
		Header: http.Header{
			"User-Agent": {"wrk"}, "Accept": {"*/*"}, "Accept-Encoding": {"gzip"},
			"Connection": {"keep-alive"}, "X-Custom": {"1"},
		},
	}
	r = r.WithContext(context.WithValue(context.Background(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}))
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		RequestVars(r, Options{Software: "httpd"}, func(k, v string) { n += len(k) + len(v) })
	}
}
