// Package static is the static module: it serves a vhost's document_root
// with the file server of internal/fileserver (methods, index files,
// listings, conditional requests, ranges, the safety policy: see that
// package). A vhost with a document_root and no static block gets one with
// the defaults.
package static
