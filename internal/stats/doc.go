// Package stats holds the live, server-wide state that the status and
// metrics modules show: request counters per vhost and mount, latency
// histograms, bytes in and out, a one-minute ring of per-second request
// and 5xx counts, open connections by state, and the running config
// generation with its vhosts, certificates and gateway mounts.
//
// The server (package vhost) owns one Server for its whole life: it
// counts every request into it, samples the ring each second and
// publishes each new generation after a config load. Modules reach it
// through registry.Env.Shared (see From); nothing here is package-level
// state.
//
// The request path costs a handful of atomic additions: counters are
// fixed arrays of atomics, looked up once per vhost and mount when a
// generation is built, never per request.
package stats
