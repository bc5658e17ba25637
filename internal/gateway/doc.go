// Package gateway holds the parts of RFC 3875 that the gateway modules
// share, so that each rule lives in one place: on the request side the
// meta-variables derived from an *http.Request (the CGI module passes
// them as a script's environment, the FastCGI module as parameters, the
// WSGI module as the application's environ), on the response side the
// CGI header block a script or a FastCGI responder writes before its
// body.
//
// # Request
//
// It owns the rules that matter for security, so that the gateways cannot
// drift apart:
//
//   - SERVER_NAME comes from the request's host; SERVER_PORT and
//     SERVER_ADDR from the local address the request came in on, never
//     from the client when the server knows better.
//   - HTTP_* variables carry request headers, except Content-Type and
//     Content-Length (they have variables of their own), Host (taken from
//     the request, not the header map), Proxy (never: it would become
//     HTTP_PROXY, the "httpoxy" hole), Proxy-Authorization, and
//     Authorization unless the gateway passes it on purpose.
//   - A header whose name holds anything but ASCII letters, digits and '-'
//     is dropped, so that "X_Forwarded_For" cannot pose as
//     "X-Forwarded-For" (as in Apache 2.4 and nginx).
//
// The variables particular to one gateway (SCRIPT_NAME, PATH_INFO,
// PATH_TRANSLATED, SCRIPT_FILENAME, DOCUMENT_ROOT, CONTENT_LENGTH, which
// depends on how the gateway delivers the body, REDIRECT_*, wsgi.*) stay
// in the gateway's module.
//
// The API is a callback so that a gateway writes the variables straight
// into its own representation (an environment slice, a wire frame) with
// no intermediate map; for the common headers the names are constants and
// nothing is allocated.
//
// DecodeEnv reads a gateway block's env attribute, refusing the names the
// gateway sets itself (PerRequestVar, HTTP_*, and those the gateway
// adds) and NUL bytes, so that configuration cannot shadow a request's
// variables.
//
// # Response
//
// ReadResponseHeader parses the header block (RFC 3875 §6) into a
// ResponseHeader: Status, Location and the other fields, with hop-by-hop
// fields dropped and anything malformed an error wrapping
// ErrBadResponse, which the gateway answers with a 502. What a gateway's
// peer may do beyond the strict rules is a ResponseOptions field: a CGI
// script may write an NPH status line and continuation lines; a FastCGI
// responder may leave out Status, Content-Type and Location (a 200, as
// nginx reads it), write an empty Location or repeat Content-Type. The
// parser allocates nothing beyond the header it returns; it is on every
// request's path.
//
// ResponseHeader.LocalRedirect says whether the block asks for an
// internal redirect (a local Location, no Status); InternalRedirect then
// serves it through the vhost, bounding the chain of redirects across
// every gateway, and RedirectOf gives the redirected request's origin
// for its REDIRECT_* variables. Otherwise ResponseHeader.WriteHeader
// sends the block, a URL Location being a 302.
package gateway
