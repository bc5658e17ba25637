package fileserver

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"httpd/registry"
)

// Explain says what a FileServer opened on root with opts would answer
// to r for urlPath (as Serve takes it), without opening a FileServer:
// it only looks at the file system. The explanation always ends the
// walk; a file that is simply missing is a 404, as it is for the stages
// that serve files (their next stage answers 404).
func Explain(root string, opts Options, r *http.Request, urlPath string) registry.Explanation {
	end := func(status int, format string, args ...any) registry.Explanation {
		return registry.Explanation{Says: fmt.Sprintf(format, args...), Status: status, Ends: true}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return end(http.StatusMethodNotAllowed, "files answer only GET, HEAD and OPTIONS, so %s gets 405 Method Not Allowed (Allow: %s)", r.Method, Allow)
	}
	if HasEncodedSlash(r.URL.EscapedPath()) {
		return end(http.StatusNotFound, "refuses the path: it holds an encoded slash or backslash (404)")
	}
	rel, ok := CleanPath(urlPath)
	if !ok {
		return end(http.StatusNotFound, "refuses the path %q: it holds a NUL, a backslash or a dot segment (404)", urlPath)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return end(http.StatusInternalServerError, "cannot read %s: %v", root, unwrapPathError(err))
	}
	if !fi.IsDir() {
		if rel != "." {
			return end(http.StatusNotFound, "serves only the one file %s, and %q is below it (404)", root, urlPath)
		}
		return serveFile(r, root, fi, end)
	}
	if !opts.Dotfiles && Hidden(rel) {
		return end(http.StatusNotFound, "hides %q: names starting with \".\" are not served while dotfiles is off (404)", rel)
	}
	name := filepath.Join(root, filepath.FromSlash(rel))
	dir, err := os.OpenRoot(root)
	if err != nil {
		return end(http.StatusInternalServerError, "cannot open %s: %v", root, unwrapPathError(err))
	}
	defer dir.Close()
	fi, err = dir.Stat(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return end(http.StatusNotFound, "looks for %s, which does not exist (404)", name)
	case errors.Is(err, fs.ErrPermission):
		return end(http.StatusForbidden, "looks for %s, which the server may not read (403)", name)
	case err != nil:
		// os.Root refuses a symlink that leads out of the root.
		return end(http.StatusNotFound, "looks for %s, which cannot be reached below %s: %v (404)", name, root, unwrapPathError(err))
	}
	slash := strings.HasSuffix(urlPath, "/")
	if !fi.IsDir() {
		if slash {
			return end(http.StatusNotFound, "looks for the directory %s, but it is a file (404)", name)
		}
		return serveFile(r, name, fi, end)
	}
	if !slash {
		return end(http.StatusMovedPermanently, "finds the directory %s and redirects to %s/ with 301, so that relative links work", name, r.URL.Path)
	}
	for _, index := range opts.Index {
		ipath := index
		if rel != "." {
			ipath = rel + "/" + index
		}
		ifi, err := dir.Stat(ipath)
		if err != nil || ifi.IsDir() {
			continue
		}
		return serveFile(r, filepath.Join(root, filepath.FromSlash(ipath)), ifi, end)
	}
	tried := strings.Join(opts.Index, ", ")
	if tried == "" {
		tried = "none"
	}
	if opts.Browse {
		return end(http.StatusOK, "finds the directory %s without an index file (tried %s) and lists its entries, as browse is on (200)", name, tried)
	}
	return end(http.StatusForbidden, "finds the directory %s without an index file (tried %s); browse is off, so 403 Forbidden", name, tried)
}

// serveFile explains the answer with a file that exists.
func serveFile(r *http.Request, name string, fi fs.FileInfo, end func(int, string, ...any) registry.Explanation) registry.Explanation {
	if !fi.Mode().IsRegular() {
		return end(http.StatusForbidden, "finds %s, which is no regular file (403)", name)
	}
	if r.Method == http.MethodOptions {
		return end(http.StatusNoContent, "finds %s and answers OPTIONS with 204 and Allow: %s", name, Allow)
	}
	return end(http.StatusOK, "serves the file %s (%d bytes, %s) with 200, or 304/206 for conditional and range requests",
		name, fi.Size(), ContentType(name))
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
