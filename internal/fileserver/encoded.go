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
func (s *FileServer) serveSibling(w http.ResponseWriter, r *http.Request, o *coding.Offer, name, ctype string, modTime time.Time) bool {
	for _, c := range o.Codings {
		sf, err := s.openSibling(name + c.Ext())
		if err != nil {
			continue
		}
		sfi, err := sf.Stat()
		if err != nil || !sfi.Mode().IsRegular() || sfi.ModTime().Before(modTime) {
			sf.Close()
			continue
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
				_, _ = io.Copy(w, sf) // the writer's ReadFrom: sendfile
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
