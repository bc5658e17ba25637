// Package fastcgi is the fastcgi module: PHP-FPM and any other FastCGI
// responder serving the scripts of a vhost's document_root, after nginx's
// fastcgi_pass and Caddy's php_fastcgi.
//
//	fastcgi "/" {
//	  to               = "unix:/run/php/php8.2-fpm.sock"
//	  split_path       = [".php"]
//	  index            = ["index.php"]
//	  front_controller = "/index.php"
//	}
//
// # Routing
//
// The whole URL path names a file under document_root, whatever the
// mount's prefix. A path is cut after the first segment whose name ends
// with a split_path suffix: what comes before is SCRIPT_NAME, the rest
// PATH_INFO. Such a script runs only when it is a regular file beneath
// the root (opened through an os.Root, so symlinks are followed only
// while they stay inside); nothing else is ever sent to the responder as
// a script, so "/uploads/evil.jpg/x.php" cannot run evil.jpg the way
// cgi.fix_pathinfo once let it. A path with no split_path match that
// names an existing file is served by internal/fileserver, as static
// serves files (ranges, conditional requests, no dot-files); a
// directory runs or serves its first index file. Anything else goes to
// front_controller with the original REQUEST_URI, or is 404 without one.
//
// # Protocol
//
// The wire format is in the subpackage fcgi. Each request opens with one
// write holding BEGIN_REQUEST (role responder, FCGI_KEEP_CONN) and the
// PARAMS stream; the body follows as STDIN records from a goroutine of
// its own, read from the client as the responder takes it, so a big
// upload never sits in memory and a responder may answer before it has
// read it all (a body of unknown length is spooled first, since PHP reads
// no more than CONTENT_LENGTH). STDOUT is parsed as a CGI response by
// package gateway, as script_alias's output is, except that a block
// without Status, Content-Type or Location is a 200: Status, Location (a
// local path without Status is an internal redirect, a URL a 302), other
// fields passed on; then copied to
// the client as it comes, flushed whenever no more has arrived, so a
// script's flush() reaches the client at once. STDERR goes to the error
// log a line at a time, tagged with the script and the request.
// END_REQUEST ends the answer.
//
// # Connections
//
// A connection carries one request at a time (PHP-FPM does not multiplex)
// and is kept for the next one when the exchange ended cleanly; one that
// failed, timed out or whose client went away is closed. Connections to
// one address are shared by every mount that uses it, in any vhost or
// generation, through the server's registry.Shared store. PHP-FPM ties a
// worker to each kept connection and cannot say how many workers it has,
// so the pool learns it: the most connections the address has answered
// at once. Holding that many, a request that finds none idle waits for
// one to come back rather than opening one that would wait in the
// backlog (one new connection per request cost a connect, an accept and
// a close on both sides: php-hello went from 10.5k to 14.7k req/s). It
// opens one when it holds fewer, when none came back for four times the
// usual request time (every worker busy with long requests), and one at
// a time to find more workers: at once after one was found, a second
// after one was not. A new connection still waiting for its first answer
// after that long gets a worker freed for it: the next connection given
// back is closed; and while any waits, no connection is kept idle. At
// most max_idle_conns stay idle, checked to be still open before reuse;
// a request without a body is sent once more, on a new connection, when
// a kept one turns out closed before any answer.
package fastcgi
