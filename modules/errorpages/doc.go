// Package errorpages is the error_pages module, after Apache's
// ErrorDocument: a vhost attribute that maps error statuses, one by one
// or by class, to pages of the vhost itself.
//
//	error_pages = { "404" = "/errors/404.html", "5xx" = "/errors/5xx.html" }
//
// When a later stage of the pipeline returns an error (registry.StatusOf
// 400 to 599) before writing anything, the stage runs the pipeline again
// (Env.Pipeline) on the page's path with GET (HEAD for a HEAD request)
// and sends what it answers with the original status. If the page fails
// (it is missing, answers with an error or a redirect, or loops), the
// vhost's built-in page goes out instead and one line in the error log
// says which page failed and why.
//
// A response a stage wrote itself is never replaced: a CGI script or a
// proxied server that answers 500 with its own body keeps it, as with
// Apache's ErrorDocument (and unlike nginx's proxy_intercept_errors).
package errorpages
