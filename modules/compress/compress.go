package compress

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"httpd/internal/coding"
	"httpd/registry"
)

func init() {
	registry.Register(registry.Info{
		Name:  "compress",
		Phase: registry.PhaseEncode,
		Doc:   "encode responses with zstd, br or gzip by Accept-Encoding",
		New:   func() registry.Module { return new(Module) },
	})
}

// Defaults of the block's attributes.
const (
	DefaultMinSize   = 512
	DefaultCacheSize = 32 << 20 // bytes of encoded bodies
	// CacheMaxFile is the largest file whose encoded forms are cached.
	CacheMaxFile = 1 << 20
)

// DefaultTypes are the media types compressed when a block sets none:
// text, and the structured and font formats that shrink well.
var DefaultTypes = []string{
	"text/*",
	"application/json", "application/ld+json", "application/manifest+json", "application/geo+json",
	"application/javascript", "application/x-javascript",
	"application/xml", "application/xhtml+xml", "application/rss+xml", "application/atom+xml",
	"application/wasm", "application/vnd.ms-fontobject",
	"image/svg+xml", "image/x-icon", "image/vnd.microsoft.icon", "image/bmp",
	"font/ttf", "font/otf", "font/eot",
}

var schema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "encodings"}, {Name: "min_size"}, {Name: "types"}, {Name: "level"},
	{Name: "precompressed"}, {Name: "cache_size"},
}}

// Module is the compress block of a vhost.
type Module struct {
	encodings []coding.Coding // the server's order
	policy    coding.Policy
	cacheSize int64
}

// Decode reads the block. Every attribute is optional.
func (m *Module) Decode(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	content, diags := b.Body.Content(schema)

	names, d := registry.StringList(content, "encodings", dc.Eval, coding.Names())
	diags = append(diags, d...)
	m.encodings = nil
	if attr := content.Attributes["encodings"]; !d.HasErrors() {
		seen := map[coding.Coding]bool{}
		for _, n := range names {
			c, ok := coding.Parse(n)
			if !ok || c == coding.Identity {
				diags = append(diags, registry.AttrError(attr, "Unknown encoding",
					fmt.Sprintf("%q is not an encoding httpd can produce: use \"zstd\", \"br\" and \"gzip\", in the order you prefer them.", n)))
				continue
			}
			if seen[c] {
				diags = append(diags, registry.AttrError(attr, "Duplicate encoding",
					fmt.Sprintf("%q is listed twice in encodings: list each once, in the order you prefer them.", n)))
				continue
			}
			seen[c] = true
			m.encodings = append(m.encodings, c)
		}
		if attr != nil && len(names) == 0 {
			diags = append(diags, registry.AttrError(attr, "Empty encodings",
				"encodings is empty, so nothing would be compressed: list some of \"zstd\", \"br\" and \"gzip\", or remove the compress block."))
		}
	}

	m.policy.MinSize, d = registry.Size(content, "min_size", dc.Eval, DefaultMinSize)
	diags = append(diags, d...)

	m.policy.Types, d = registry.StringList(content, "types", dc.Eval, DefaultTypes)
	diags = append(diags, d...)
	if attr := content.Attributes["types"]; attr != nil && !d.HasErrors() {
		for _, t := range m.policy.Types {
			if why := checkType(t); why != "" {
				diags = append(diags, registry.AttrError(attr, "Invalid media type in types",
					fmt.Sprintf("%q %s: write a media type such as \"application/json\", or \"text/*\" for every subtype.", t, why)))
			}
		}
	}

	m.policy.Levels = coding.DefaultLevels
	levels, d := registry.StringMap(content, "level", dc.Eval)
	diags = append(diags, d...)
	if attr := content.Attributes["level"]; attr != nil && !d.HasErrors() {
		for name, v := range levels {
			c, ok := coding.Parse(name)
			if !ok || c == coding.Identity {
				diags = append(diags, registry.AttrError(attr, "Unknown encoding in level",
					fmt.Sprintf("%q is not an encoding: level sets { zstd = 3, br = 4, gzip = 5 }.", name)))
				continue
			}
			r := coding.LevelRange[c]
			n, err := strconv.Atoi(v)
			if err != nil || n < r[0] || n > r[1] {
				diags = append(diags, registry.AttrError(attr, "Invalid level",
					fmt.Sprintf("The %s level %q is not a whole number from %d to %d.", c, v, r[0], r[1])))
				continue
			}
			m.policy.Levels[c] = n
		}
	}

	m.policy.Precompressed, d = registry.Bool(content, "precompressed", dc.Eval, true)
	diags = append(diags, d...)
	m.cacheSize, d = registry.Size(content, "cache_size", dc.Eval, DefaultCacheSize)
	diags = append(diags, d...)
	return diags
}

