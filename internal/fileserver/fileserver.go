package fileserver

import (
	"errors"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"httpd/internal/coding"
	"httpd/registry"
)

// Options are the settings a FileServer shares between static and alias.
type Options struct {
	// Index lists the file names tried, in order, for a directory URL.
	// Each is a plain file name, without a slash.
	Index []string
	// Browse enables HTML listings of directories without an index file.
	Browse bool
	// Dotfiles allows files and directories whose names start with "."
	// to be served and listed. When false they are 404 (except a leading
	// "/.well-known/") and left out of listings.
	Dotfiles bool
	// CacheControl, when not empty, is sent as Cache-Control with files
	// (200, 206 and 304 answers).
	CacheControl string
	// Cache keeps small files in memory; see CacheOptions.
	Cache CacheOptions
}

// FileServer serves the files below one directory, or one single file.
//
// Every file is opened through an os.Root on the directory, so no URL can
// reach outside it: not with "..", not through a symlink that leads out.
// Symlinks that stay inside the root are followed. A FileServer is safe
// for concurrent use; Close it when done.
type FileServer struct {
	dir  string   // the root as configured, for messages
	root *os.Root // nil when file is set
	// beneath opens files below root in one system call (see open) and
	// is the cache's handle for fstatat; nil where it could not be
	// opened.
	beneath   *dirHandle
	rootSlash string // the root's name and a slash, to name opened files
	file      string // the single file served, or ""
	opts      Options
	// cache holds small files of root in memory; nil when off.
	cache *cache
	// cacheControl is opts.CacheControl as a header value, or nil.
	cacheControl []string
}

// New opens root, a directory or a regular file. For a file, the
// FileServer serves that file for the mount's own URL and 404 for every
// path below it.
func New(root string, opts Options) (*FileServer, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("static %s: %w", root, err)
	}
	s := &FileServer{dir: root, opts: opts}
	if opts.CacheControl != "" {
		s.cacheControl = []string{opts.CacheControl}
	}
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("static %s: not a directory or regular file", root)
		}
		s.file = root
		return s, nil
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("static %s: %w", root, err)
	}
	s.root = r
	// Without the handle, os.Root opens every file and there is no cache.
	s.beneath, _ = openDirHandle(root)
	s.rootSlash = strings.TrimSuffix(r.Name(), "/") + "/"
	s.cache = newCache(s.beneath, opts.Cache)
	if s.cache != nil {
		s.cache.cacheControl = opts.CacheControl
	}
	return s, nil
}

// open opens name, a CleanPath result, below the root: with openat2(2)
// where the system has it, else through os.Root. Both refuse a path that
// leads out of the root.
func (s *FileServer) open(name string) (*os.File, error) {
	if s.beneath != nil {
		f, err := s.beneath.openBeneath(name, s.rootSlash)
		if err != errUseRoot {
			return f, err
		}
	}
	return s.root.Open(name)
}

// IsFile reports whether the server serves one regular file rather than a
// directory.
func (s *FileServer) IsFile() bool { return s.file != "" }

// Root returns the directory or file the server was opened on.
func (s *FileServer) Root() string { return s.dir }

// Options returns the server's options.
func (s *FileServer) Options() Options { return s.opts }

// Close releases the root directory. Serve must not be called after.
func (s *FileServer) Close() error {
	if s.root == nil {
		return nil
	}
	var derr error
	if s.beneath != nil {
		derr = s.beneath.close()
	}
	return errors.Join(s.root.Close(), derr)
}

// Allow is the Allow header of every file server answer that has one: the
// 204 to OPTIONS and the 405 to any other method but GET and HEAD.
const Allow = "GET, HEAD, OPTIONS"

