package compress

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"httpd/internal/coding"
	"httpd/internal/testutil"
	"httpd/registry"
)

func TestRegistered(t *testing.T) {
	info, ok := registry.Lookup("compress")
	if !ok {
		t.Fatal("compress is not registered")
	}
	if info.Phase != registry.PhaseEncode || !info.Phase.Outbound() || len(info.Labels) != 0 {
		t.Errorf("info = %+v", info)
	}
}

func decodeSrc(t testing.TB, src string) (*Module, []string) {
	t.Helper()
	m := new(Module)
	diags := m.Decode(testutil.ParseBlock(t, src), &registry.DecodeContext{ServerRoot: "/srv", VHost: "test"})
	var out []string
	for _, d := range diags {
		out = append(out, d.Error())
	}
	return m, out
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		encodings []coding.Coding
		minSize   int64
		types     []string
		levels    coding.Levels
		diags     []string // parts of the diagnostics, in order
	}{
		{name: "defaults", src: `compress {}`, encodings: []coding.Coding{coding.Zstd, coding.Br, coding.Gzip},
			minSize: 512, types: DefaultTypes, levels: coding.DefaultLevels},
		{name: "all set", src: `compress {
			encodings = ["gzip", "br"]
			min_size  = "1KiB"
			types     = ["text/html", "application/*"]
			level     = { gzip = 9, br = 11, zstd = 19 }
		}`, encodings: []coding.Coding{coding.Gzip, coding.Br}, minSize: 1024, types: []string{"text/html", "application/*"},
			levels: coding.Levels{coding.Gzip: 9, coding.Br: 11, coding.Zstd: 19}},
		{name: "unknown encoding", src: `compress { encodings = ["gzip", "deflate"] }`,
			diags: []string{`test.hcl:1,24-43: Unknown encoding; "deflate" is not an encoding httpd can produce`}},
		{name: "duplicate encoding", src: `compress { encodings = ["gzip", "x-gzip"] }`, diags: []string{"Duplicate encoding"}},
		{name: "empty encodings", src: `compress { encodings = [] }`, diags: []string{"Empty encodings"}},
		{name: "bad type", src: `compress { types = ["text", "*/html", "text/html; charset=utf-8"] }`, diags: []string{
			`Invalid media type in types; "text" has no "/"`, `"*/html" has a wildcard type`, `holds a space, parameter`}},
		{name: "bad level", src: `compress { level = { gzip = 10, lz4 = 1, br = "x" } }`, diags: []string{
			"Invalid level", "Invalid level", "Unknown encoding in level"}},
		{name: "bad size", src: `compress { min_size = "big" }`, diags: []string{"Invalid size for min_size"}},
		{name: "misspelt", src: `compress { encoding = ["gzip"] }`, diags: []string{`Did you mean "encodings"?`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, diags := decodeSrc(t, tt.src)
			if len(diags) != len(tt.diags) {
				t.Fatalf("diagnostics = %q, want %d like %q", diags, len(tt.diags), tt.diags)
			}
			slices.Sort(diags)
			want := slices.Clone(tt.diags)
			for _, w := range want {
				if !slices.ContainsFunc(diags, func(d string) bool { return strings.Contains(d, w) }) {
					t.Errorf("no diagnostic holds %q in %q", w, diags)
				}
			}
			if len(tt.diags) > 0 {
				return
			}
			if !slices.Equal(m.encodings, tt.encodings) || m.policy.MinSize != tt.minSize ||
				!slices.Equal(m.policy.Types, tt.types) || m.policy.Levels != tt.levels {
				t.Errorf("decoded %v %d %q %v", m.encodings, m.policy.MinSize, m.policy.Types, m.policy.Levels)
			}
		})
	}
}

// stage decodes and provisions src and wraps next in it, answering errors
// with their status.
func stage(t *testing.T, src string, next registry.HandlerFunc) http.Handler {
	t.Helper()
	m, diags := decodeSrc(t, src)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if err := m.Provision(context.Background(), &registry.Env{}); err != nil {
		t.Fatal(err)
	}
	h := m.Wrap(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h.ServeHTTP(w, r); err != nil {
			w.WriteHeader(registry.StatusOf(err))
		}
	})
}

var big = strings.Repeat("<p>compress me, compress me</p>\n", 100)

