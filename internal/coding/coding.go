package coding

// Coding is a content coding httpd can produce. The zero value is
// identity, no coding.
type Coding uint8

// The codings httpd speaks, and Identity for none.
const (
	Identity Coding = iota
	Zstd
	Br
	Gzip
	numCodings
)

var names = [numCodings]string{"identity", "zstd", "br", "gzip"}

// exts are the file name extensions of precompressed siblings.
var exts = [numCodings]string{"", ".zst", ".br", ".gz"}

// suffixes are what an ETag gets before its closing quote.
var suffixes = [numCodings]string{"", "-zstd", "-br", "-gzip"}

// headerValues are the Content-Encoding values, shared, of capacity one.
var headerValues = [numCodings][]string{nil, {"zstd"}, {"br"}, {"gzip"}}

// String returns the coding's name as Content-Encoding writes it.
func (c Coding) String() string {
	if c < numCodings {
		return names[c]
	}
	return "coding(?)"
}

// Ext is the extension of a precompressed sibling: ".zst", ".br", ".gz".
func (c Coding) Ext() string { return exts[c] }

// HeaderValue is the Content-Encoding header value, a shared slice of
// capacity one that may be put into a header map as is.
func (c Coding) HeaderValue() []string { return headerValues[c] }

// Parse returns the coding named name ("zstd", "br", "gzip"; "x-gzip"
// too), case ignored.
func Parse(name string) (Coding, bool) {
	switch {
	case equalFold(name, "zstd"):
		return Zstd, true
	case equalFold(name, "br"):
		return Br, true
	case equalFold(name, "gzip"), equalFold(name, "x-gzip"):
		return Gzip, true
	case equalFold(name, "identity"):
		return Identity, true
	}
	return Identity, false
}

// Names lists the codings httpd can produce, in its default order of
// preference.
func Names() []string { return []string{"zstd", "br", "gzip"} }

// equalFold is strings.EqualFold for ASCII, t in lower case.
func equalFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != t[i] {
			return false
		}
	}
	return true
}
