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
//
// # For tests only
//
// The environment variable HTTPD_TEST_ACME_RENEW_CHECK (TestRenewCheckEnv),
// a Go duration such as "1s", makes certmagic check for certificates due
// for renewal that often instead of every 10 minutes, and turns ACME
// Renewal Information off so that a certificate is renewed when a third
// of its life is left. With a test CA issuing certificates that live
// seconds, it lets an end-to-end test watch a renewal, and its pick-up by
// the other servers of a fleet. It is not a setting: production servers
// never set it.
//
// Status and PublishStatus carry what the status page shows about the
// storage in use and the session-ticket keys, so that the page needs no
// import of the storage's package.
package certs
