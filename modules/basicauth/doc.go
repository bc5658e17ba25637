// Package basicauth is the basic_auth module, after Apache's
// mod_auth_basic with mod_authn_file: requests under a URL prefix need the
// user name and password of a line of an htpasswd file (RFC 7617 Basic
// authentication), or get 401 Unauthorized with a WWW-Authenticate
// challenge and nothing of the resource.
//
//	basic_auth "/admin/" {
//	  realm    = "Admin"
//	  htpasswd = "conf/htpasswd"
//	}
//
// The file is what Apache's htpasswd writes: bcrypt ($2y$), apr1
// ($apr1$, Apache's MD5-crypt) and {SHA} lines. It is read when the
// config is checked and when the module is provisioned, so at start and
// on every SIGHUP; a line it cannot use is a config error naming the
// file and line.
//
// An unknown user's password is checked against a dummy hash of the
// scheme and cost most users have, so a wrong user costs as much as a
// wrong password. A verified (user, password) pair is remembered for
// the block's cache duration under a keyed hash, so a logged-in user's
// requests do not each run bcrypt; failures are never remembered.
//
// A request that passes carries the user for the gateways
// (gateway.WithUser): CGI, FastCGI and WSGI see REMOTE_USER and
// AUTH_TYPE=Basic. Of several basic_auth blocks of a vhost written one
// after another, the one with the longest prefix matching the path
// decides alone.
package basicauth
