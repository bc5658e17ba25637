// Package fileserver serves files from a directory, or one file, the way
// SimpleHTTPServer, Apache's core, mod_dir and mod_autoindex do. The
// static module serves document_root with it and the alias module its own
// path, so neither imports the other.
//
// It answers GET and HEAD, and OPTIONS with the methods it allows (others
// get 405 with Allow), redirects a directory URL without its trailing
// slash (301), serves a directory's first index file, else a sortable
// HTML listing when browse is on, else 403. Files go out through
// http.ServeContent: Content-Type from the extension, Last-Modified, a
// strong ETag, the four conditional headers and single or multiple byte
// ranges; as *os.File, so the engine sends them with sendfile. Small files
// are kept in memory with their headers (see CacheOptions and cache.go): a
// hit costs one fstatat that proves the path still leads to the same
// unchanged file, so an answer is never stale.
//
// Under a compress stage (found with coding.OfferOf on the writer), a
// file of a type the stage lists goes out as its fresh precompressed
// sibling (FILE.zst, FILE.br, FILE.gz) or, when small, encoded from the
// stage's cache (see encoded.go); a Range request always gets the file's
// own bytes. ServeTry answers by a try_files list (see TryFiles).
//
// Safety policy: URL paths are mapped by CleanPath, which rejects NUL,
// backslashes and "." or ".." segments; percent-encoded slashes (%2F,
// %5C) are rejected; every file is opened beneath the root (openat2 with
// RESOLVE_BENEATH, or an os.Root where the kernel lacks it), so symlinks
// are followed only while they stay inside the root. Dot-files are 404
// unless dotfiles = true, except below a leading /.well-known/.
package fileserver
