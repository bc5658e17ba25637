package tests

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// incSite is an included file holding one vhost serving its own folder.
func incSite(name string) string {
	return "vhost \"" + name + "\" {\n  document_root = \"sites/" + name + "\"\n}\n"
}

// TestInclude runs httpd on a config whose vhosts come from conf.d/*.hcl:
// each answers, -S names the file each comes from, a bad included file
// is reported at its file:line:col, and SIGHUP reads a file added since.
func TestInclude(t *testing.T) {
	t.Parallel()
	h := NewHarness(t)
	for _, n := range []string{"a.test", "b.test", "c.test", "main.test"} {
		h.Write("sites/"+n+"/index.html", "this is "+n+"\n", 0o644)
	}
	a := h.Write("conf.d/a.hcl", incSite("a.test"), 0o644)
	b := h.Write("conf.d/b.hcl", "# the second site\n"+incSite("b.test"), 0o644)
	h.Write("conf.d/README", "not a config file", 0o644)
	srv := h.Start(`server {
  listen = ["127.0.0.1:0"]
}
log {
  access = "off"
}
vhost "main.test" {
  default       = true
  document_root = "sites/main.test"
}
include = ["conf.d/*.hcl", "optional.d/*.hcl"]
`)

	get := func(host string) (int, string) {
		t.Helper()
		resp, body := epRequest(t, srv, "GET", host, "/", "")
		return resp.StatusCode, body
	}
	for _, host := range []string{"a.test", "b.test", "main.test"} {
		if code, body := get(host); code != 200 || body != "this is "+host+"\n" {
			t.Errorf("Host %s: %d %q", host, code, body)
		}
	}
	if _, body := get("c.test"); body != "this is main.test\n" {
		t.Errorf("c.test is not configured yet, but got %q", body)
	}

	t.Run("-S names the files", func(t *testing.T) {
		out, stderr, code := h.Run("-S", "-f", "httpd.hcl")
		if code != 0 {
			t.Fatalf("-S: exit %d: %s", code, stderr)
		}
		for _, want := range []string{
			"Included: " + a + "\nIncluded: " + b + "\n",
			"    main.test (default)  httpd.hcl:7\n",
			"    a.test  " + a + ":1\n",
			"    b.test  " + b + ":2\n",
			"vhost b.test  " + b + ":2\n    document_root: " + filepath.Join(h.Dir, "sites", "b.test") + "\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("-S lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("diagnostics name the included file", func(t *testing.T) {
		bad := h.Write("broken.d/bad.hcl", "vhost \"bad.test\" {\n  document_root = \"sites/a.test\"\n  statc {}\n  error_pages = { \"700\" = \"/e.html\" }\n}\n", 0o644)
		h.Write("broken.hcl", "include = [\"broken.d/*.hcl\"]\n", 0o644)
		out, stderr, code := h.Run("-t", "-f", "broken.hcl")
		if code != 1 || out != "" {
			t.Errorf("-t: exit %d, stdout %q", code, out)
		}
		for _, want := range []string{
			bad + `:3:3: Unsupported block type: Blocks of type "statc" are not expected here. Did you mean "static"?`,
			"     3 |   statc {}\n       |   ^\n",
			bad + `:4:19: Invalid error_pages key: 700 is not an error status`,
		} {
			if !strings.Contains(stderr, want) {
				t.Errorf("-t output lacks %q:\n%s", want, stderr)
			}
		}
	})

	// A broken included file on reload: the old config keeps serving.
	h.Write("conf.d/c.hcl", "vhost \"c.test\" {\n  document_root = \"sites/c.test\"\n  nope = 1\n}\n", 0o644)
	srv.Signal(syscall.SIGHUP)
	srv.WaitStderr("config not reloaded: the running config keeps serving", 20*time.Second)
	if !strings.Contains(srv.Stderr(), filepath.Join(h.Dir, "conf.d", "c.hcl")+":3:3: Unsupported argument") {
		t.Errorf("the failed reload does not name conf.d/c.hcl:3:3:\n%s", srv.Stderr())
	}
	if code, body := get("a.test"); code != 200 || body != "this is a.test\n" {
		t.Errorf("after a failed reload, a.test: %d %q", code, body)
	}

	// Fixed, it is read on the next SIGHUP.
	h.Write("conf.d/c.hcl", incSite("c.test"), 0o644)
	srv.Signal(syscall.SIGHUP)
	srv.WaitStderr("config reloaded", 20*time.Second)
	if code, body := get("c.test"); code != 200 || body != "this is c.test\n" {
		t.Errorf("after the reload, c.test: %d %q", code, body)
	}
	srv.Stop()
}
