// Package alias is the alias module, after Apache's mod_alias Alias: it
// serves a directory or a single file from anywhere on disk at a URL
// prefix, with the static module's file server and rules (index files,
// listings, conditional and range requests, dot-file and traversal
// policy).
//
//	alias "/icons/" { path = "icons/" }
//
// The core routes a request to the mount with the longest matching prefix
// (registry.MatchPrefix); the part of the URL path after the prefix is
// looked up below path.
package alias
