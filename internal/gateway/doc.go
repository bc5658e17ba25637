// Package gateway derives from an *http.Request the RFC 3875
// meta-variables that every gateway passes on the same way: the CGI module
// as a script's environment, the WSGI module as the application's environ.
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
package gateway
