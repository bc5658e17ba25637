// Package coding holds what the compress stage and the file server share
// about content codings (RFC 9110, section 8.4.1): the codings httpd
// speaks (zstd, br, gzip), the Accept-Encoding parser, pooled encoders,
// the cache of compressed small files, and the Offer by which the compress
// stage tells the file server what it may send encoded for one request.
//
// The file server finds the Offer on the ResponseWriter it was given
// (OfferOf walks the writers' Unwrap chain), so a request that no compress
// stage wraps pays nothing and never gets a precompressed or cached
// encoded file: the compress stage alone decides what a client receives.
package coding
