package coding

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

var all = []Coding{Zstd, Br, Gzip}

func TestChoose(t *testing.T) {
	tests := []struct {
		name   string
		accept []string // nil: no header
		server []Coding
		want   []Coding
	}{
		{"no header", nil, all, nil},
		{"empty", []string{""}, all, nil},
		{"gzip", []string{"gzip"}, all, []Coding{Gzip}},
		{"x-gzip", []string{"x-gzip"}, all, []Coding{Gzip}},
		{"browser", []string{"gzip, deflate, br, zstd"}, all, []Coding{Zstd, Br, Gzip}},
		{"server order", []string{"gzip, deflate, br, zstd"}, []Coding{Gzip, Br}, []Coding{Gzip, Br}},
		{"q decides", []string{"gzip;q=1.0, br;q=0.5, zstd;q=0.1"}, all, []Coding{Gzip, Br, Zstd}},
		{"q ties keep server order", []string{"gzip;q=0.5, br;q=0.5"}, all, []Coding{Br, Gzip}},
		{"q=0 excludes", []string{"gzip, br;q=0"}, all, []Coding{Gzip}},
		{"q=0.000 excludes", []string{"br;q=0.000, gzip"}, all, []Coding{Gzip}},
		{"star", []string{"*"}, all, []Coding{Zstd, Br, Gzip}},
		{"star but gzip refused", []string{"*, gzip;q=0"}, all, []Coding{Zstd, Br}},
		{"star q=0 and br", []string{"*;q=0, br"}, all, []Coding{Br}},
		{"named beats star", []string{"*;q=0.1, gzip"}, all, []Coding{Gzip, Zstd, Br}},
		{"identity only", []string{"identity"}, all, nil},
		{"case and spaces", []string{" GZIP ; Q=0.8 ,\tBr"}, all, []Coding{Br, Gzip}},
		{"several fields", []string{"gzip;q=0.2", "zstd"}, all, []Coding{Zstd, Gzip}},
		{"malformed q refuses", []string{"br;q=2, gzip;q=abc, zstd;q=0.5"}, all, []Coding{Zstd}},
		{"too many decimals refuses", []string{"br;q=0.5555, gzip"}, all, []Coding{Gzip}},
		{"other params", []string{"gzip;level=9;q=0.3, br"}, all, []Coding{Br, Gzip}},
		{"unknown codings", []string{"deflate, compress, sdch"}, all, nil},
		{"empty elements", []string{",,gzip,,"}, all, []Coding{Gzip}},
		{"repeat keeps best", []string{"gzip;q=0, gzip;q=0.5, br;q=0.4"}, all, []Coding{Gzip, Br}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseAccept(tt.accept).Choose(nil, tt.server)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Choose(%q) = %v, want %v", tt.accept, got, tt.want)
			}
		})
	}
}

func TestQIdentity(t *testing.T) {
	tests := []struct {
		accept string
		want   int
	}{
		{"gzip", 1000},
		{"identity;q=0.5", 500},
		{"*;q=0", 0},
		{"*;q=0, identity", 1000},
		{"identity;q=0", 0},
	}
	for _, tt := range tests {
		if got := ParseAccept([]string{tt.accept}).Q(Identity); got != tt.want {
			t.Errorf("Q(identity) of %q = %d, want %d", tt.accept, got, tt.want)
		}
	}
}

func TestQValue(t *testing.T) {
	tests := map[string]int16{
		"1": 1000, "1.": 1000, "1.0": 1000, "1.000": 1000, "0": 0, "0.5": 500, "0.05": 50,
		"0.001": 1, "1.001": 0, "2": 0, "": 0, "0.0001": 0, ".5": 0, "-1": 0, "0,5": 0,
	}
	for in, want := range tests {
		if got := qValue(in); got != want {
			t.Errorf("qValue(%q) = %d, want %d", in, got, want)
		}
	}
}

func FuzzParseAccept(f *testing.F) {
	for _, s := range []string{"gzip", "gzip, deflate, br, zstd", "*;q=0, br;q=0.5", "identity;q=0",
		" GZIP ; Q=0.8 ,\tBr", "br;q=1.0001", ";;,,;q=", "gzip;q=0.5;q=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := ParseAccept([]string{s})
		got := a.Choose(nil, all)
		seen := map[Coding]bool{}
		for i, c := range got {
			if c == Identity || seen[c] {
				t.Fatalf("Choose(%q) = %v: identity or a repeat", s, got)
			}
			seen[c] = true
			if q := a.Q(c); q <= 0 || q > 1000 {
				t.Fatalf("Choose(%q) = %v: %v has weight %d", s, got, c, q)
			}
			if i > 0 && a.Q(got[i-1]) < a.Q(c) {
				t.Fatalf("Choose(%q) = %v: not by weight", s, got)
			}
		}
		for _, c := range all {
			if !seen[c] && a.Q(c) > 0 {
				t.Fatalf("Choose(%q) = %v misses %v of weight %d", s, got, c, a.Q(c))
			}
		}
	})
}

