package fileserver

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"httpd/internal/coding"
)

// Encoded forms of files, for a request that a compress stage wraps (see
// coding.OfferOf). Only a compress stage's offer makes the file server
// send anything but the file itself, and only for a file of a type the
// stage lists:
//
//   - a precompressed sibling, FILE.zst, FILE.br or FILE.gz (tried in the
//     offer's order), goes out as it is when it is a regular file not
//     older than FILE: FILE's Content-Type, the sibling's Content-Encoding,
//     its own ETag and Last-Modified, and Vary: Accept-Encoding;
//   - else a small file (min_size to the stage's cache limit) goes out
//     encoded from the stage's cache, compressed once per state of the
//     file and coding, with FILE's ETag suffixed by the coding.
//
// Anything else is served as the file, which the compress stage may then
// encode as it streams. The offer is empty for a Range request, so ranges
// always address the file's own bytes.

// file is what serveEncoded knows of a regular file.
type file struct {
	name    string // below the root, or the single file's path
	modTime time.Time
	size    int64
	etag    string
	id      fileID
	idOK    bool   // id was had
	body    []byte // the content, when in memory
	f       *os.File
}

func openFile(f *os.File, fi fs.FileInfo, name string) *file {
	id, ok := idOf(fi)
	return &file{name: name, modTime: fi.ModTime(), size: fi.Size(), etag: etag(fi), id: id, idOK: ok, f: f}
}

// serveEncoded answers r with an encoded form of the regular file fl when
// there is one; false when the caller must serve the file itself.
func (s *FileServer) serveEncoded(w http.ResponseWriter, r *http.Request, o *coding.Offer, fl *file) bool {
	name, id, body := fl.name, fl.id, fl.body
	ctype := ContentType(name)
	if !o.Policy.Compressible(ctype) {
		return false
	}
	if o.Policy.Precompressed && s.serveSibling(w, r, o, name, ctype, fl.modTime) {
		return true
	}
	size := fl.size
	if size < o.Policy.MinSize || size > o.Policy.Cache.MaxFile() || !fl.idOK || !id.settled(time.Now()) {
		return false
	}
	c := o.Codings[0]
	k := id.key(c)
	enc, ok := o.Policy.Cache.Get(k)
	if !ok {
		if body == nil {
			body = make([]byte, size)
			if _, err := fl.f.ReadAt(body, 0); err != nil && err != io.EOF {
				return false
			}
			fi2, err := fl.f.Stat()
			if err != nil {
				return false
			}
			if id2, ok := idOf(fi2); !ok || id2 != id {
				return false // changed while read
			}
		}
		var err error
		if enc, err = o.Policy.Encode(k, true, body); err != nil {
			return false
		}
	}
	h := w.Header()
	h["Content-Type"] = []string{ctype}
	h["Content-Encoding"] = c.HeaderValue()
	addVary(h)
	h["Etag"] = []string{coding.ETag(fl.etag, c)}
	if s.cacheControl != nil {
		h["Cache-Control"] = s.cacheControl
	}
	if !plainRequest(r) {
		http.ServeContent(w, r, name, fl.modTime, bytes.NewReader(enc))
		return true
	}
	setLastModified(h, fl.modTime)
	h["Content-Length"] = []string{strconv.Itoa(len(enc))}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(enc)
	}
	return true
}