// content answers as the path says.
var content = registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Etag", `"v1"`)
	switch r.URL.Path {
	case "/big":
		io.WriteString(w, big)
	case "/length":
		h.Set("Content-Length", strconv.Itoa(len(big)))
		h.Set("Accept-Ranges", "bytes")
		io.WriteString(w, big)
	case "/small":
		io.WriteString(w, "small")
	case "/small-length":
		h.Set("Content-Length", "5")
		io.WriteString(w, "small")
	case "/chunks": // many writes below min_size each
		for range 100 {
			io.WriteString(w, big[:32])
		}
	case "/png":
		h.Set("Content-Type", "image/png")
		io.WriteString(w, big)
	case "/none":
		h.Del("Content-Type")
		io.WriteString(w, big)
	case "/encoded":
		h.Set("Content-Encoding", "gzip")
		io.WriteString(w, big)
	case "/no-transform":
		h.Set("Cache-Control", "public, no-transform")
		io.WriteString(w, big)
	case "/partial":
		h.Set("Content-Range", "bytes 0-9/100")
		w.WriteHeader(http.StatusPartialContent)
		io.WriteString(w, big[:10])
	case "/304":
		if strings.Contains(r.Header.Get("If-None-Match"), `"v1"`) {
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
		io.WriteString(w, big)
	case "/204":
		w.WriteHeader(http.StatusNoContent)
	case "/readfrom":
		w.(io.ReaderFrom).ReadFrom(strings.NewReader(big))
	case "/vary":
		h.Set("Vary", "Origin")
		io.WriteString(w, big)
	case "/error":
		return registry.Errorf(http.StatusForbidden, "no")
	case "/empty":
	}
	return nil
})

func decodeBody(t *testing.T, ce string, b []byte) string {
	t.Helper()
	var r io.Reader
	switch ce {
	case "":
		return string(b)
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("Content-Encoding %q", ce)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", ce, err)
	}
	return string(out)
}

func TestWriter(t *testing.T) {
	h := stage(t, `compress {}`, content)
	tests := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		status  int
		ce      string // Content-Encoding wanted
		vary    bool
		etag    string
		body    string // decoded; "" to skip
		length  bool   // Content-Length wanted
	}{
		{name: "gzip", path: "/big", headers: map[string]string{"Accept-Encoding": "gzip"}, ce: "gzip", vary: true, etag: `"v1-gzip"`, body: big},
		{name: "server order", path: "/big", headers: map[string]string{"Accept-Encoding": "gzip, br, zstd"}, ce: "zstd", vary: true, etag: `"v1-zstd"`, body: big},
		{name: "q-values", path: "/big", headers: map[string]string{"Accept-Encoding": "zstd;q=0.5, br"}, ce: "br", vary: true, etag: `"v1-br"`, body: big},
		{name: "no accept", path: "/big", vary: true, etag: `"v1"`, body: big},
		{name: "only refused", path: "/big", headers: map[string]string{"Accept-Encoding": "gzip;q=0, deflate"}, vary: true, etag: `"v1"`, body: big},
		{name: "known length", path: "/length", headers: map[string]string{"Accept-Encoding": "gzip"}, ce: "gzip", vary: true, body: big},
		{name: "small", path: "/small", headers: map[string]string{"Accept-Encoding": "gzip"}, vary: true, etag: `"v1"`, body: "small", length: true},
		{name: "small known length", path: "/small-length", headers: map[string]string{"Accept-Encoding": "gzip"}, vary: true, body: "small", length: true},
		{name: "many small writes", path: "/chunks", headers: map[string]string{"Accept-Encoding": "br"}, ce: "br", vary: true, body: strings.Repeat(big[:32], 100)},
		{name: "unlisted type", path: "/png", headers: map[string]string{"Accept-Encoding": "gzip"}, body: big},
		{name: "no type", path: "/none", headers: map[string]string{"Accept-Encoding": "gzip"}, body: big},
		{name: "encoded already", path: "/encoded", headers: map[string]string{"Accept-Encoding": "br"}, ce: "gzip"},
		{name: "no-transform", path: "/no-transform", headers: map[string]string{"Accept-Encoding": "gzip"}, vary: true, body: big},
		{name: "head", method: http.MethodHead, path: "/length", headers: map[string]string{"Accept-Encoding": "gzip"}, vary: true, etag: `"v1"`, length: true},
		{name: "range request", path: "/big", headers: map[string]string{"Accept-Encoding": "gzip", "Range": "bytes=0-9"}, vary: true, body: big},
		{name: "206", path: "/partial", headers: map[string]string{"Accept-Encoding": "gzip"}, status: 206, vary: true, body: big[:10]},
		{name: "304 plain tag", path: "/304", headers: map[string]string{"Accept-Encoding": "gzip", "If-None-Match": `"v1"`}, status: 304, vary: true, etag: `"v1"`},
		{name: "304 encoded tag", path: "/304", headers: map[string]string{"Accept-Encoding": "gzip", "If-None-Match": `"v1-gzip"`}, status: 304, vary: true, etag: `"v1-gzip"`},
		{name: "other coding's tag", path: "/304", headers: map[string]string{"Accept-Encoding": "gzip", "If-None-Match": `"v1-br"`}, ce: "gzip", vary: true, etag: `"v1-gzip"`, body: big},
		{name: "204", path: "/204", headers: map[string]string{"Accept-Encoding": "gzip"}, status: 204},
		{name: "readfrom", path: "/readfrom", headers: map[string]string{"Accept-Encoding": "zstd"}, ce: "zstd", vary: true, body: big},
		{name: "vary kept", path: "/vary", headers: map[string]string{"Accept-Encoding": "gzip"}, ce: "gzip", vary: true, body: big},
		{name: "error", path: "/error", headers: map[string]string{"Accept-Encoding": "gzip"}, status: 403},
		{name: "empty", path: "/empty", headers: map[string]string{"Accept-Encoding": "gzip"}, body: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			r := httptest.NewRequest(method, tt.path, nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			res := rec.Result()
			status := tt.status
			if status == 0 {
				status = 200
			}
			if res.StatusCode != status {
				t.Fatalf("status %d, want %d", res.StatusCode, status)
			}
			if ce := res.Header.Get("Content-Encoding"); ce != tt.ce {
				t.Errorf("Content-Encoding %q, want %q", ce, tt.ce)
			}
			vary := slices.Contains(res.Header.Values("Vary"), "Accept-Encoding")
			if vary != tt.vary {
				t.Errorf("Vary %q, want Accept-Encoding: %v", res.Header.Values("Vary"), tt.vary)
			}
			if tt.path == "/vary" && !slices.Contains(res.Header.Values("Vary"), "Origin") {
				t.Errorf("Vary %q lost Origin", res.Header.Values("Vary"))
			}
			if tt.etag != "" && res.Header.Get("Etag") != tt.etag {
				t.Errorf("ETag %q, want %q", res.Header.Get("Etag"), tt.etag)
			}
			_, hasLength := rec.HeaderMap["Content-Length"]
			if hasLength != tt.length {
				t.Errorf("Content-Length %q, want one: %v", res.Header.Get("Content-Length"), tt.length)
			}
			if tt.ce != "" && tt.ce != "gzip" || tt.ce == "gzip" && tt.path != "/encoded" {
				if res.Header.Get("Accept-Ranges") != "" {
					t.Error("an encoded body keeps Accept-Ranges")
				}
			}
			if tt.body != "" || tt.path == "/empty" {
				if got := decodeBody(t, tt.ce, rec.Body.Bytes()); got != tt.body {
					t.Errorf("body %q, want %q", got[:min(len(got), 40)], tt.body[:min(len(tt.body), 40)])
				}
			}
		})
	}
}

