// Package rewrite is the rewrite module, after Apache's mod_rewrite: a
// regular expression (RE2) on the request's path picks the requests a
// rule applies to, and `to`, with $1, ${name} and the like taken from
// the match, says where they go.
//
//	rewrite "^/post/([0-9]+)$" { to = "/index.php?p=$1" }
//	rewrite "^/old/(.*)$" {
//	  to     = "/new/$1"
//	  status = 301
//	}
//
// Without status the rewrite is internal: the request runs the vhost's
// pipeline again on the new path (at most registry.MaxReentries times,
// then 500 with a log line naming the loop). With status the client is
// redirected. The rules of a vhost are tried in config order; the first
// that matches wins.
package rewrite