// serveSibling sends the first fresh precompressed sibling of name in the
// offer's order; false when there is none.
//
// A small sibling is kept in the file cache like any small file, so a
// hit costs one fstatat(2) instead of an open, a stat and a close, and
// goes out with its head in one write.
func (s *FileServer) serveSibling(w http.ResponseWriter, r *http.Request, o *coding.Offer, name, ctype string, modTime time.Time) bool {
	cache := s.cache
	if s.file != "" {
		cache = nil // a single file's siblings are outside the root
	}
	for _, c := range o.Codings {
		sname := name + c.Ext()
		if cache != nil {
			if e := cache.get(cache.siblings, sname); e != nil {
				if e.modTime.Before(modTime) {
					continue // stale
				}
				s.serveSiblingEntry(w, r, e, ctype, c)
				return true
			}
		}
		sf, err := s.openSibling(sname)
		if err != nil {
			continue
		}
		sfi, err := sf.Stat()
		if err != nil || !sfi.Mode().IsRegular() || sfi.ModTime().Before(modTime) {
			sf.Close()
			continue
		}
		if cache != nil {
			if e := cache.fill(sf, sfi, sname, time.Now()); e != nil {
				sf.Close()
				cache.put(cache.siblings, sname, e)
				s.serveSiblingEntry(w, r, e, ctype, c)
				return true
			}
		}
		h := w.Header()
		h["Content-Type"] = []string{ctype}
		h["Content-Encoding"] = c.HeaderValue()
		addVary(h)
		h["Etag"] = []string{etag(sfi)}
		if s.cacheControl != nil {
			h["Cache-Control"] = s.cacheControl
		}
		if plainRequest(r) {
			setLastModified(h, sfi.ModTime())
			h["Accept-Ranges"] = acceptRanges
			h["Content-Length"] = []string{strconv.FormatInt(sfi.Size(), 10)}
			w.WriteHeader(http.StatusOK)
			if r.Method != http.MethodHead {
				// A LimitedReader of the *os.File reaches the writer's
				// ReadFrom as it is (io.Copy would take the file's own
				// WriteTo, which hides the file): sendfile, and the head
				// corked with the first bytes.
				_, _ = io.CopyN(w, sf, sfi.Size())
			}
		} else {
			// ServeContent answers the conditions; with Content-Encoding
			// set it sends no Content-Length.
			http.ServeContent(w, r, name, sfi.ModTime(), sf)
		}
		sf.Close()
		return true
	}
	return false
}

// cachedSibling answers r for the file rel, too large for the cache
// itself, with a cached precompressed sibling when there is one for the
// offer and it is still fresh: one fstatat(2) of the file for its type
// and modification time, one of the sibling to check the cached copy,
// and no open. False (having written nothing) sends the caller down the
// usual path, which opens the file and looks for siblings on disk.
func (s *FileServer) cachedSibling(w http.ResponseWriter, r *http.Request, rel string) bool {
	o := coding.OfferOf(w)
	if o == nil || !o.Policy.Precompressed {
		return false
	}
	c := s.cache
	var e *cached
	var enc coding.Coding
	c.mu.RLock()
	for _, cd := range o.Codings {
		if e = c.siblings[rel+cd.Ext()]; e != nil {
			enc = cd
			break
		}
	}
	c.mu.RUnlock()
	if e == nil {
		return false // the common case: no syscall spent
	}
	ctype := ContentType(rel)
	if !o.Policy.Compressible(ctype) {
		return false
	}
	// The first coding of the offer with a cached sibling decides; a
	// better one only on disk is found by the usual path next time the
	// cache is refilled, which is rare enough to ignore here.
	id, ok := c.dir.stat(append([]byte(rel), 0))
	if !ok || !id.regular() {
		return false
	}
	if e = c.get(c.siblings, rel+enc.Ext()); e == nil || e.modTime.Before(id.modTime()) {
		return false
	}
	s.serveSiblingEntry(w, r, e, ctype, enc)
	return true
}

// serveSiblingEntry answers r with the cached sibling e in coding c of a
// file of type ctype, as serveSibling does from the open sibling.
func (s *FileServer) serveSiblingEntry(w http.ResponseWriter, r *http.Request, e *cached, ctype string, c coding.Coding) {
	h := w.Header()
	h["Content-Type"] = []string{ctype}
	h["Content-Encoding"] = c.HeaderValue()
	addVary(h)
	h["Etag"] = e.etag
	if s.cacheControl != nil {
		h["Cache-Control"] = s.cacheControl
	}
	e.write(w, r)
}

// openSibling opens a precompressed sibling: below the root, or next to
// the single file served.
func (s *FileServer) openSibling(name string) (*os.File, error) {
	if s.file != "" {
		return os.Open(name)
	}
	return s.open(name)
}

// addVary adds Accept-Encoding to Vary unless it is there.
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

// setLastModified sets Last-Modified as http.ServeContent would.
func setLastModified(h http.Header, mt time.Time) {
	if !mt.IsZero() && !mt.Equal(time.Unix(0, 0)) {
		h["Last-Modified"] = []string{mt.UTC().Format(http.TimeFormat)}
	}
}
