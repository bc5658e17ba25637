package fileserver

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"httpd/registry"
)

// TryFiles is a parsed try_files list, after nginx's directive of that
// name: the candidates are tried in order, and the fallback answers when
// none exists.
type TryFiles struct {
	// Tries are URL path templates; "{path}" stands for the request's
	// path. One that ends in "/" matches a directory with an index file
	// (or any directory when browse is on); any other matches a regular
	// file only.
	Tries []string
	// Fallback is the path of the file (or, ending in "/", directory)
	// served when no candidate matched; it may hold "{path}" too. When
	// empty, Status answers instead.
	Fallback string
	// Status answers when Fallback is empty ("=404" in the config).
	Status int
}

// ParseTryFiles reads a try_files list: candidates, then the fallback,
// a path or "=CODE" (a 4xx or 5xx status). It says why a list is not one
// (at least two entries; paths start with "/" or "{path}", hold no "."
// or ".." segment, backslash or NUL, and no other "{...}").
func ParseTryFiles(list []string) (TryFiles, error) {
	var t TryFiles
	if len(list) < 2 {
		return t, fmt.Errorf("try_files needs at least two entries, the candidates and the fallback")
	}
	for i, e := range list {
		last := i == len(list)-1
		if last && strings.HasPrefix(e, "=") {
			code, err := strconv.Atoi(e[1:])
			if err != nil || code < 400 || code > 599 {
				return t, fmt.Errorf("the fallback %q is not \"=\" and a 4xx or 5xx status, such as \"=404\"", e)
			}
			t.Status = code
			continue
		}
		if why := checkTemplate(e); why != "" {
			return t, fmt.Errorf("%q %s", e, why)
		}
		if last {
			t.Fallback = e
		} else {
			t.Tries = append(t.Tries, e)
		}
	}
	return t, nil
}

// checkTemplate says why e is not a path template, or "".
func checkTemplate(e string) string {
	if !strings.HasPrefix(e, "/") && !strings.HasPrefix(e, "{path}") {
		return "does not start with \"/\" or \"{path}\""
	}
	if strings.ContainsAny(e, "\\\x00?#") {
		return "holds a backslash, NUL, \"?\" or \"#\""
	}
	rest := strings.ReplaceAll(e, "{path}", "")
	if strings.ContainsAny(rest, "{}") {
		return "holds a placeholder other than {path}"
	}
	for _, seg := range strings.Split(rest, "/") {
		if seg == "." || seg == ".." {
			return "holds a \".\" or \"..\" segment"
		}
	}
	return ""
}

// expand puts urlPath in place of "{path}".
func expand(tmpl, urlPath string) string {
	if !strings.Contains(tmpl, "{path}") {
		return tmpl
	}
	return strings.ReplaceAll(tmpl, "{path}", urlPath)
}

// ServeTry answers r for urlPath by t: the first candidate that exists is
// served as Serve would serve that path, else the fallback (a missing
// fallback is 404), else t.Status. Candidates are checked as Serve checks
// paths: a path that is rejected, hidden, or leads out of the root does
// not exist.
func (s *FileServer) ServeTry(w http.ResponseWriter, r *http.Request, urlPath string, t *TryFiles) error {
	for _, tmpl := range t.Tries {
		p := expand(tmpl, urlPath)
		if s.exists(r, p) {
			return s.Serve(w, r, p)
		}
	}
	if t.Fallback != "" {
		return s.Serve(w, r, expand(t.Fallback, urlPath))
	}
	return registry.Errorf(t.Status, "static: try_files: no candidate for %q", urlPath)
}

// exists reports whether Serve would find urlPath: a regular file, or,
// for a path ending in "/", a directory with an index file (any
// directory when browse is on).
func (s *FileServer) exists(r *http.Request, urlPath string) bool {
	rel, err := s.check(r, urlPath)
	if err != nil {
		return false
	}
	dir := strings.HasSuffix(urlPath, "/")
	if s.file != "" {
		return !dir
	}
	if s.cache != nil && !dir {
		if e := s.cache.get(s.cache.files, rel); e != nil {
			return true
		}
	}
	f, err := s.open(rel)
	if err != nil {
		return false
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		return false
	}
	if !dir {
		return fi.Mode().IsRegular()
	}
	if !fi.IsDir() {
		return false
	}
	if s.opts.Browse {
		return true
	}
	for _, name := range s.opts.Index {
		ipath := name
		if rel != "." {
			ipath = rel + "/" + name
		}
		idx, err := s.open(ipath)
		if err != nil {
			continue
		}
		ifi, err := idx.Stat()
		idx.Close()
		if err == nil && ifi.Mode().IsRegular() {
			return true
		}
	}
	return false
}
