package basicauth

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"httpd/internal/gateway"
	"httpd/internal/testutil"
	"httpd/registry"
)

// next stands for the rest of the pipeline: it writes the user the
// request carries.
var next = registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	user, typ := gateway.User(r)
	fmt.Fprintf(w, "next user=%s type=%s", user, typ)
	return nil
})

// root makes a server root holding conf/htpasswd with the given lines.
func root(t testing.TB, lines ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "conf", "htpasswd"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// load decodes, validates and provisions a block in dir.
func load(t testing.TB, dir, src string) *Module {
	t.Helper()
	m := new(Module)
	dc := &registry.DecodeContext{ServerRoot: dir}
	if diags := m.Decode(testutil.ParseBlock(t, src), dc); diags.HasErrors() {
		t.Fatalf("decode: %s", diags.Error())
	}
	if diags := m.Validate(dc); diags.HasErrors() {
		t.Fatalf("validate: %s", diags.Error())
	}
	if err := m.Provision(context.Background(), &registry.Env{}); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDecode(t *testing.T) {
	dir := root(t, bobSHA)
	tests := []struct {
		name  string
		src   string
		realm string
		file  string
		cache time.Duration
		errs  []string // summaries and details, in order
	}{
		{
			name: "full", src: `basic_auth "/admin/" {
  realm    = "Admin \"area\""
  htpasswd = "conf/htpasswd"
  cache    = "30s"
}`, realm: `Admin "area"`, file: filepath.Join(dir, "conf/htpasswd"), cache: 30 * time.Second,
		},
		{
			name: "defaults", src: `basic_auth "/" {
  htpasswd = "conf/htpasswd"
}`, realm: "Restricted", file: filepath.Join(dir, "conf/htpasswd"), cache: 2 * time.Minute,
		},
		{
			name: "absolute file, no cache", src: `basic_auth "/" {
  htpasswd = "/etc/htpasswd"
  cache    = "0s"
}`, realm: "Restricted", file: "/etc/htpasswd",
		},
		{
			name: "missing htpasswd", src: `basic_auth "/admin/" {
  realm = "Admin"
}`, realm: "Admin", cache: DefaultCache, errs: []string{`Missing required argument: The argument "htpasswd" is required`},
		},
		{
			name: "empty htpasswd", src: `basic_auth "/admin/" {
  htpasswd = ""
}`, realm: "Restricted", cache: DefaultCache, errs: []string{"Empty htpasswd: htpasswd names the file"},
		},
		{
			name: "bad realm", src: `basic_auth "/admin/" {
  realm    = "a\nb"
  htpasswd = "conf/htpasswd"
}`, realm: "Restricted", file: filepath.Join(dir, "conf/htpasswd"), cache: DefaultCache, errs: []string{`Invalid realm: "a\nb" holds a control character`},
		},
		{
			name: "empty realm", src: `basic_auth "/admin/" {
  realm    = ""
  htpasswd = "conf/htpasswd"
}`, realm: "Restricted", file: filepath.Join(dir, "conf/htpasswd"), cache: DefaultCache, errs: []string{"Invalid realm: realm cannot be empty"},
		},
		{
			name: "bad prefix and cache", src: `basic_auth "admin" {
  htpasswd = "conf/htpasswd"
  cache    = "soon"
}`, realm: "Restricted", file: filepath.Join(dir, "conf/htpasswd"), cache: DefaultCache, errs: []string{
				`Invalid URL prefix: "admin": a URL prefix must start with "/"`,
				`Invalid duration for cache: "soon" is not a duration`,
			},
		},
		{
			name: "unknown attribute", src: `basic_auth "/" {
  htpasswd = "conf/htpasswd"
  user_file = "x"
}`, realm: "Restricted", file: filepath.Join(dir, "conf/htpasswd"), cache: DefaultCache, errs: []string{"Unsupported argument"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := new(Module)
			diags := m.Decode(testutil.ParseBlock(t, tt.src), &registry.DecodeContext{ServerRoot: dir})
			if len(diags) != len(tt.errs) {
				t.Fatalf("diagnostics %v, want %q", diags, tt.errs)
			}
			for i, d := range diags {
				if got := d.Summary + ": " + d.Detail; !strings.HasPrefix(got, tt.errs[i]) || d.Subject == nil {
					t.Errorf("diagnostic %q (subject %v), want it to start with %q", got, d.Subject, tt.errs[i])
				}
			}
			if m.Realm != tt.realm || m.Htpasswd != tt.file || m.Cache != tt.cache {
				t.Errorf("realm %q file %q cache %v; want %q %q %v", m.Realm, m.Htpasswd, m.Cache, tt.realm, tt.file, tt.cache)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	dir := root(t, "# admins", aliceBcrypt, "bob:builder")
	if err := os.WriteFile(filepath.Join(dir, "conf", "good"), []byte(bobSHA+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "conf", "empty"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file string
		want string // summary: detail prefix; "" for no diagnostic
	}{
		{"conf/good", ""},
		{"conf/empty", ""},
		{"conf/htpasswd", "Invalid htpasswd file: " + filepath.Join(dir, "conf/htpasswd") + `:3: user "bob": not a bcrypt, apr1 or {SHA} hash`},
		{"conf/missing", "htpasswd file not found: " + filepath.Join(dir, "conf/missing") + " does not exist; make it with: htpasswd -cB"},
		{"conf", "Cannot read the htpasswd file: " + filepath.Join(dir, "conf")},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m := new(Module)
			dc := &registry.DecodeContext{ServerRoot: dir}
			src := fmt.Sprintf("basic_auth \"/\" {\n  htpasswd = %q\n}\n", tt.file)
			if diags := m.Decode(testutil.ParseBlock(t, src), dc); diags.HasErrors() {
				t.Fatal(diags)
			}
			diags := m.Validate(dc)
			if tt.want == "" {
				if len(diags) > 0 {
					t.Fatalf("diagnostics: %v", diags)
				}
				if err := m.Provision(context.Background(), &registry.Env{}); err != nil {
					t.Fatalf("provision: %v", err)
				}
				return
			}
			if len(diags) != 1 {
				t.Fatalf("diagnostics %v, want one", diags)
			}
			d := diags[0]
			if got := d.Summary + ": " + d.Detail; !strings.HasPrefix(got, tt.want) {
				t.Errorf("diagnostic %q, want %q", got, tt.want)
			}
			if d.Subject == nil || d.Subject.Start.Line != 2 || d.Subject.Filename != "test.hcl" {
				t.Errorf("subject %v, want test.hcl line 2", d.Subject)
			}
			// Provision fails the same way, naming the file.
			err := m.Provision(context.Background(), &registry.Env{})
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, tt.file)) {
				t.Errorf("provision: %v", err)
			}
		})
	}
}

func TestChallenge(t *testing.T) {
	tests := []struct{ realm, want string }{
		{"Admin", `Basic realm="Admin"`},
		{`say "hi"`, `Basic realm="say \"hi\""`},
		{`a\b`, `Basic realm="a\\b"`},
		{"Zoë", `Basic realm="Zoë"`},
	}
	for _, tt := range tests {
		if got := Challenge(tt.realm); got != tt.want {
			t.Errorf("Challenge(%q) = %s, want %s", tt.realm, got, tt.want)
		}
	}
}

// serve runs a request through h as the vhost does, answering an error
// with its status.
func serve(h registry.Handler, r *http.Request) (*httptest.ResponseRecorder, error) {
	w := httptest.NewRecorder()
	err := h.ServeHTTP(w, r)
	if err != nil {
		w.WriteHeader(registry.StatusOf(err))
	}
	return w, err
}

func TestServe(t *testing.T) {
	dir := root(t, aliceBcrypt, bobSHA, carolAPR1)
	if err := os.WriteFile(filepath.Join(dir, "conf", "staff"), []byte(bobSHA+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	admin := load(t, dir, `basic_auth "/admin/" {
  realm    = "Admin"
  htpasswd = "conf/htpasswd"
}`)
	staff := load(t, dir, `basic_auth "/admin/staff/" {
  realm    = "Staff"
  htpasswd = "conf/staff"
}`)
	// The vhost wraps the last block first.
	h := admin.Wrap(staff.Wrap(next))

	tests := []struct {
		name       string
		path       string
		user, pass string // no Authorization when user is ""
		header     string // a raw Authorization header instead
		status     int
		challenge  string // WWW-Authenticate of a 401
		body       string
		err        string
	}{
		{name: "outside the prefix", path: "/index.html", status: 200, body: "next user= type="},
		{name: "prefix itself without slash", path: "/admin", status: 200, body: "next user= type="},
		{name: "no credentials", path: "/admin/", status: 401, challenge: `Basic realm="Admin"`, err: "basic_auth /admin/: no credentials"},
		{name: "bcrypt", path: "/admin/x", user: "alice", pass: "wonderland", status: 200, body: "next user=alice type=Basic"},
		{name: "sha", path: "/admin/x", user: "bob", pass: "builder", status: 200, body: "next user=bob type=Basic"},
		{name: "apr1", path: "/admin/x", user: "carol", pass: "pässwörd", status: 200, body: "next user=carol type=Basic"},
		{name: "wrong password", path: "/admin/x", user: "alice", pass: "looking-glass", status: 401, challenge: `Basic realm="Admin"`, err: `user "alice": wrong password`},
		{name: "unknown user", path: "/admin/x", user: "eve", pass: "wonderland", status: 401, challenge: `Basic realm="Admin"`, err: `user "eve" is not in ` + filepath.Join(dir, "conf/htpasswd")},
		{name: "other scheme", path: "/admin/x", header: "Bearer abc", status: 401, challenge: `Basic realm="Admin"`, err: "not Basic credentials"},
		{name: "bad base64", path: "/admin/x", header: "Basic !!!", status: 401, challenge: `Basic realm="Admin"`},
		{name: "scheme in lower case", path: "/admin/x", header: "basic Ym9iOmJ1aWxkZXI=", status: 200, body: "next user=bob type=Basic"},
		{name: "longest prefix decides: staff file", path: "/admin/staff/x", user: "bob", pass: "builder", status: 200, body: "next user=bob type=Basic"},
		{name: "longest prefix decides: not in staff", path: "/admin/staff/x", user: "alice", pass: "wonderland", status: 401, challenge: `Basic realm="Staff"`},
		{name: "double slash", path: "//admin/x", status: 401, challenge: `Basic realm="Admin"`},
		{name: "dot segments", path: "/x/../admin/x", status: 401, challenge: `Basic realm="Admin"`},
		{name: "dot segment to staff", path: "/admin/./staff/", user: "alice", pass: "wonderland", status: 401, challenge: `Basic realm="Staff"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://example.com/", nil)
			r.URL.Path = tt.path
			switch {
			case tt.header != "":
				r.Header.Set("Authorization", tt.header)
			case tt.user != "":
				r.SetBasicAuth(tt.user, tt.pass)
			}
			w, err := serve(h, r)
			if w.Code != tt.status {
				t.Fatalf("status %d (%v), want %d", w.Code, err, tt.status)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			if tt.status == 401 && w.Body.Len() > 0 {
				t.Errorf("a 401 wrote %q", w.Body.String())
			}
			if w.Body.String() != tt.body {
				t.Errorf("body %q, want %q", w.Body.String(), tt.body)
			}
			if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("error %v, want %q in it", err, tt.err)
			}
			if err != nil && strings.Contains(err.Error(), tt.pass) && tt.pass != "" {
				t.Errorf("the error holds the password: %v", err)
			}
		})
	}
}

// TestCache: a verified pair is remembered, a failure is not, and an
// entry expires.
func TestCache(t *testing.T) {
	dir := root(t, aliceBcrypt)
	m := load(t, dir, `basic_auth "/" {
  htpasswd = "conf/htpasswd"
}`)
	h := m.Wrap(next)
	get := func(user, pass string) int {
		r := httptest.NewRequest("GET", "/", nil)
		r.SetBasicAuth(user, pass)
		w, _ := serve(h, r)
		return w.Code
	}
	if code := get("alice", "wrong"); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	if n := m.cache.len(); n != 0 {
		t.Fatalf("a failure entered the cache: %d entries", n)
	}
	if code := get("alice", "wonderland"); code != 200 {
		t.Fatalf("right password: %d", code)
	}
	if n := m.cache.len(); n != 1 {
		t.Fatalf("%d entries after a success, want 1", n)
	}
	// With the file's users gone, only the cache can let alice in.
	m.users, _ = Parse(strings.NewReader(""), "empty")
	if code := get("alice", "wonderland"); code != 200 {
		t.Errorf("a cached pair: %d", code)
	}
	if code := get("alice", "wonderland2"); code != 401 {
		t.Errorf("another password of a cached user: %d", code)
	}
	// Once expired, the entry no longer counts.
	for k := range m.cache.m {
		m.cache.m[k] = time.Now().Add(-time.Second)
	}
	if code := get("alice", "wonderland"); code != 401 {
		t.Errorf("an expired pair: %d", code)
	}
	// No plaintext in the cache keys.
	k := m.cache.sum("alice", "wonderland")
	if strings.Contains(string(k[:]), "wonderland") {
		t.Error("the key holds the password")
	}
	if newCache(time.Minute).sum("alice", "wonderland") == k {
		t.Error("two caches give the same key: it is not keyed")
	}
}

// TestCacheBound: the cache never holds more than cacheMax entries.
func TestCacheBound(t *testing.T) {
	c := newCache(time.Minute)
	now := time.Now()
	for i := range cacheMax + 100 {
		c.add(c.sum(fmt.Sprint("user", i), "pw"), now)
		if n := c.len(); n > cacheMax {
			t.Fatalf("%d entries after %d adds", n, i+1)
		}
	}
	// The newest entry stays.
	if !c.hit(c.sum(fmt.Sprint("user", cacheMax+99), "pw"), now) {
		t.Error("the newest entry is gone")
	}
	// Expired entries go first.
	c = newCache(time.Minute)
	for i := range cacheMax {
		c.add(c.sum(fmt.Sprint("user", i), "pw"), now.Add(-2*time.Minute))
	}
	c.add(c.sum("fresh", "pw"), now)
	if n := c.len(); n != 1 {
		t.Errorf("%d entries, want the fresh one alone", n)
	}
}

// TestTiming: a wrong user costs as much as a wrong password. Each is
// checked 15 times at bcrypt cost 6, in turns, and measured in CPU time
// of the thread that runs it, which other work on a busy machine does
// not disturb; the totals must be within 25% of each other, while a
// missing dummy check would be a hundred times faster and a dummy one
// cost step off twice as slow or fast. TestDummy checks that the dummy
// has exactly the scheme and cost of the users.
func TestTiming(t *testing.T) {
	// htpasswd -nbB -C 6 frank secret
	u, err := Parse(strings.NewReader("frank:$2y$06$r2Kq9UNvDNPNdccR6Kf.seDfli2p47EUImzmV3Xa1jf50kWYzXCf2\n"), "f")
	if err != nil {
		t.Fatal(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu := func() time.Duration {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ts.Nano())
	}
	spent := map[string]time.Duration{}
	for range 15 {
		for _, user := range []string{"frank", "nobody"} {
			start := cpu()
			if ok, _ := u.Check(user, "wrong"); ok {
				t.Fatal("accepted")
			}
			spent[user] += cpu() - start
		}
	}
	known, unknown := spent["frank"], spent["nobody"]
	ratio := float64(known) / float64(unknown)
	t.Logf("CPU time of 15 checks: wrong password %v, wrong user %v", known, unknown)
	if ratio > 1.25 || ratio < 1/1.25 {
		t.Errorf("wrong password takes %v, wrong user %v: not the same cost", known, unknown)
	}
}

func TestExplain(t *testing.T) {
	m := new(Module)
	dc := &registry.DecodeContext{ServerRoot: "/srv"}
	if diags := m.Decode(testutil.ParseBlock(t, "basic_auth \"/admin/\" {\n  realm = \"Admin\"\n  htpasswd = \"conf/htpasswd\"\n}\n"), dc); diags.HasErrors() {
		t.Fatal(diags)
	}
	tests := []struct {
		path, user string
		status     int
		says       string
	}{
		{"/", "", 0, "does not apply"},
		{"/admin/x", "", 401, `no credentials, so the answer is 401 Unauthorized with Basic realm="Admin" (users in /srv/conf/htpasswd)`},
		{"/admin/x", "alice", 0, `the password of user "alice" is checked against /srv/conf/htpasswd`},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", tt.path, nil)
		if tt.user != "" {
			r.SetBasicAuth(tt.user, "x")
		}
		e := m.Explain(r, registry.Mount{})
		if e.Status != tt.status || e.Ends != (tt.status != 0) || !strings.Contains(e.Says, tt.says) {
			t.Errorf("%s %s: %+v, want status %d and %q", tt.path, tt.user, e, tt.status, tt.says)
		}
	}
	if got, want := m.Describe(), `basic_auth /admin/ realm "Admin" htpasswd /srv/conf/htpasswd`; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}

// BenchmarkServe measures a logged-in user's request (the cache answers)
// and one outside the prefix.
func BenchmarkServe(b *testing.B) {
	dir := root(b, aliceBcrypt)
	m := load(b, dir, `basic_auth "/admin/" {
  htpasswd = "conf/htpasswd"
}`)
	h := m.Wrap(registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error { return nil }))
	for _, bc := range []struct{ name, path string }{{"cached", "/admin/x"}, {"outside", "/x"}} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", bc.path, nil)
			r.SetBasicAuth("alice", "wonderland")
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, r); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := h.ServeHTTP(w, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
