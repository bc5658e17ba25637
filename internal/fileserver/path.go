package fileserver

import (
	"path/filepath"
	"strings"
)

// CleanPath maps a URL path below a served root to a slash-separated path
// relative to that root, suitable for os.Root.
//
// urlPath is the decoded URL path (r.URL.Path, or its part after a mount
// prefix); a leading slash is optional and "" or "/" name the root. Empty
// segments ("//") are dropped. CleanPath rejects (ok == false) a path
// holding a NUL byte or a backslash, and any segment that is "." or that
// starts with "..". When ok is true, rel is "." for the root or else a
// local path in the sense of filepath.IsLocal with no empty, "." or ".."
// segment and no leading or trailing slash.
//
// CleanPath does not know about dot-files or encoded slashes: callers check
// those (see Hidden, and FileServer.Serve which looks at the escaped path).
// It allocates only when it has to drop empty segments.
func CleanPath(urlPath string) (rel string, ok bool) {
	if strings.IndexByte(urlPath, 0) >= 0 || strings.IndexByte(urlPath, '\\') >= 0 {
		return "", false
	}
	n := 0 // non-empty segments
	for seg := range strings.SplitSeq(urlPath, "/") {
		switch {
		case seg == "":
		case seg == "." || strings.HasPrefix(seg, ".."):
			return "", false
		default:
			n++
		}
	}
	if n == 0 {
		return ".", true
	}
	rel = strings.TrimPrefix(urlPath, "/")
	rel = strings.TrimSuffix(rel, "/")
	if strings.HasPrefix(rel, "/") || strings.HasSuffix(rel, "/") || strings.Contains(rel, "//") {
		var b strings.Builder
		b.Grow(len(rel))
		for seg := range strings.SplitSeq(rel, "/") {
			if seg == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('/')
			}
			b.WriteString(seg)
		}
		rel = b.String()
	}
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return "", false
	}
	return rel, true
}

// Hidden reports whether rel, a result of CleanPath, names a dot-file or
// a path inside a dot-directory. A leading ".well-known" segment (RFC 8615)
// is not hidden by itself.
func Hidden(rel string) bool {
	if rel == "." {
		return false
	}
	if rel == ".well-known" {
		return false
	}
	rel = strings.TrimPrefix(rel, ".well-known/")
	if strings.HasPrefix(rel, ".") {
		return true
	}
	return strings.Contains(rel, "/.")
}

// HasEncodedSlash reports whether an escaped URL path (r.URL.EscapedPath)
// holds %2F or %5C in either case: a slash or backslash that must not
// split or join segments once decoded. Servers of files refuse such
// paths rather than guess.
func HasEncodedSlash(escaped string) bool {
	for i := 0; i+2 < len(escaped); i++ {
		if escaped[i] != '%' {
			continue
		}
		switch {
		case escaped[i+1] == '2' && (escaped[i+2] == 'f' || escaped[i+2] == 'F'),
			escaped[i+1] == '5' && (escaped[i+2] == 'c' || escaped[i+2] == 'C'):
			return true
		}
	}
	return false
}
