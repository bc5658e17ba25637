package fastcgi

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"httpd/internal/gateway/gatewaytest"
	"httpd/registry"
)

func TestFastCGISplitScript(t *testing.T) {
	php := []string{".php"}
	tests := []struct {
		name         string
		path         string
		exts         []string
		script, info string
		ok           bool
	}{
		{"script", "/index.php", php, "/index.php", "", true},
		{"path info", "/info.php/extra/x", php, "/info.php", "/extra/x", true},
		{"trailing slash", "/info.php/", php, "/info.php", "/", true},
		{"nested", "/blog/wp-admin/edit.php", php, "/blog/wp-admin/edit.php", "", true},
		{"first match wins", "/a.php/b.php", php, "/a.php", "/b.php", true},
		{"upper case", "/X.PHP", php, "/X.PHP", "", true},
		{"mixed case", "/x.Php/i", php, "/x.Php", "/i", true},
		{"attack: script after a file", "/uploads/evil.jpg/x.php", php, "/uploads/evil.jpg/x.php", "", true},
		{"suffix must end a segment", "/a.phps", php, "", "", false},
		{"suffix inside a name", "/a.php.txt", php, "", "", false},
		{"double suffix", "/a.txt.php", php, "/a.txt.php", "", true},
		{"suffix alone is no name", "/.php", php, "", "", false},
		{"directory named like a script", "/lib.php/", php, "/lib.php", "/", true},
		{"static", "/style.css", php, "", "", false},
		{"root", "/", php, "", "", false},
		{"empty", "", php, "", "", false},
		{"two suffixes", "/a.phtml/x", []string{".php", ".phtml"}, "/a.phtml", "/x", true},
		{"earlier segment, later suffix", "/a.phtml/b.php", []string{".php", ".phtml"}, "/a.phtml", "/b.php", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script, info, ok := splitScript(tt.path, tt.exts)
			if script != tt.script || info != tt.info || ok != tt.ok {
				t.Errorf("splitScript(%q) = %q, %q, %v; want %q, %q, %v", tt.path, script, info, ok, tt.script, tt.info, tt.ok)
			}
			if ok && script+info != tt.path {
				t.Errorf("script+info = %q, not the path", script+info)
			}
		})
	}
}

