// Package status serves the server-status page: a page a person reads
// at a glance (uptime, config generation, requests and 5xx per second
// over the last minute with a sparkline, connections by state, every
// vhost with its certificate, every gateway mount with its workers or
// upstreams), and the same data as JSON with ?format=json.
//
// The block's allow list says who may read it; everyone else gets 403.
// The data comes from the server's live state, internal/stats, which
// the module finds through registry.Env.Shared.
package status