// checkType says why t is not a media type pattern, or "".
func checkType(t string) string {
	typ, sub, ok := strings.Cut(t, "/")
	switch {
	case !ok:
		return "has no \"/\""
	case typ == "" || sub == "":
		return "has an empty type or subtype"
	case typ == "*" && sub != "*":
		return "has a wildcard type with a subtype"
	case strings.ContainsAny(t, " \t;,\r\n\x00"):
		return "holds a space, parameter or separator"
	}
	return ""
}

// Provision makes the cache of encoded small files.
func (m *Module) Provision(ctx context.Context, env *registry.Env) error {
	m.policy.Cache = coding.NewCache(m.cacheSize, CacheMaxFile)
	return nil
}

// Wrap returns the stage: next runs with a writer that encodes the
// response when it qualifies (see the package doc).
func (m *Module) Wrap(next registry.Handler) registry.Handler {
	return registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		cw := writerPool.Get().(*writer)
		cw.reset(m, w)
		if r.Method != http.MethodHead && r.Header["Range"] == nil {
			if ae := r.Header["Accept-Encoding"]; len(ae) > 0 {
				cw.offer.Codings = coding.ParseAccept(ae).Choose(cw.codings[:0], m.encodings)
			}
		}
		if len(cw.offer.Codings) > 0 {
			cw.matchPlainTags(r)
		}
		err := next.ServeHTTP(cw, r)
		cw.finish(err)
		cw.release()
		return err
	})
}

