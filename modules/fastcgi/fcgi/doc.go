// Package fcgi is the wire protocol of FastCGI 1.0, as the web server
// side (the client of a responder such as PHP-FPM) speaks it: records,
// the BEGIN_REQUEST and END_REQUEST bodies, and name-value pairs.
//
// A record is an 8-byte header (version, type, request id, content
// length, padding length), up to 65535 bytes of content and up to 255
// bytes of padding. Reader reads records one at a time into a buffer of
// its own, so a stream of any length passes through a fixed amount of
// memory; Append* build records into a caller's buffer, so a request's
// BEGIN_REQUEST and PARAMS go out in one write.
//
// The package does no I/O scheduling, holds no connections and knows
// nothing of HTTP: package fastcgi builds the client on top of it. The
// server side for tests is net/http/fcgi.
//
// Reference: the FastCGI Specification, Mark R. Brown, Open Market, 1996.
package fcgi
