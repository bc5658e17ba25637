// Package certs supplies the certificates of TLS vhosts.
//
// ACME obtains and renews certificates from an ACME CA (tls = "auto") with
// certmagic: HTTP-01 and TLS-ALPN-01 challenges, storage in a folder that
// survives restarts and may be shared by a fleet, OCSP stapling, renewal
// with backoff on failure. LocalCA is a certificate authority kept in a
// folder that issues short-lived certificates on demand for localhost,
// private names and IP addresses (tls = "internal").
//
// Both are safe for concurrent use, and both are meant to outlive a single
// config generation: a reload that keeps the same settings keeps the same
// ACME (its cache and any issuance under way) and the same LocalCA.
package certs
