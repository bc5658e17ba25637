package tests

import (
	"strings"
	"testing"
)

// TestWSGIImportCheck runs httpd -t over WSGI apps that fail to import
// (a missing module two calls deep, a syntax error) and one that loads:
// each failure is a diagnostic at the Python file and line with the
// traceback's end; -no-import skips the check.
func TestWSGIImportCheck(t *testing.T) {
	python := wsgiPython(t)
	h := NewHarness(t)
	h.Write("lib/helper.py", "def load():\n    import no_such_module_here\n", 0o644)
	h.Write("wsgi/bad.wsgi", "import helper\n\nhelper.load()\n\ndef application(environ, start_response):\n    pass\n", 0o644)
	h.Write("wsgi/syntax.wsgi", "def application(environ, start_response:\n    pass\n", 0o644)
	h.Write("wsgi/good.wsgi", "def application(environ, start_response):\n    start_response('200 OK', [])\n    return [b'ok']\n", 0o644)
	h.Write("wsgi/nocallable.wsgi", "app = None\n", 0o644)
	config := func(scripts ...string) string {
		c := "server {\n  listen = [\"127.0.0.1:0\"]\n}\nvhost \"a.test\" {\n"
		for i, s := range scripts {
			c += "  wsgi_script_alias \"/" + string(rune('a'+i)) + "\" {\n    script = \"" + s + "\"\n    python = \"" + python + "\"\n    python_path = [\"lib\"]\n  }\n"
		}
		return c + "}\n"
	}

	h.Write("bad.hcl", config("wsgi/good.wsgi", "wsgi/bad.wsgi", "wsgi/syntax.wsgi", "wsgi/nocallable.wsgi"), 0o644)
	out, errOut, code := h.Run("-t", "-f", "bad.hcl")
	if code != 1 || strings.Contains(out, "Syntax OK") {
		t.Fatalf("httpd -t: exit %d, stdout %q; want exit 1 without Syntax OK\n%s", code, out, errOut)
	}
	for _, want := range []string{
		h.Dir + "/lib/helper.py:2:1: WSGI application failed to import: ModuleNotFoundError: No module named 'no_such_module_here'",
		"    import no_such_module_here\n",
		h.Dir + "/wsgi/syntax.wsgi:1:1: WSGI application failed to import: SyntaxError:",
		"bad.hcl:20:3: WSGI application failed to import: AttributeError: " + h.Dir + "/wsgi/nocallable.wsgi defines no callable named 'application'",
		"Fix the application, or run httpd -t -no-import to skip this check.",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("httpd -t stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "good.wsgi") || strings.Contains(errOut, `"<stdin>"`) {
		t.Errorf("httpd -t reports the good app or the worker's own frames:\n%s", errOut)
	}

	out, errOut, code = h.Run("-t", "-no-import", "-f", "bad.hcl")
	if code != 0 || out != "Syntax OK\n" {
		t.Errorf("httpd -t -no-import: exit %d, stdout %q, stderr %q; want Syntax OK", code, out, errOut)
	}
	h.Write("good.hcl", config("wsgi/good.wsgi"), 0o644)
	if out, errOut, code := h.Run("-t", "-f", "good.hcl"); code != 0 || out != "Syntax OK\n" {
		t.Errorf("httpd -t on a good app: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
