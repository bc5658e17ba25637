// Package vhost serves a decoded config: it opens the listeners named by
// every vhost, picks the vhost for each request by host name (SPEC §4),
// and runs that vhost's pipeline of module stages.
//
// A generation is one config with its provisioned modules and host tables.
// Reload builds a whole new generation and swaps it in atomically; the
// old one is cleaned up once the requests it admitted have finished. If
// building fails the old generation keeps serving. Listeners and their
// connections outlive generations, so a reload drops no connection.
package vhost
