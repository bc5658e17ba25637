// Package forwarded holds the rules for the headers with which proxies
// tell the server behind them who the client was: X-Forwarded-For,
// X-Forwarded-Proto, X-Forwarded-Host and Forwarded (RFC 7239), and for
// server.trusted_proxies, the peers whose word on them is taken.
//
// Both ends use it, so the rules live in one place. On the way in, the
// vhost calls Trusted.Rewrite once per request, before anything else
// sees it: a request from a trusted proxy then has the client's address
// as its RemoteAddr, for the logs and every gateway's REMOTE_ADDR, and
// keeps the peer's own address for Peer. On the way out, the
// reverse_proxy module calls SetHeaders for the request it sends
// upstream: from an untrusted peer every forwarding header the client
// sent is replaced, from a trusted one the chain it began is extended.
//
// The client is found by reading X-Forwarded-For from the right and
// skipping trusted proxies (Trusted.ClientAddr), as nginx's
// real_ip_recursive and Apache's mod_remoteip do: the leftmost entry is
// whatever the first client wrote and proves nothing.
package forwarded