func TestETag(t *testing.T) {
	tests := []struct {
		in   string
		c    Coding
		want string
	}{
		{`"abc"`, Gzip, `"abc-gzip"`},
		{`W/"abc"`, Br, `W/"abc-br"`},
		{`""`, Zstd, `"-zstd"`},
		{`abc`, Gzip, ``},
		{`"`, Gzip, ``},
		{`W/abc"`, Gzip, ``},
	}
	for _, tt := range tests {
		got := ETag(tt.in, tt.c)
		if got != tt.want {
			t.Errorf("ETag(%s, %v) = %q, want %q", tt.in, tt.c, got, tt.want)
		}
		if got != "" {
			if back, ok := StripETag(got, tt.c); !ok || back != tt.in {
				t.Errorf("StripETag(%s) = %q, %v; want %q", got, back, ok, tt.in)
			}
		}
	}
	if _, ok := StripETag(`"abc-gzip"`, Br); ok {
		t.Error(`StripETag("abc-gzip", br) stripped`)
	}
}

func TestMatchType(t *testing.T) {
	p := &Policy{Types: []string{"text/*", "application/json", "image/svg+xml"}}
	tests := map[string]bool{
		"text/html; charset=utf-8": true, "TEXT/CSS": true, "application/json": true,
		"Application/JSON ; charset=utf-8": true, "image/svg+xml": true, "image/png": false,
		"text": false, "textual/html": false, "": false, "application/jsonx": false,
	}
	for ct, want := range tests {
		if got := p.Compressible(ct); got != want {
			t.Errorf("Compressible(%q) = %v, want %v", ct, got, want)
		}
	}
	if !MatchType("*/*", "image/png") {
		t.Error("*/* does not match image/png")
	}
}

// decode decodes b, which is encoded with c.
func decode(t *testing.T, c Coding, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case Br:
		r = brotli.NewReader(bytes.NewReader(b))
	case Zstd:
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %v: %v", c, err)
	}
	return out
}

func TestCompressRoundTrip(t *testing.T) {
	src := bytes.Repeat([]byte("<p>hello, world</p>\n"), 500)
	for _, c := range all {
		t.Run(c.String(), func(t *testing.T) {
			for range 3 { // pooled encoders must reset cleanly
				enc, err := Compress(c, DefaultLevels[c], src)
				if err != nil {
					t.Fatal(err)
				}
				if len(enc) >= len(src)/4 {
					t.Errorf("%d bytes encoded to %d", len(src), len(enc))
				}
				if got := decode(t, c, enc); !bytes.Equal(got, src) {
					t.Fatal("round trip changed the body")
				}
			}
		})
	}
}

func TestCache(t *testing.T) {
	c := NewCache(1000, 500)
	k := Key{Ino: 1, Coding: Gzip}
	if _, ok := c.Get(k); ok {
		t.Fatal("empty cache hit")
	}
	c.Put(k, make([]byte, 400))
	if b, ok := c.Get(k); !ok || len(b) != 400 {
		t.Fatal("miss after Put")
	}
	if _, ok := c.Get(Key{Ino: 1, Coding: Br}); ok {
		t.Fatal("hit for another coding")
	}
	c.Put(Key{Ino: 2}, make([]byte, 400))
	c.Put(Key{Ino: 3}, make([]byte, 400))
	if u := c.Used(); u > 1000 {
		t.Errorf("Used = %d over the bound", u)
	}
	c.Put(Key{Ino: 4}, make([]byte, 2000)) // larger than the cache
	if _, ok := c.Get(Key{Ino: 4}); ok {
		t.Error("an entry larger than the cache was kept")
	}
	var nilCache *Cache
	nilCache.Put(k, nil)
	if _, ok := nilCache.Get(k); ok || nilCache.MaxFile() != 0 || NewCache(0, 1) != nil {
		t.Error("a nil cache keeps something")
	}
}

func TestEncodeCaches(t *testing.T) {
	p := &Policy{Levels: DefaultLevels, Cache: NewCache(1<<20, 1<<20)}
	body := bytes.Repeat([]byte("abc"), 1000)
	k := Key{Ino: 7, Coding: Gzip}
	a, err := p.Encode(k, true, body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Encode(k, true, []byte("not used: the cache answers"))
	if !bytes.Equal(a, b) {
		t.Error("second Encode did not come from the cache")
	}
	if got := decode(t, Gzip, a); !bytes.Equal(got, body) {
		t.Error("cached body does not decode to the file")
	}
}

type offerWriter struct {
	http.ResponseWriter
	o *Offer
}

func (w offerWriter) Offer() *Offer { return w.o }

type wrapper struct{ http.ResponseWriter }

func (w wrapper) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestOfferOf(t *testing.T) {
	rec := httptest.NewRecorder()
	o := &Offer{Codings: []Coding{Gzip}}
	if OfferOf(rec) != nil {
		t.Error("offer without a compress writer")
	}
	if OfferOf(wrapper{offerWriter{rec, o}}) != o {
		t.Error("offer not found through Unwrap")
	}
	if OfferOf(offerWriter{rec, &Offer{}}) != nil {
		t.Error("an empty offer was returned")
	}
}
