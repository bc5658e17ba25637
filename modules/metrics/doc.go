// Package metrics serves the server's metrics in the Prometheus text
// exposition format: requests by vhost, mount, method and status class,
// latency histograms, bytes in and out, open connections by state,
// worker pools and upstreams of every gateway mount, certificate expiry,
// and the config generation.
//
// Each block has its own Prometheus registry (never the process-wide
// default) holding one collector that reads the server's live state,
// internal/stats, when scraped: the request path never touches
// Prometheus. Labels are bounded: methods outside the known ones are
// "OTHER", mounts are configured prefixes, never request paths.
package metrics