// TestFlush checks that a flushed chunk can be decoded before the
// response ends: the encoder and the writer flush together.
func TestFlush(t *testing.T) {
	for _, tc := range []struct {
		ce string
		h2 bool
	}{{"gzip", false}, {"br", false}, {"zstd", false}, {"gzip", true}, {"zstd", true}} {
		ce := tc.ce
		name := ce
		if tc.h2 {
			name += "/h2"
		}
		t.Run(name, func(t *testing.T) {
			step := make(chan struct{})
			h := stage(t, `compress {}`, func(w http.ResponseWriter, r *http.Request) error {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "data: one\n\n")
				w.(http.Flusher).Flush()
				<-step
				io.WriteString(w, "data: two\n\n")
				return nil
			})
			srv := httptest.NewUnstartedServer(h)
			if tc.h2 {
				srv.EnableHTTP2 = true
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			req, _ := http.NewRequest("GET", srv.URL, nil)
			req.Header.Set("Accept-Encoding", ce)
			res, err := srv.Client().Transport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if tc.h2 != (res.ProtoMajor == 2) {
				t.Fatalf("protocol %s", res.Proto)
			}
			if res.Header.Get("Content-Encoding") != ce {
				t.Fatalf("Content-Encoding %q", res.Header.Get("Content-Encoding"))
			}
			var r io.Reader
			switch ce {
			case "gzip":
				zr, err := gzip.NewReader(res.Body)
				if err != nil {
					t.Fatal(err)
				}
				r = zr
			case "br":
				r = brotli.NewReader(res.Body)
			case "zstd":
				zr, _ := zstd.NewReader(res.Body)
				defer zr.Close()
				r = zr
			}
			first := make([]byte, len("data: one\n\n"))
			if _, err := io.ReadFull(r, first); err != nil || string(first) != "data: one\n\n" {
				t.Fatalf("first chunk %q, %v", first, err)
			}
			close(step)
			rest, err := io.ReadAll(r)
			if err != nil || string(rest) != "data: two\n\n" {
				t.Fatalf("rest %q, %v", rest, err)
			}
		})
	}
}

// TestOffer checks what the file server is offered.
func TestOffer(t *testing.T) {
	tests := []struct {
		method, accept, rng string
		want                []coding.Coding
	}{
		{"GET", "gzip, br", "", []coding.Coding{coding.Br, coding.Gzip}},
		{"GET", "", "", nil},
		{"HEAD", "gzip", "", nil},
		{"GET", "gzip", "bytes=0-1", nil},
	}
	for _, tt := range tests {
		var got []coding.Coding
		h := stage(t, `compress {}`, func(w http.ResponseWriter, r *http.Request) error {
			if o := coding.OfferOf(w); o != nil {
				got = slices.Clone(o.Codings)
			}
			return nil
		})
		r := httptest.NewRequest(tt.method, "/", nil)
		if tt.accept != "" {
			r.Header.Set("Accept-Encoding", tt.accept)
		}
		if tt.rng != "" {
			r.Header.Set("Range", tt.rng)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s %q %q: offer %v, want %v", tt.method, tt.accept, tt.rng, got, tt.want)
		}
	}
}