// Serve answers a request for urlPath, the request's decoded path below
// the server's root: "" or "/" is the root itself, and a trailing slash
// asks for a directory. The caller strips any mount prefix; r.URL is
// still the full request URL, used for the slash redirect and the
// listing's title.
//
// GET and HEAD get the resource; OPTIONS gets 204 with Allow when the
// path names a file or directory that GET could reach (else the same
// error GET would get); every other method gets 405.
//
// Serve writes the response only when it has one: a file (200, 206, 304,
// 412 or 416, through http.ServeContent), a listing, a 301 to the slash
// form of a directory URL, or the 204 to OPTIONS. Otherwise it writes
// nothing and returns a *registry.StatusError: 405 (with an Allow header
// set on w), 404 for a path that is rejected, hidden or missing, 403 for
// a directory without index or listing or an unreadable file, 500 when
// the system fails. A 404 for a plain missing file also matches
// errors.Is(err, fs.ErrNotExist).
func (s *FileServer) Serve(w http.ResponseWriter, r *http.Request, urlPath string) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		return s.options(w, r, urlPath)
	default:
		w.Header().Set("Allow", Allow)
		return registry.Errorf(http.StatusMethodNotAllowed, "static: method %s not allowed", r.Method)
	}
	rel, err := s.check(r, urlPath)
	if err != nil {
		return err
	}
	if s.file != "" {
		f, err := os.Open(s.file)
		if err != nil {
			return openError(s.file, err)
		}
		defer f.Close()
		return s.serveFile(w, r, f, s.file)
	}
	slash := strings.HasSuffix(urlPath, "/")
	if s.cache != nil {
		m := s.cache.files
		if slash || rel == "." {
			m = s.cache.indexes
		}
		if e := s.cache.get(m, rel); e != nil {
			return s.serveEntry(w, r, e)
		}
		if !slash && s.cachedSibling(w, r, rel) {
			return nil
		}
	}
	f, err := s.open(rel)
	if err != nil {
		return openError(rel, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return registry.Error(http.StatusInternalServerError, fmt.Errorf("static %s: %w", rel, err))
	}
	if !fi.IsDir() {
		if slash {
			return registry.Error(http.StatusNotFound, fmt.Errorf("static %s: not a directory: %w", rel, fs.ErrNotExist))
		}
		if e := s.fill(false, rel, f, fi, rel); e != nil {
			return s.serveEntry(w, r, e)
		}
		return s.serveOpen(w, r, f, fi, rel)
	}
	if !slash {
		redirectSlash(w, r)
		return nil
	}
	for i, name := range s.opts.Index {
		ipath := name
		if rel != "." {
			ipath = rel + "/" + name
		}
		idx, err := s.open(ipath)
		if err != nil {
			if oerr := openError(ipath, err); registry.StatusOf(oerr) != http.StatusNotFound {
				return oerr
			}
			continue // missing, or a symlink that leads out
		}
		ifi, err := idx.Stat()
		if err != nil || ifi.IsDir() {
			idx.Close()
			continue
		}
		defer idx.Close()
		if i == 0 {
			// Only the first index name is cached for the directory:
			// finding it again proves no earlier name is missing.
			if e := s.fill(true, rel, idx, ifi, ipath); e != nil {
				return s.serveEntry(w, r, e)
			}
		}
		return s.serveOpen(w, r, idx, ifi, ipath)
	}
	if !s.opts.Browse {
		return registry.Errorf(http.StatusForbidden, "static %s: directory has no index file and browse is off", rel)
	}
	return s.list(w, r, f, rel)
}

// check maps urlPath to a name below the root, as CleanPath does, or
// returns the 404 for a path that is rejected, hidden, or below the
// single file a file server serves.
func (s *FileServer) check(r *http.Request, urlPath string) (string, error) {
	if HasEncodedSlash(r.URL.EscapedPath()) {
		return "", registry.Errorf(http.StatusNotFound, "static: encoded slash in %q", r.URL.EscapedPath())
	}
	rel, ok := CleanPath(urlPath)
	if !ok {
		return "", registry.Errorf(http.StatusNotFound, "static: rejected path %q", urlPath)
	}
	if s.file != "" {
		if rel != "." {
			return "", registry.Error(http.StatusNotFound, fmt.Errorf("static %s: %q is below a file: %w", s.file, urlPath, fs.ErrNotExist))
		}
		return rel, nil
	}
	if !s.opts.Dotfiles && Hidden(rel) {
		return "", registry.Errorf(http.StatusNotFound, "static: hidden path %q", rel)
	}
	return rel, nil
}

