// Package redisstore keeps the state a fleet of httpd servers shares in
// Redis: a certmagic.Storage for ACME certificates, accounts, OCSP
// staples and the locks that keep two servers from ordering the same
// certificate, and a certs.TicketKeySource so that a client resumes its
// TLS session on any server.
//
// Layout under the prefix P (every key this package writes starts with
// "P:"):
//
//	P:f:<key>    a hash {v: value, m: modified, unix nanoseconds}
//	P:d:<dir>    a set of the names directly under dir ("" is the root)
//	P:l:<name>   a lock: a random token, with a time to live
//	P:tickets    the session-ticket keys (JSON)
//
// A value and the directory index are written and deleted together by
// one Lua script, so a reader never sees one without the other. Locks
// are held by a token only their holder knows; they expire when their
// holder stops refreshing them (it died or lost Redis), and only their
// holder releases them.
//
// Redis must be trusted: it holds private keys of certificates and ACME
// accounts and the session-ticket keys, in the clear. Give it a password,
// keep it on a private network (or use TLS), and back it up.
package redisstore
