package coding

import (
	"net/http"
	"strings"
)

// Policy is a compress stage's settings, for the file server to apply
// them to the files it serves exactly as the stage would.
type Policy struct {
	// MinSize is the smallest body worth encoding, in bytes.
	MinSize int64
	// Types are the media types to encode: "text/html", or "text/*".
	Types []string
	// Precompressed allows sending a sibling FILE.zst, FILE.br or FILE.gz
	// as it is.
	Precompressed bool
	// Levels are the compression levels.
	Levels Levels
	// Cache keeps encoded small files; nil for none.
	Cache *Cache
}

// Compressible reports whether a body of Content-Type ctype is of a type
// listed in p.Types. Parameters (charset) and case are ignored.
func (p *Policy) Compressible(ctype string) bool {
	mt, _, _ := strings.Cut(ctype, ";")
	mt = trimOWS(mt)
	if mt == "" {
		return false
	}
	for _, t := range p.Types {
		if MatchType(t, mt) {
			return true
		}
	}
	return false
}

// MatchType reports whether the media type mt (no parameters) matches the
// pattern t: equal, ignoring case, or "type/*" for any subtype, or "*/*".
func MatchType(t, mt string) bool {
	if t == "*/*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(t, "/*"); ok {
		return len(mt) > len(prefix) && mt[len(prefix)] == '/' && strings.EqualFold(mt[:len(prefix)], prefix)
	}
	return strings.EqualFold(t, mt)
}

// Encode returns body encoded with c, from the cache under k when it was
// encoded before (cache true: k identifies the file's current state),
// else freshly, storing it when cache is true.
func (p *Policy) Encode(k Key, cache bool, body []byte) ([]byte, error) {
	if cache {
		if b, ok := p.Cache.Get(k); ok {
			return b, nil
		}
	}
	b, err := Compress(k.Coding, p.Levels[k.Coding], body)
	if err != nil {
		return nil, err
	}
	if cache && int64(len(body)) <= p.Cache.MaxFile() {
		p.Cache.Put(k, b)
	}
	return b, nil
}

// Offer is what a compress stage allows for one response: the codings the
// client accepts, best first, under the stage's policy.
type Offer struct {
	Policy *Policy
	// Codings lists the codings to choose from, best first; empty when
	// the response must go out as it is (a HEAD or Range request, or a
	// client that accepts no coding of the stage's).
	Codings []Coding
}

// Offerer is implemented by the ResponseWriter of a compress stage.
type Offerer interface {
	Offer() *Offer
}

// OfferOf returns the offer of the compress stage that wraps w, found
// through the Unwrap methods of the writers between; nil when there is
// none or it offers no coding.
func OfferOf(w http.ResponseWriter) *Offer {
	for w != nil {
		if o, ok := w.(Offerer); ok {
			if off := o.Offer(); off != nil && len(off.Codings) > 0 {
				return off
			}
			return nil
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
	return nil
}

// ETag returns the entity tag etag with c's suffix inside its quotes
// (`"abc"` → `"abc-gzip"`, `W/"abc"` → `W/"abc-gzip"`), or "" when etag
// is not a well-formed tag.
func ETag(etag string, c Coding) string {
	if len(etag) < 2 || etag[len(etag)-1] != '"' {
		return ""
	}
	body := strings.TrimPrefix(etag, "W/")
	if len(body) < 2 || body[0] != '"' {
		return ""
	}
	return etag[:len(etag)-1] + suffixes[c] + `"`
}

// StripETag returns tag without c's suffix, and whether it had it.
func StripETag(tag string, c Coding) (string, bool) {
	s := suffixes[c]
	if len(tag) < len(s)+2 || tag[len(tag)-1] != '"' || tag[len(tag)-1-len(s):len(tag)-1] != s {
		return tag, false
	}
	return tag[:len(tag)-1-len(s)] + `"`, true
}
