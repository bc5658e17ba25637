package tests

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
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

// TestWSGITimeoutStack runs an app that sleeps in a named function past
// request_timeout: the client gets 504 and the error log holds the
// Python stack of the thread that ran it, naming that function and
// line, tagged with the request; the worker is replaced and serves
// again.
func TestWSGITimeoutStack(t *testing.T) {
	python := wsgiPython(t)
	h := NewHarness(t)
	h.Write("wsgi/slow.wsgi", `import time


def wait_for_the_database(seconds):
    time.sleep(seconds)  # line 5: where the request hangs


def application(environ, start_response):
    if environ['PATH_INFO'] == '/slow':
        wait_for_the_database(60)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'fast']
`, 0o644)
	srv := h.Start(wsgiConfig(fmt.Sprintf(`
  wsgi_script_alias "/app" {
    script          = "wsgi/slow.wsgi"
    python          = %q
    processes       = 1
    threads         = 2
    request_timeout = "1s"
  }`, python)))
	if code, body := wsgiGet(t, srv.URL("/app/fast")); code != 200 || body != "fast" {
		t.Fatalf("GET /app/fast: %d %q", code, body)
	}
	req, err := http.NewRequest("GET", srv.URL("/app/slow?x=1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Request-Id", "req-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("GET /app/slow: %d, want 504", resp.StatusCode)
	}
	srv.WaitStderr("Python stack of its thread", 10*time.Second)
	var line string
	for _, l := range strings.Split(srv.Stderr(), "\n") {
		if strings.Contains(l, "Python stack of its thread") {
			line = l
		}
	}
	for _, want := range []string{
		"level=ERROR", "vhost=localhost", "mount=/app", "method=GET", `uri="/app/slow?x=1"`, "request_id=req-42", "thread=wsgi-",
		`slow.wsgi\", line 5, in wait_for_the_database`, `time.sleep(seconds)`,
		`slow.wsgi\", line 10, in application`,
	} {
		if !strings.Contains(line, want) {
			t.Errorf("stack line lacks %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "<stdin>") {
		t.Errorf("stack line shows the worker's own frames:\n%s", line)
	}
	// The worker was replaced: the mount serves again.
	if code, body := wsgiGet(t, srv.URL("/app/fast")); code != 200 || body != "fast" {
		t.Fatalf("GET /app/fast after the timeout: %d %q", code, body)
	}
	stopAndCheckWorkers(t, srv, h.Dir)
}
