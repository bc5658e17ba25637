package cgi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"httpd/internal/gateway/gatewaytest"
	"httpd/internal/testutil"
	"httpd/registry"
)

// childEnv marks the test binary running as a CGI script; the mount's
// env attribute sets it, since nothing else reaches a script.
const childEnv = "HTTPD_CGI_TEST_CHILD"

// childBinary is a copy of the test binary that tests link into their
// script folders under the name of the behaviour they want.
var childBinary string

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		runChild(filepath.Base(os.Args[0]))
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "cgi-test-child-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	exe, err := os.Executable()
	if err == nil {
		childBinary = filepath.Join(dir, "child")
		err = copyFile(exe, childBinary, 0o755)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runChild is the test binary acting as a CGI program named name.
func runChild(name string) {
	switch name {
	case "env":
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		cwd, _ := os.Getwd()
		out, _ := json.Marshal(map[string]any{"env": env, "cwd": cwd, "args": os.Args})
		fmt.Printf("Content-Type: application/json\r\n\r\n%s", out)
	case "echo":
		// Echo stdin as it arrives: the response starts before the input
		// ends.
		fmt.Print("Content-Type: application/octet-stream\n\n")
		io.Copy(os.Stdout, os.Stdin)
	case "count":
		n, _ := io.Copy(io.Discard, os.Stdin)
		fmt.Printf("Content-Type: text/plain\n\n%d %s", n, os.Getenv("CONTENT_LENGTH"))
	default:
		fmt.Printf("Status: 500\nContent-Type: text/plain\n\nunknown child %q\n", name)
	}
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}

// fixture is a script folder, a mount over it and a server in front.
type fixture struct {
	t      *testing.T
	dir    string // the script folder
	out    string // a scratch folder scripts may write to ($OUT)
	docs   string // document root
	mod    *Module
	srv    *httptest.Server
	h      registry.Handler
	logs   *testutil.SyncBuffer
	kill   chan struct{} // the mount's Env.Kill
	mu     sync.Mutex
	errors []error // errors the handler returned
}

// newFixture decodes a script_alias block (attrs is its body, without
// path and env) and serves it over HTTP/1. Scripts get OUT, the scratch
// folder, and the marker for the test binary as a child.
func newFixture(t *testing.T, attrs string) *fixture {
	t.Helper()
	f := emptyFixture(t)
	f.mount("/cgi-bin/", fmt.Sprintf("path = %q\n%s", f.dir, attrs))
	return f
}

// newProgramFixture mounts the test binary as the one program of "/git/",
// behaving as child name.
func newProgramFixture(t *testing.T, name, attrs string) *fixture {
	t.Helper()
	f := emptyFixture(t)
	f.child(name)
	f.mount("/git/", fmt.Sprintf("program = %q\n%s", filepath.Join(f.dir, name), attrs))
	return f
}

func emptyFixture(t *testing.T) *fixture {
	return &fixture{t: t, dir: t.TempDir(), out: t.TempDir(), docs: t.TempDir(), logs: &testutil.SyncBuffer{}, kill: make(chan struct{})}
}

// mount decodes a script_alias block at prefix whose body is attrs plus
// the env every test script gets, and serves it.
func (f *fixture) mount(prefix, attrs string) {
	f.t.Helper()
	src := fmt.Sprintf("script_alias %q {\n env = { %s = \"1\", OUT = %q, EXTRA = \"from-block\" }\n %s\n}\n",
		prefix, childEnv, f.out, attrs)
	f.mod = decodeModule(f.t, src)
	f.start(nil)
}

func decodeModule(t *testing.T, src string) *Module {
	t.Helper()
	m, diags := decode(src)
	if diags.HasErrors() {
		t.Fatalf("decode: %s", diags.Error())
	}
	if diags := m.Validate(&registry.DecodeContext{ServerRoot: "/"}); diags.HasErrors() {
		t.Fatalf("validate: %s", diags.Error())
	}
	return m
}

func decode(src string) (*Module, hcl.Diagnostics) {
	file, diags := hclsyntax.ParseConfig([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	content, diags := file.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "script_alias", LabelNames: []string{"url_prefix"}}}})
	if diags.HasErrors() {
		return nil, diags
	}
	m := new(Module)
	dc := &registry.DecodeContext{ServerRoot: "/srv", File: "test.hcl"}
	return m, m.Decode(content.Blocks[0], dc)
}

// start provisions the module and serves it; tls selects an HTTP/2 TLS
// server.
func (f *fixture) start(configure func(*httptest.Server)) {
	t := f.t
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var h registry.Handler
	serve := func(rw http.ResponseWriter, r *http.Request) {
		w := &gatewaytest.TrackingWriter{ResponseWriter: rw}
		if err := h.ServeHTTP(w, r); err != nil {
			f.mu.Lock()
			f.errors = append(f.errors, err)
			f.mu.Unlock()
			logger.Error("request failed", "err", err)
			if !w.Wrote {
				st := registry.StatusOf(err)
				http.Error(w, http.StatusText(st), st)
			}
		}
	}
	env := &registry.Env{Logger: logger, VHost: "test", ServerRoot: "/", DocumentRoot: f.docs, ServerSoftware: "httpd/test", Kill: f.kill, Dispatch: serve}
	if err := f.mod.Provision(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	next := registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return registry.Errorf(http.StatusNotFound, "fallback: %s", r.URL.Path)
	})
	h = testutil.Mounted(f.mod.Prefix, f.mod.Wrap(next), next)
	f.h = h
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(serve))
	if configure != nil {
		configure(f.srv)
	} else {
		f.srv.Start()
	}
	t.Cleanup(func() {
		f.srv.CloseClientConnections()
		f.srv.Close()
		if err := f.mod.Cleanup(); err != nil {
			t.Error(err)
		}
	})
}

// script writes an sh script into the script folder.
func (f *fixture) script(name, body string) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		f.t.Fatal(err)
	}
}

// child puts the test binary into the script folder as name.
func (f *fixture) child(name string) {
	f.t.Helper()
	dst := filepath.Join(f.dir, name)
	if err := os.Link(childBinary, dst); err != nil {
		if err := copyFile(childBinary, dst, 0o755); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *fixture) get(path string) (*http.Response, string) {
	f.t.Helper()
	return f.do(gatewaytest.NewRequest(f.t, "GET", f.srv.URL+path, nil))
}

func (f *fixture) do(req *http.Request) (*http.Response, string) {
	f.t.Helper()
	return gatewaytest.Do(f.t, f.srv.Client(), req)
}

func (f *fixture) lastError() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errors) == 0 {
		return ""
	}
	return f.errors[len(f.errors)-1].Error()
}

// readPids reads the pids a script recorded in $OUT/pids, waiting until
// there are want of them.
func (f *fixture) readPids(want int) []int {
	f.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(f.out, "pids"))
		var pids []int
		for _, s := range strings.Fields(string(b)) {
			var p int
			fmt.Sscan(s, &p)
			pids = append(pids, p)
		}
		if len(pids) >= want {
			return pids
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("script recorded %d pids, want %d", len(pids), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitGone fails unless every pid has exited within timeout. A zombie
// counts as exited: its parent may be an init that reaps late.
func waitGone(t *testing.T, pids []int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var alive []int
		for _, p := range pids {
			if processAlive(p) {
				alive = append(alive, p)
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes still running: %v", alive)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func envLines(env map[string]string) string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, env[k])
	}
	return b.String()
}
