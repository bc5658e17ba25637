// Package static is the static module: it serves a vhost's document_root
// the way SimpleHTTPServer, Apache's core, mod_dir and mod_autoindex do.
//
// It answers GET and HEAD (others get 405 with Allow), redirects a
// directory URL without its trailing slash (301), serves a directory's
// first index file, else a sortable HTML listing when browse is on, else
// 403. Files go out through http.ServeContent: Content-Type from the
// extension, Last-Modified, a strong ETag, the four conditional headers
// and single or multiple byte ranges; as *os.File, so net/http sends them
// with sendfile. Small files are kept in memory with their headers (see
// CacheOptions and cache.go): a hit costs one fstatat that proves the path
// still leads to the same unchanged file, so an answer is never stale.
//
// Safety policy: URL paths are mapped by CleanPath, which rejects NUL,
// backslashes and "." or ".." segments; percent-encoded slashes (%2F,
// %5C) are rejected; every file is opened beneath the root (openat2 with
// RESOLVE_BENEATH, or an os.Root where the kernel lacks it), so symlinks
// are followed only while they stay inside the root. Dot-files
// are 404 unless dotfiles = true, except below a leading /.well-known/.
//
// FileServer is the reusable part: the alias module serves its own path
// with it.
package static