// Describe says what the block does, for httpd -S.
func (m *Module) Describe() string {
	names := make([]string, len(m.encodings))
	for i, c := range m.encodings {
		names[i] = c.String()
	}
	return fmt.Sprintf("compress %s (min_size %d, %d types, precompressed %s)",
		strings.Join(names, " "), m.policy.MinSize, len(m.policy.Types), onOff(m.policy.Precompressed))
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// Explain says what the stage would do with the request's body.
func (m *Module) Explain(r *http.Request, _ registry.Mount) registry.Explanation {
	switch {
	case r.Method == http.MethodHead:
		return registry.Explanation{Says: "leaves the response unencoded, as it answers a HEAD (Vary is still added)"}
	case r.Header.Get("Range") != "":
		return registry.Explanation{Says: "leaves the response unencoded, as the request asks for a range"}
	}
	cs := coding.ParseAccept(r.Header["Accept-Encoding"]).Choose(nil, m.encodings)
	if len(cs) == 0 {
		return registry.Explanation{Says: "leaves the response unencoded, as the client accepts none of the configured encodings"}
	}
	return registry.Explanation{Says: fmt.Sprintf("on the way out, encodes the body with %s when its type is listed and it has %d bytes or more", cs[0], m.policy.MinSize)}
}

// matchPlainTags lets inner stages answer 304 to a tag this stage made:
// each If-None-Match tag with the suffix of the coding the stage would
// use is added without it. The original values are kept, so that a 304
// gets back the tag the client sent.
func (w *writer) matchPlainTags(r *http.Request) {
	inm := r.Header["If-None-Match"]
	if len(inm) == 0 {
		return
	}
	c := w.offer.Codings[0]
	var extra []string
	for _, v := range inm {
		for _, tag := range strings.Split(v, ",") {
			if plain, ok := coding.StripETag(strings.TrimSpace(tag), c); ok {
				extra = append(extra, plain)
			}
		}
	}
	if extra == nil {
		return
	}
	w.inm = inm
	// One field value: net/http's ServeContent reads only the first.
	r.Header["If-None-Match"] = []string{strings.Join(inm, ", ") + ", " + strings.Join(extra, ", ")}
}

// states of a writer.
const (
	stateNew    = iota // no final status yet
	statePass          // the body goes out as it is
	stateHold          // buffering up to min_size bytes to decide
	stateEncode        // the body goes out encoded
)

// writer encodes the response when it qualifies; see the package doc.
type writer struct {
	http.ResponseWriter
	m       *Module
	offer   coding.Offer
	codings [3]coding.Coding // backs offer.Codings
	inm     []string         // the If-None-Match the client sent, when rewritten
	state   int
	status  int
	buf     []byte // held body, stateHold
	enc     coding.Encoder
	c       coding.Coding // the coding of enc
}

var writerPool = sync.Pool{New: func() any { return new(writer) }}

func (w *writer) reset(m *Module, rw http.ResponseWriter) {
	buf := w.buf[:0]
	*w = writer{ResponseWriter: rw, m: m, buf: buf}
	w.offer.Policy = &m.policy
}

func (w *writer) release() {
	buf := w.buf
	if cap(buf) > 64<<10 {
		buf = nil
	}
	*w = writer{buf: buf[:0]}
	writerPool.Put(w)
}

// Offer is the stage's offer for this response, for the file server.
func (w *writer) Offer() *coding.Offer { return &w.offer }

// Unwrap returns the underlying writer, for http.ResponseController.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// WriteHeader decides, for a final status, whether the body is encoded;
// when the length is unknown the decision waits for min_size bytes of it.
func (w *writer) WriteHeader(code int) {
	if w.state != stateNew {
		w.ResponseWriter.WriteHeader(code) // superfluous: net/http says so
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.status = code
	w.state = w.decide()
	switch w.state {
	case statePass:
		w.ResponseWriter.WriteHeader(code)
	case stateEncode:
		w.startEncoding()
	}
}

// decide chooses the state for the response's status and headers.
func (w *writer) decide() int {
	h := w.ResponseWriter.Header()
	code := w.status
	if code == http.StatusNotModified {
		if len(w.offer.Codings) > 0 {
			addVary(h)
			w.restoreTag(h)
		}
		return statePass
	}
	if code < 200 || code == http.StatusNoContent {
		return statePass
	}
	if ce := h["Content-Encoding"]; len(ce) > 0 && ce[0] != "" && !strings.EqualFold(ce[0], "identity") {
		return statePass
	}
	ct := h["Content-Type"]
	if len(ct) == 0 || !w.offer.Policy.Compressible(ct[0]) {
		return statePass
	}
	addVary(h)
	if len(w.offer.Codings) == 0 || code == http.StatusPartialContent || h["Content-Range"] != nil || noTransform(h) {
		return statePass
	}
	if cl := h["Content-Length"]; len(cl) > 0 {
		n, err := strconv.ParseInt(cl[0], 10, 64)
		if err != nil || n < w.offer.Policy.MinSize {
			return statePass
		}
		return stateEncode
	}
	if w.offer.Policy.MinSize <= 0 {
		return stateEncode
	}
	return stateHold
}

// restoreTag gives a 304 the encoded tag the client sent when the inner
// stage matched its plain form.
func (w *writer) restoreTag(h http.Header) {
	et := h["Etag"]
	if len(et) == 0 || w.inm == nil {
		return
	}
	enc := coding.ETag(et[0], w.offer.Codings[0])
	if enc == "" {
		return
	}
	want := strings.TrimPrefix(enc, "W/")
	for _, v := range w.inm {
		for _, tag := range strings.Split(v, ",") {
			if strings.TrimPrefix(strings.TrimSpace(tag), "W/") == want {
				h["Etag"] = []string{enc}
				return
			}
		}
	}
}

// startEncoding sends the header of an encoded response and readies the
// encoder.
func (w *writer) startEncoding() {
	w.state = stateEncode
	c := w.offer.Codings[0]
	h := w.ResponseWriter.Header()
	delete(h, "Content-Length")
	delete(h, "Accept-Ranges")
	h["Content-Encoding"] = c.HeaderValue()
	if et := h["Etag"]; len(et) > 0 {
		if enc := coding.ETag(et[0], c); enc != "" {
			h["Etag"] = []string{enc}
		} else {
			delete(h, "Etag")
		}
	}
	w.ResponseWriter.WriteHeader(w.status)
	w.c = c
	w.enc = coding.GetEncoder(c, w.offer.Policy.Levels[c], w.ResponseWriter)
}

func (w *writer) Write(p []byte) (int, error) {
	if w.state == stateNew {
		w.WriteHeader(http.StatusOK)
	}
	switch w.state {
	case stateEncode:
		return w.enc.Write(p)
	case stateHold:
		if int64(len(w.buf)+len(p)) < w.offer.Policy.MinSize {
			w.buf = append(w.buf, p...)
			return len(p), nil
		}
		if err := w.encodeHeld(); err != nil {
			return 0, err
		}
		return w.enc.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

// encodeHeld starts encoding and writes the held body into the encoder.
func (w *writer) encodeHeld() error {
	w.startEncoding()
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.enc.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// ReadFrom passes src to the underlying writer's ReadFrom when the body
// goes out as it is, so a file still goes out with sendfile.
func (w *writer) ReadFrom(src io.Reader) (int64, error) {
	if w.state == stateNew {
		w.WriteHeader(http.StatusOK)
	}
	switch w.state {
	case statePass:
		if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
			return rf.ReadFrom(src)
		}
		return io.Copy(writeOnly{w.ResponseWriter}, src)
	case stateEncode:
		return copyPooled(writeOnly{w.enc}, src)
	}
	return copyPooled(writeOnly{w}, src)
}

// copyBufs holds the buffers files are copied into encoders with.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyPooled is io.Copy with a pooled buffer.
func copyPooled(dst io.Writer, src io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(dst, src, *bp)
}

// Flush sends what was written so far: a held body starts encoding (a
// handler that flushes streams, so its length is unknown), the encoder
// flushes, then the connection.
func (w *writer) Flush() {
	if w.state == stateNew {
		w.WriteHeader(http.StatusOK)
	}
	if w.state == stateHold {
		if w.encodeHeld() != nil {
			return
		}
	}
	if w.state == stateEncode {
		if w.enc.Flush() != nil {
			return
		}
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// finish ends the response after the inner stages returned: a held body
// goes out as it is, with its length, and an encoder is closed. A write
// that fails here failed for the connection, which the engine closes; the
// inner stage's own error, if any, is what the caller reports.
func (w *writer) finish(err error) {
	switch w.state {
	case stateHold:
		h := w.ResponseWriter.Header()
		if err == nil {
			h["Content-Length"] = []string{strconv.Itoa(len(w.buf))}
		}
		w.ResponseWriter.WriteHeader(w.status)
		if len(w.buf) > 0 {
			_, _ = w.ResponseWriter.Write(w.buf)
		}
	case stateEncode:
		_ = w.enc.Close()
		coding.PutEncoder(w.c, w.offer.Policy.Levels[w.c], w.enc)
		w.enc = nil
	}
}

// addVary adds Accept-Encoding to Vary unless it is there, or "*" is.
func addVary(h http.Header) {
	for _, v := range h["Vary"] {
		for _, f := range strings.Split(v, ",") {
			f = strings.TrimSpace(f)
			if f == "*" || strings.EqualFold(f, "Accept-Encoding") {
				return
			}
		}
	}
	if len(h["Vary"]) == 0 {
		h["Vary"] = varyAcceptEncoding
		return
	}
	h["Vary"] = append(h["Vary"], "Accept-Encoding")
}

// varyAcceptEncoding is a shared Vary value of capacity one: appending
// to it copies it.
var varyAcceptEncoding = []string{"Accept-Encoding"}

// noTransform reports whether Cache-Control forbids changing the body.
func noTransform(h http.Header) bool {
	for _, v := range h["Cache-Control"] {
		for _, d := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(d), "no-transform") {
				return true
			}
		}
	}
	return false
}

// writeOnly hides every method of a writer but Write, so io.Copy cannot
// call ReadFrom again.
type writeOnly struct{ io.Writer }

var (
	_ registry.Module    = (*Module)(nil)
	_ registry.Describer = (*Module)(nil)
	_ registry.Explainer = (*Module)(nil)
	_ coding.Offerer     = (*writer)(nil)
	_ io.ReaderFrom      = (*writer)(nil)
	_ http.Flusher       = (*writer)(nil)
)
