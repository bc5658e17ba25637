package conf_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"httpd/conf"
)

func TestConfStorage(t *testing.T) {
	t.Setenv("TEST_REDIS_PASSWORD", "s3cret")
	tests := []struct {
		name    string
		src     string
		want    *conf.Storage
		warning string // a warning diagnostic holding this
	}{
		{name: "none", src: ``, want: nil},
		{name: "full", src: `storage "redis" {
  address  = "10.0.0.5:6379"
  username = "web"
  password = env("TEST_REDIS_PASSWORD")
  db       = 2
  prefix   = "prod-web"
  tls      = true
}`, want: &conf.Storage{Kind: "redis", Address: "10.0.0.5:6379", Username: "web", Password: "s3cret", DB: 2, Prefix: "prod-web", TLS: true}},
		{name: "defaults on a socket", src: `storage "redis" { address = "/run/redis/redis.sock" }`,
			want: &conf.Storage{Kind: "redis", Address: "/run/redis/redis.sock", Prefix: "httpd"}},
		{name: "loopback needs no password", src: `storage "redis" { address = "127.0.0.1:6379" }`,
			want: &conf.Storage{Kind: "redis", Address: "127.0.0.1:6379", Prefix: "httpd"}},
		{name: "remote without password warns", src: `storage "redis" { address = "10.0.0.5:6379" }`,
			want:    &conf.Storage{Kind: "redis", Address: "10.0.0.5:6379", Prefix: "httpd"},
			warning: "Redis without a password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg, diags := conf.Parse([]byte(tt.src+"\nvhost \"localhost\" {}\n"), filepath.Join(dir, "httpd.hcl"), dir)
			if diags.HasErrors() {
				t.Fatalf("errors:\n%s", diagText(t, diags))
			}
			if tt.warning == "" && len(diags) > 0 {
				t.Errorf("unexpected diagnostics:\n%s", diagText(t, diags))
			}
			if tt.warning != "" && (len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || !strings.Contains(diags[0].Summary, tt.warning)) {
				t.Errorf("diagnostics:\n%s\nwant one warning %q", diagText(t, diags), tt.warning)
			}
			got := cfg.Storage
			if got != nil {
				c := *got
				c.DefRange = hcl.Range{}
				got = &c
			}
			if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
				t.Errorf("Storage = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestConfStorageErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"no address", ``, `Missing required argument`},
		{"empty address", `address = ""`, `no address`},
		{"no port", `address = "10.0.0.5"`, `want host:port`},
		{"relative socket", `address = "unix:redis.sock"`, `absolute path`},
		{"empty prefix", `address = "127.0.0.1:6379"` + "\n" + `prefix = ""`, `prefix must not be empty`},
		{"space in prefix", `address = "127.0.0.1:6379"` + "\n" + `prefix = "a b"`, `is not allowed`},
		{"misspelt attribute", `address = "127.0.0.1:6379"` + "\n" + `passwrd = "x"`, `Did you mean "password"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			src := "storage \"redis\" {\n" + tt.body + "\n}\nvhost \"localhost\" {}\n"
			_, diags := conf.Parse([]byte(src), filepath.Join(dir, "httpd.hcl"), dir)
			text := diagText(t, diags)
			if !diags.HasErrors() || !strings.Contains(text, tt.want) || !strings.Contains(text, "httpd.hcl:") {
				t.Errorf("diagnostics:\n%s\nwant an error at file:line:col holding %q", text, tt.want)
			}
		})
	}
}

// TestConfStorageChanges: which settings a reload changed, wherever the
// blocks are written.
func TestConfStorageChanges(t *testing.T) {
	base := conf.Storage{Kind: "redis", Address: "10.0.0.5:6379", Password: "pw", Prefix: "httpd",
		DefRange: hcl.Range{Filename: "a.hcl", Start: hcl.Pos{Line: 3}}}
	with := func(f func(*conf.Storage)) *conf.Storage {
		s := base
		f(&s)
		return &s
	}
	tests := []struct {
		name     string
		old, new *conf.Storage
		want     string
	}{
		{"none", nil, nil, ""},
		{"same", &base, with(func(*conf.Storage) {}), ""},
		{"moved in the file", &base, with(func(s *conf.Storage) { s.DefRange = hcl.Range{Filename: "b.hcl"} }), ""},
		{"added", nil, &base, "storage block"},
		{"removed", &base, nil, "storage block"},
		{"address", &base, with(func(s *conf.Storage) { s.Address = "10.0.0.6:6379" }), "address"},
		{"password and db", &base, with(func(s *conf.Storage) { s.Password, s.DB = "new", 2 }), "password db"},
		{"prefix, tls, username", &base, with(func(s *conf.Storage) { s.Prefix, s.TLS, s.Username = "prod", true, "web" }), "username prefix tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(tt.old.Changes(tt.new), " "); got != tt.want {
				t.Errorf("Changes = %q, want %q", got, tt.want)
			}
		})
	}
}
