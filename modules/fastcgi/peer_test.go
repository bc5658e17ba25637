package fastcgi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/fcgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"httpd/internal/gateway/gatewaytest"
	"httpd/internal/testutil"
	wire "httpd/modules/fastcgi/fcgi"
	"httpd/registry"
)

// socketDir is a short temporary folder for Unix sockets, whose paths
// are limited to about 100 bytes (t.TempDir's can be longer).
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fcgi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	accepted atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// peer is a FastCGI responder for tests on a Unix socket.
type peer struct {
	to string // the to attribute that reaches it
	ln *countingListener
}

// accepted is the number of connections the peer accepted so far.
func (p *peer) accepted() int { return int(p.ln.accepted.Load()) }

func listenPeer(t *testing.T) *peer {
	t.Helper()
	sock := filepath.Join(socketDir(t), "peer.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &peer{to: "unix:" + sock, ln: &countingListener{Listener: ln}}
}

// newStdPeer serves h with net/http/fcgi, the standard library's
// responder.
func newStdPeer(t *testing.T, h http.Handler) *peer {
	t.Helper()
	p := listenPeer(t)
	go fcgi.Serve(p.ln, h)
	return p
}

// rawRequest is a request as a raw peer received it.
type rawRequest struct {
	begin  wire.BeginRequest
	params map[string]string
	stdin  []byte
	n      int // how many requests came before on the connection
}

// newRawPeer is a responder written with package fcgi, for answers that
// net/http/fcgi cannot give (STDERR, malformed records, overload). It
// reads each request whole, then answer writes the raw reply. A
// connection is closed after a request without FCGI_KEEP_CONN, after an
// answer that returns false, and when a record cannot be read.
func newRawPeer(t *testing.T, answer func(req *rawRequest, w io.Writer) bool) *peer {
	t.Helper()
	return newWorkerPeer(t, 0, answer)
}

// newWorkerPeer is newRawPeer with workers workers (0 for no limit): as
// in PHP-FPM, a worker serves one connection until it is closed, and a
// connection waits in the backlog, unaccepted, while every worker is
// busy.
func newWorkerPeer(t *testing.T, workers int, answer func(req *rawRequest, w io.Writer) bool) *peer {
	t.Helper()
	p := listenPeer(t)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	if workers <= 0 {
		workers = 1 << 20
	}
	slots := make(chan struct{}, workers)
	go func() {
		for {
			slots <- struct{}{}
			c, err := p.ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				defer c.Close()
				rd := wire.NewReader(c, 0)
				for n := 0; ; n++ {
					req, err := readRawRequest(rd)
					if err != nil {
						return
					}
					req.n = n
					if !answer(req, c) || req.begin.Flags&wire.FlagKeepConn == 0 {
						return
					}
				}
			}()
		}
	}()
	return p
}

func readRawRequest(rd *wire.Reader) (*rawRequest, error) {
	req := &rawRequest{params: map[string]string{}}
	var params []byte
	for {
		rec, err := rd.Next()
		if err != nil {
			return nil, err
		}
		switch rec.Type {
		case wire.TypeBeginRequest:
			if req.begin, err = wire.ParseBeginRequest(rec.Content); err != nil {
				return nil, err
			}
		case wire.TypeParams:
			if len(rec.Content) == 0 {
				if err := wire.ParsePairs(params, func(n, v []byte) { req.params[string(n)] = string(v) }); err != nil {
					return nil, err
				}
			}
			params = append(params, rec.Content...)
		case wire.TypeStdin:
			if len(rec.Content) == 0 {
				return req, nil
			}
			req.stdin = append(req.stdin, rec.Content...)
		default:
			return nil, errors.New("unexpected record " + rec.Type.String())
		}
	}
}

// reply is a well-formed answer: STDOUT out, then END_REQUEST.
func reply(out string) []byte {
	b := wire.AppendStream(nil, wire.TypeStdout, reqID, []byte(out))
	return wire.AppendEndRequest(b, reqID, 0, wire.StatusRequestComplete)
}

// fixture is a fastcgi module provisioned over a document root and
// served the way a vhost serves it.
type fixture struct {
	t    *testing.T
	m    *Module
	root string
	log  *testutil.SyncBuffer
	h    registry.Handler
	srv  *httptest.Server

	mu      sync.Mutex // guards lastErr
	lastErr error
}

// newFixture decodes the block body (without its braces) for mount "/"
// with the files of root, provisions it and starts a test server.
func newFixture(t *testing.T, root, body string) *fixture {
	t.Helper()
	return newFixturePrefix(t, root, "/", body)
}

// testShared stands for the server's Env.Shared: the fixtures of a test
// run share responders as the mounts of one server do.
var testShared registry.Shared

func newFixturePrefix(t *testing.T, root, prefix, body string) *fixture {
	t.Helper()
	f := &fixture{t: t, root: root, log: &testutil.SyncBuffer{}}
	b := testutil.ParseBlock(t, "fastcgi \""+prefix+"\" {\n"+body+"\n}\n")
	dc := &registry.DecodeContext{ServerRoot: root, DocumentRoot: root, VHost: "test", File: "test.hcl"}
	m := new(Module)
	diags := m.Decode(b, dc)
	diags = append(diags, m.Validate(dc)...)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	logger := slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env := &registry.Env{Logger: logger, VHost: "test", ServerRoot: root, DocumentRoot: root, Dispatch: f.dispatch, ServerSoftware: "httpd/test", Shared: &testShared}
	if err := m.Provision(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Cleanup(); err != nil {
			t.Error(err)
		}
	})
	f.m = m
	f.h = testutil.Mounted(prefix, m.Wrap(nil), registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return registry.Errorf(http.StatusNotFound, "outside the mount")
	}))
	f.srv = httptest.NewServer(http.HandlerFunc(f.dispatch))
	t.Cleanup(f.srv.Close)
	return f
}

// dispatch serves r as a vhost does: an error before the response began
// becomes its status, one after cuts the connection.
func (f *fixture) dispatch(w http.ResponseWriter, r *http.Request) {
	tw := &gatewaytest.TrackingWriter{ResponseWriter: w}
	err := f.h.ServeHTTP(tw, r)
	if err == nil {
		return
	}
	f.mu.Lock()
	f.lastErr = err
	f.mu.Unlock()
	f.log.Write([]byte("request failed: " + err.Error() + "\n"))
	if tw.Wrote {
		panic(http.ErrAbortHandler)
	}
	w.WriteHeader(registry.StatusOf(err))
}

// lastError is the error of the last failed request, or nil.
func (f *fixture) lastError() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastErr
}

// write creates a file under the fixture's root.
func writeFile(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
