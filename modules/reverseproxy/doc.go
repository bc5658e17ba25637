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
// forward does the exchange the way the standard library's
// httputil.ReverseProxy does it, step for step: it removes hop-by-hop
// headers, streams both bodies with back-pressure (neither is ever held
// whole), flushes each chunk the upstream sends at once (so server-sent
// events work), and passes 1xx answers and trailers. It differs in
// never asking for the request context's Done channel, which on httpd's
// HTTP/1.1 engine starts a goroutine per request to watch the client
// (ReverseProxy asks at once), and in copying the request once. A
// request that asks to switch protocols (WebSocket) goes through
// ReverseProxy itself, with a Rewrite function, FlushInterval -1 and a
// pooled buffer, which hands the connection over when the upstream
// agrees: over HTTP/1.1 the vhost's writer can be hijacked and the two
// connections become one byte pipe. An HTTP/2
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
// Requests to http:// and unix: upstreams go through package
// internal/upstream, an HTTP/1.1 client that runs on the request's
// goroutine: one pool of kept connections per upstream (max_idle_conns,
// closed after timeout.idle), the request written straight from the
// handler and the answer parsed with the standard library's
// http.ReadResponse. The measured reason: http.Transport's readLoop and
// writeLoop goroutines hand each request and answer over channels, and
// with them a proxy on one CPU reached half of nginx's proxy_pass (see
// that package's doc and bench/RESULTS.md). https:// upstreams, protocol
// switches (WebSocket) and requests that expect "100 Continue" keep
// using an http.Transport (HTTP/1.1 only, no proxy from the environment,
// no transparent decompression), as do the active health checks. A
// RoundTripper in front of both picks the upstream (round_robin,
// least_conn by requests in flight, ip_hash on the client's address,
// first) among those in rotation; when the connection fails (refused,
// unreachable, connect timeout) nothing of the request was sent, so the
// next upstream takes it whatever its method, and the failure counts
// against the first.
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
// the reason. Health and kept connections are carried across a reload:
// an upstream the new configuration lists again (same scheme, address
// and path) keeps its failures, its time out of rotation, its last
// check's result and its pool; the active checks go on from the new
// generation's checker. They are kept in registry.Shared, so two mounts
// that list the same upstream share them too.
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
