package tests

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"httpd/conf"
)

// TestStageOrder checks that a vhost's stages are ordered by phase, then
// by module, keeping the file's order among the blocks of one module: the
// blocks of one module sit side by side wherever they were written, so
// access and basic_auth judge their blocks together (longest prefix).
func TestStageOrder(t *testing.T) {
	dir := t.TempDir()
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("alice:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `vhost "example.com" {
  document_root = "."
  basic_auth "/a/" {
    realm    = "A"
    htpasswd = "htpasswd"
  }
  rewrite "^/x$" { to = "/y" }
  access "/" { allow = ["127.0.0.1"] }
  basic_auth "/a/b/" {
    realm    = "B"
    htpasswd = "htpasswd"
  }
  rewrite "^/y$" { to = "/z" }
  header "/" { set = { "X-A" = "1" } }
  access "/private/" { deny = ["10.0.0.0/8"] }
}`
	cfg, diags := conf.Parse([]byte(src), filepath.Join(dir, "httpd.hcl"), dir)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var got []string
	for _, mb := range cfg.VHosts[0].Modules {
		name := mb.Info.Name
		if len(mb.Labels) > 0 {
			name += " " + mb.Labels[0]
		}
		got = append(got, name)
	}
	want := []string{
		"header /",
		"access /", "access /private/", "basic_auth /a/", "basic_auth /a/b/",
		"rewrite ^/x$", "rewrite ^/y$",
	}
	// static is added after these, when the vhost has a document root.
	if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Errorf("stages = %q, want %q first", got, want)
	}
}
