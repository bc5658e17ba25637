// Package redirect is the redirect module, after Apache's mod_alias
// Redirect: requests under a URL prefix are redirected to another URL or
// path, keeping the rest of their path and their query, or answered
// 410 Gone.
//
//	redirect "/old" {
//	  to     = "https://example.com/new"
//	  status = 301
//	}
//
// Redirect stages run before any mount or content stage.
package redirect
