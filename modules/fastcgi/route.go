package fastcgi

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"httpd/internal/fileserver"
	"httpd/registry"
)

// splitScript finds where a script's name ends in the URL path p: at the
// end of the first segment whose name is longer than, and ends with, one
// of exts (ASCII case ignored, so that "X.PHP" is never sent out as a
// file's source). script is p up to there and pathInfo the rest, empty
// or starting with "/". ok is false when no segment matches.
//
// A match must end a segment: "/a.php/b" splits as "/a.php" and "/b",
// while "/a.phps" and "/a.php.txt" are no scripts at all. So
// "/uploads/evil.jpg/x.php" names the script "/uploads/evil.jpg/x.php",
// which exists only if evil.jpg is a directory, never evil.jpg.
func splitScript(p string, exts []string) (script, pathInfo string, ok bool) {
	for start := 0; start < len(p); {
		end := strings.IndexByte(p[start:], '/')
		if end < 0 {
			end = len(p)
		} else {
			end += start
		}
		seg := p[start:end]
		for _, ext := range exts {
			if len(seg) > len(ext) && strings.EqualFold(seg[len(seg)-len(ext):], ext) {
				return p[:end], p[end:], true
			}
		}
		start = end + 1
	}
	return "", "", false
}

// routeKind is what a request ends at.
type routeKind int

const (
	routeScript routeKind = iota // the responder runs a script
	routeFile                    // the file server serves a path
)

// route is where the URL of a request leads.
type route struct {
	kind routeKind
	// For routeScript: the script's URL path (SCRIPT_NAME), the rest of
	// the URL path (PATH_INFO), and whether it is the front controller.
	scriptName string
	pathInfo   string
	front      bool
	// For routeFile: the URL path the file server serves.
	file string
}

// route maps a request's URL path (decoded; escaped is r.URL's escaped
// form) to a script or a file under document_root, the whole URL path
// naming the file whatever the mount's prefix:
//
//  1. A path with encoded slashes or backslashes, NUL, backslashes, "."
//     or ".." segments, or a dot-file segment (except .well-known) is 404.
//  2. A path with a split_path match runs the script it names when that
//     is a regular file under the root (symlinks followed only inside
//     it); else it goes to the front controller. Such a path is never
//     served as a file.
//  3. An existing file is served by the file server; a directory
//     without its trailing slash too (which redirects to it); a directory
//     with it runs or serves its first index file that exists.
//  4. Anything else goes to the front controller, or is 404 without one.
//
// Every error is a *registry.StatusError whose text says why.
func (m *Module) route(urlPath, escaped string) (route, error) {
	notFound := func(why string) error {
		return registry.Error(http.StatusNotFound, fmt.Errorf("fastcgi %s: %q: %s", m.Prefix, urlPath, why))
	}
	if fileserver.HasEncodedSlash(escaped) {
		return route{}, notFound("encoded slash or backslash in the URL")
	}
	rel, ok := fileserver.CleanPath(urlPath)
	if !ok {
		return route{}, notFound("NUL, backslash or dot segment in the path")
	}
	if fileserver.Hidden(rel) {
		return route{}, notFound("dot-files are neither served nor run")
	}
	clean := "/"
	if rel != "." {
		clean += rel
	}

	if script, info, ok := splitScript(clean, m.SplitPath); ok {
		if m.isScript(script) {
			return route{kind: routeScript, scriptName: script, pathInfo: info}, nil
		}
		return m.front(urlPath, "no script "+script)
	}

	fi, err := m.root.Stat(rel)
	switch {
	case errors.Is(err, fs.ErrPermission):
		return route{kind: routeFile, file: clean}, nil // the file server says 403
	case err != nil:
		return m.front(urlPath, "no such file")
	case !fi.IsDir() || !strings.HasSuffix(urlPath, "/"):
		return route{kind: routeFile, file: clean}, nil
	}
	dir := clean
	if dir != "/" {
		dir += "/"
	}
	for _, name := range m.Index {
		p := dir + name
		if _, _, ok := splitScript("/"+name, m.SplitPath); ok {
			if m.isScript(p) {
				return route{kind: routeScript, scriptName: p}, nil
			}
			continue
		}
		if fi, err := m.root.Stat(strings.TrimPrefix(p, "/")); err == nil && !fi.IsDir() {
			return route{kind: routeFile, file: p}, nil
		}
	}
	return m.front(urlPath, "directory without an index file")
}

// front routes a path that is no file or script to the front controller.
func (m *Module) front(urlPath, why string) (route, error) {
	if m.FrontController == "" {
		return route{}, registry.Error(http.StatusNotFound, fmt.Errorf("fastcgi %s: %q: %s, and no front_controller", m.Prefix, urlPath, why))
	}
	if !m.isScript(m.FrontController) {
		return route{}, registry.Error(http.StatusNotFound, fmt.Errorf("fastcgi %s: %q: %s, and the front_controller %s is no file under %s", m.Prefix, urlPath, why, m.FrontController, m.docRoot))
	}
	return route{kind: routeScript, scriptName: m.FrontController, front: true}, nil
}

// isScript reports whether the URL path p names a regular file beneath
// the root. Symlinks are followed only while they stay inside it.
func (m *Module) isScript(p string) bool {
	fi, err := m.root.Stat(strings.TrimPrefix(p, "/"))
	return err == nil && fi.Mode().IsRegular()
}
