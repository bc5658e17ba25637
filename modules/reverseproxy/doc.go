// Package reverseproxy is the reverse_proxy module: HTTP servers behind
// a URL prefix, after nginx's proxy_pass, Apache's mod_proxy and Caddy's
// reverse_proxy.
//
//	reverse_proxy "/api/" {
//	  to           = ["http://127.0.0.1:9001", "http://127.0.0.1:9002", "unix:/run/app.sock"]
//	  lb_policy    = "round_robin"
//	  strip_prefix = false
//	  health_check {
//	    path     = "/healthz"
//	    interval = "5s"
//	  }
//	  timeout {
//	    connect         = "3s"
//	    response_header = "60s"
//	  }
//	}
//
// # Proxying
//
// The standard library's httputil.ReverseProxy does the exchange, with a
// Rewrite function, FlushInterval -1 (each chunk the upstream sends is
// flushed to the client at once, so server-sent events work) and a
// pooled buffer. It removes hop-by-hop headers, streams both bodies with
// back-pressure (neither is ever held whole), passes 1xx answers and
// trailers, and hands a connection over when the upstream agrees to
// switch protocols (WebSocket): over HTTP/1.1 the vhost's writer can be
// hijacked and the two connections become one byte pipe. An HTTP/2
// request carries no Upgrade, so it is proxied as any other; an upstream
// that answers one with 101 anyway gets a 502, as ReverseProxy answers
// it. The forwarding headers (X-Forwarded-For, -Proto, -Host and
// Forwarded) come from package internal/forwarded, which also decides,
// by server.trusted_proxies, whether the ones the client sent are kept
// or replaced. The Host header is the client's (preserve_host, as Caddy
// does; nginx and Apache send the upstream's, which preserve_host =
// false gives), so that an upstream with virtual hosts, such as another
// httpd, sees the name the client asked for.
//
// # Upstreams
//
// All upstreams of a block share one http.Transport: HTTP/1.1 only, kept
// connections (max_idle_conns per upstream, closed after timeout.idle),
// no proxy from the environment, no transparent decompression (bytes pass
// as they are), connect and response_header timeouts; unix: upstreams go
// through its DialContext. A RoundTripper in front of it
// picks the upstream (round_robin, least_conn by requests in flight,
// ip_hash on the client's address, first) among those in rotation; when
// the connection fails (refused, unreachable, connect timeout) nothing of
// the request was sent, so the next upstream takes it whatever its
// method, and the failure counts against the first.
//
// # Health
//
// Passive: max_fails failed requests in a row (no connection, no or a
// broken answer, not a 5xx, which is an answer) take an upstream out for
// fail_timeout; back in, one more failure takes it out again, one
// success clears the count. Active: with a health_check block, a
// goroutine started by Provision requests path on every upstream right
// away and then every interval; a failed check (error, timeout or a
// status other than expect_status, by default any 2xx or 3xx) takes the
// upstream out until a check passes. Cleanup stops it and waits for it;
// so does Env.Kill, at once. Each change is logged with the upstream and
// the reason. Health is not carried across a reload: a new generation
// starts with every upstream in rotation.
//
// # Errors
//
// No upstream in rotation, or none that can be connected to: 502. No
// response header within timeout.response_header: 504. Any other
// failure before the response: 502. The error log names the mount, the
// upstream and the reason; the client sees the vhost's fixed page. A
// failure while the body streams cuts the client's connection, so a
// truncated body never looks whole.
package reverseproxy
