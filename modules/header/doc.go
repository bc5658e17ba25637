// Package header is the header module, after Apache's mod_headers: for
// requests under a URL prefix it removes, sets and adds response headers
// as the response leaves, whichever stage produced it, error pages
// included.
//
//	header "/" {
//	  set    = { "Strict-Transport-Security" = "max-age=31536000" }
//	  add    = { "Link" = "</style.css>; rel=preload" }
//	  remove = ["X-Powered-By"]
//	}
//
// A block applies remove, then set (which replaces), then add (which
// appends). When several blocks of a vhost match a path, all apply,
// shorter prefix first, so a longer prefix has the last word. Header
// stages run outermost (registry.PhaseHeader), so they see the final
// Content-Encoding and Vary.
package header