// routeSite is a document root with what the routing rules tell apart:
// scripts, files, index files, a file posing as a directory, dot-files
// and symlinks in and out of the root.
func routeSite(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	outside := t.TempDir()
	for rel, content := range map[string]string{
		"index.php":           "<?php",
		"info.php":            "<?php",
		"X.PHP":               "<?php",
		"style.css":           "body {}",
		"info.php.txt":        "not a script",
		"blog/index.php":      "<?php",
		"docs/index.html":     "<p>docs",
		"both/index.html":     "html",
		"both/index.php":      "<?php",
		"empty/readme.txt":    "no index",
		"uploads/evil.jpg":    "<?php system('id');",
		".hidden.php":         "<?php",
		".git/config":         "secret",
		".well-known/x.txt":   "well known",
		"dir.php/inside.css":  "css in a dir named like a script",
		"dir.php/inside.php":  "<?php",
		"script.php/.keep":    "",
		"sub/page.php":        "<?php",
		"sub/index.php/.keep": "",
	} {
		writeFile(t, root, rel, content)
	}
	writeFile(t, outside, "secret.php", "<?php outside")
	links := map[string]string{
		"link-in.php":     "info.php",
		"link-out.php":    filepath.Join(outside, "secret.php"),
		"link-dotdot.php": "../" + filepath.Base(outside) + "/secret.php",
		"linkdir":         outside,
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func routeModule(t *testing.T, root, body string) *Module {
	t.Helper()
	f := newFixture(t, root, `to = "unix:/nonexistent.sock"`+"\n"+body)
	return f.m
}

func TestFastCGIRoute(t *testing.T) {
	root := routeSite(t)
	withFront := routeModule(t, root, `front_controller = "/index.php"
index = ["index.php", "index.html"]`)
	noFront := routeModule(t, root, `index = ["index.php", "index.html"]`)
	htmlFirst := routeModule(t, root, `index = ["index.html", "index.php"]`)

	const (
		file  = "file"
		run   = "script"
		front = "front"
		nf    = "404"
	)
	tests := []struct {
		name    string
		m       *Module
		escaped string // the URL path as sent
		want    string // file, run, front or nf
		target  string // the file served or the script run
		info    string
	}{
		{"script", withFront, "/info.php", run, "/info.php", ""},
		{"path info", withFront, "/info.php/extra/x", run, "/info.php", "/extra/x"},
		{"path info encoded", withFront, "/info.php/a%20b", run, "/info.php", "/a b"},
		{"upper-case script runs, never shown", withFront, "/X.PHP", run, "/X.PHP", ""},
		{"static file", withFront, "/style.css", file, "/style.css", ""},
		{"script-like name, not a script", withFront, "/info.php.txt", file, "/info.php.txt", ""},
		{"jpg served as a file", withFront, "/uploads/evil.jpg", file, "/uploads/evil.jpg", ""},
		{"attack: script after a file", withFront, "/uploads/evil.jpg/x.php", front, "/index.php", ""},
		{"attack: script after a file, no front", noFront, "/uploads/evil.jpg/x.php", nf, "", ""},
		{"attack: NUL", withFront, "/info.php%00.jpg", nf, "", ""},
		{"attack: NUL after a jpg", withFront, "/uploads/evil.jpg%00.php", nf, "", ""},
		{"attack: dot-dot", withFront, "/blog/../info.php", nf, "", ""},
		{"attack: encoded dot-dot", withFront, "/%2e%2e/secret.php", nf, "", ""},
		{"attack: encoded slash", withFront, "/uploads%2fevil.jpg", nf, "", ""},
		{"attack: encoded backslash", withFront, "/uploads%5cevil.php", nf, "", ""},
		{"attack: backslash", withFront, "/uploads\\evil.php", nf, "", ""},
		{"attack: symlink out", withFront, "/link-out.php", front, "/index.php", ""},
		{"attack: relative symlink out", withFront, "/link-dotdot.php", front, "/index.php", ""},
		{"attack: symlinked dir out", withFront, "/linkdir/secret.php", front, "/index.php", ""},
		{"attack: symlink out, no front", noFront, "/link-out.php", nf, "", ""},
		{"symlink in", withFront, "/link-in.php", run, "/link-in.php", ""},
		{"dot-file script", withFront, "/.hidden.php", nf, "", ""},
		{"dot-dir", withFront, "/.git/config", nf, "", ""},
		{"well-known", withFront, "/.well-known/x.txt", file, "/.well-known/x.txt", ""},
		{"directory index script", withFront, "/blog/", run, "/blog/index.php", ""},
		{"directory without slash", withFront, "/blog", file, "/blog", ""},
		{"directory index html", withFront, "/docs/", file, "/docs/index.html", ""},
		{"index order: php first", withFront, "/both/", run, "/both/index.php", ""},
		{"index order: html first", htmlFirst, "/both/", file, "/both/index.html", ""},
		{"directory without index", withFront, "/empty/", front, "/index.php", ""},
		{"directory without index, no front", noFront, "/empty/", nf, "", ""},
		{"index named like a script but a dir", withFront, "/sub/", front, "/index.php", ""},
		{"root", withFront, "/", run, "/index.php", ""},
		{"missing", withFront, "/post/42", front, "/index.php", ""},
		{"missing, no front", noFront, "/post/42", nf, "", ""},
		{"missing script", withFront, "/nope.php", front, "/index.php", ""},
		{"missing script, no front", noFront, "/nope.php/x", nf, "", ""},
		{"script-named dir", withFront, "/dir.php/inside.css", front, "/index.php", ""},
		{"script-named dir, script in it", withFront, "/dir.php/inside.php", front, "/index.php", ""},
		{"empty segments", withFront, "//sub//page.php", run, "/sub/page.php", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://x"+tt.escaped, nil)
			rt, err := tt.m.route(r.URL.Path, r.URL.EscapedPath())
			var got, target, info string
			switch {
			case err != nil:
				got = nf
				if s := registry.StatusOf(err); s != http.StatusNotFound {
					t.Errorf("status %d, want 404: %v", s, err)
				}
			case rt.kind == routeFile:
				got, target = file, rt.file
			case rt.front:
				got, target, info = front, rt.scriptName, rt.pathInfo
			default:
				got, target, info = run, rt.scriptName, rt.pathInfo
			}
			if got != tt.want || target != tt.target || info != tt.info {
				t.Errorf("route(%q) = %s %q %q (%v); want %s %q %q", tt.escaped, got, target, info, err, tt.want, tt.target, tt.info)
			}
		})
	}
}

func TestFastCGIFrontControllerMissing(t *testing.T) {
	root := t.TempDir()
	m := routeModule(t, root, `front_controller = "/index.php"`)
	_, err := m.route("/post/1", "/post/1")
	if registry.StatusOf(err) != 404 || !strings.Contains(err.Error(), "front_controller /index.php is no file") {
		t.Errorf("route = %v", err)
	}
}

// TestFastCGIServesFiles checks that files go out through the file
// server, with its headers and ranges, and never reach the responder.
func TestFastCGIServesFiles(t *testing.T) {
	root := routeSite(t)
	f := newFixture(t, root, `to = "unix:/nonexistent.sock"`)
	req := gatewaytest.NewRequest(t, "GET", f.srv.URL+"/style.css", nil)
	req.Header.Set("Range", "bytes=0-3")
	resp, body := f.do(req)
	if resp.StatusCode != 206 || body != "body" || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" || resp.Header.Get("Etag") == "" {
		t.Errorf("range: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = f.get("/uploads/evil.jpg")
	if resp.StatusCode != 200 || body != "<?php system('id');" || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("jpg: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
	resp, _ = f.get("/blog")
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "/blog/" {
		t.Errorf("directory: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = f.do(gatewaytest.NewRequest(t, "DELETE", f.srv.URL+"/style.css", nil))
	if resp.StatusCode != 405 {
		t.Errorf("DELETE of a file: %d, want 405", resp.StatusCode)
	}
	// The responder is down: a script is a 502, which proves that the
	// file answers above did not come from it.
	if resp, _ := f.get("/info.php"); resp.StatusCode != 502 {
		t.Errorf("script with the responder down: %d", resp.StatusCode)
	}
	if err := f.lastError(); err == nil || !strings.Contains(err.Error(), "/nonexistent.sock") {
		t.Errorf("error %v", err)
	}
}

// TestFastCGIMountPrefix checks that a mount below the root maps the
// whole URL path under document_root.
func TestFastCGIMountPrefix(t *testing.T) {
	root := routeSite(t)
	f := newFixturePrefix(t, root, "/blog/", `to = "unix:/nonexistent.sock"
front_controller = "/blog/index.php"`)
	rt, err := f.m.route("/blog/2024/hello", "/blog/2024/hello")
	if err != nil || rt.scriptName != "/blog/index.php" || !rt.front {
		t.Errorf("route = %+v, %v", rt, err)
	}
	if resp, _ := f.get("/style.css"); resp.StatusCode != 404 {
		t.Errorf("outside the mount: %d", resp.StatusCode)
	}
}