// options answers OPTIONS for urlPath: 204 with Allow when it names a
// file or directory, else the error GET would get for a path that is not
// there (404, or 403 when it cannot be opened).
func (s *FileServer) options(w http.ResponseWriter, r *http.Request, urlPath string) error {
	rel, err := s.check(r, urlPath)
	if err != nil {
		return err
	}
	name, fi := s.file, fs.FileInfo(nil)
	if s.file != "" {
		fi, err = os.Stat(s.file)
	} else {
		name = rel
		var f *os.File
		if f, err = s.open(rel); err == nil {
			fi, err = f.Stat()
			f.Close()
		}
	}
	if err != nil {
		return openError(name, err)
	}
	if s.file == "" && !fi.IsDir() && strings.HasSuffix(urlPath, "/") {
		return registry.Error(http.StatusNotFound, fmt.Errorf("static %s: not a directory: %w", rel, fs.ErrNotExist))
	}
	w.Header().Set("Allow", Allow)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// fill caches the open file f, named name below the root, under key (the
// directory, for an index file) when the cache is on and the file fits;
// it returns the new entry or nil.
func (s *FileServer) fill(index bool, key string, f *os.File, fi fs.FileInfo, name string) *cached {
	if s.cache == nil {
		return nil
	}
	e := s.cache.fill(f, fi, name, time.Now())
	if e == nil {
		return nil
	}
	m := s.cache.files
	if index {
		m = s.cache.indexes
	}
	s.cache.put(m, key, e)
	return e
}

// serveFile serves the open single file of a file alias.
func (s *FileServer) serveFile(w http.ResponseWriter, r *http.Request, f *os.File, name string) error {
	fi, err := f.Stat()
	if err != nil {
		return registry.Error(http.StatusInternalServerError, fmt.Errorf("static %s: %w", name, err))
	}
	return s.serveOpen(w, r, f, fi, filepath.ToSlash(name))
}

// serveOpen serves a file through http.ServeContent, which answers
// conditional and range requests. f goes in as an *os.File so that
// net/http can send it with sendfile.
func (s *FileServer) serveOpen(w http.ResponseWriter, r *http.Request, f *os.File, fi fs.FileInfo, name string) error {
	if !fi.Mode().IsRegular() {
		return registry.Errorf(http.StatusForbidden, "static %s: not a regular file", name)
	}
	if o := coding.OfferOf(w); o != nil && s.serveEncoded(w, r, o, openFile(f, fi, name)) {
		return nil
	}
	h := w.Header()
	h["Content-Type"] = []string{ContentType(name)}
	h["Etag"] = []string{etag(fi)}
	if s.opts.CacheControl != "" {
		h["Cache-Control"] = []string{s.opts.CacheControl}
	}
	http.ServeContent(w, r, name, fi.ModTime(), f)
	return nil
}

// etag is a strong validator: the modification time in nanoseconds and
// the size, in hex.
func etag(fi fs.FileInfo) string {
	var b [40]byte
	e := append(b[:0], '"')
	e = strconv.AppendInt(e, fi.ModTime().UnixNano(), 16)
	e = append(e, '-')
	e = strconv.AppendInt(e, fi.Size(), 16)
	e = append(e, '"')
	return string(e)
}

// openError maps an error opening name to the status the client gets. A
// path that leads out of the root, through a file or into a loop is 404
// like a missing one; the error keeps the cause for the log.
func openError(name string, err error) error {
	status := http.StatusNotFound
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case errors.Is(err, fs.ErrPermission):
		status = http.StatusForbidden
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE),
		errors.Is(err, syscall.ENOMEM), errors.Is(err, syscall.EIO):
		status = http.StatusInternalServerError
	}
	return registry.Error(status, &openErr{name: name, err: err})
}

// openErr is "static: open NAME: ERR", formatted only when read: a missing
// file is common, and its error is usually dropped for the next handler.
type openErr struct {
	name string
	err  error
}

func (e *openErr) Error() string { return "static: open " + e.name + ": " + e.err.Error() }
func (e *openErr) Unwrap() error { return e.err }

// redirectSlash answers 301 with the request's path plus "/", keeping the
// query. Leading slashes collapse to one, so the Location can never name
// another host ("//evil.example/").
func redirectSlash(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	for strings.HasPrefix(p, "//") {
		p = p[1:]
	}
	loc := p + "/"
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	h := w.Header()
	h.Set("Location", loc)
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusMovedPermanently)
	if r.Method != http.MethodHead {
		fmt.Fprintf(w, "<a href=\"%s\">Moved Permanently</a>.\n", html.EscapeString(loc))
	}
}
