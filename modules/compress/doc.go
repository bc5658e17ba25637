// Package compress is the compress module, after Apache's mod_deflate,
// nginx's gzip and Caddy's encode: it encodes response bodies with zstd,
// br or gzip, chosen by the request's Accept-Encoding q-values and then
// the server's order, for every response of the vhost whichever stage
// produced it.
//
//	compress {
//	  encodings = ["zstd", "br", "gzip"]
//	  min_size  = 512
//	  types     = ["text/*", "application/json", "image/svg+xml"]
//	}
//
// The stage sits at registry.PhaseEncode and wraps the ResponseWriter.
// It adds Vary: Accept-Encoding to every response of a listed type, and
// leaves alone a HEAD, a Range request or 206, a body that already has a
// Content-Encoding, an unlisted type, a body under min_size, 1xx, 204 and
// 304, and Cache-Control: no-transform. A compressed body loses its
// Content-Length and Accept-Ranges, and its ETag gets the coding's name
// ("abc" becomes "abc-gzip"); If-None-Match with such a tag reaches the
// inner stages as the plain tag too, so they can answer 304. Flush
// flushes the encoder and the connection together, so streamed responses
// (server-sent events) keep streaming.
//
// The file server learns the stage's offer through coding.OfferOf and
// sends a fresh precompressed sibling (FILE.zst, FILE.br, FILE.gz) as it
// is, or an encoded small file from the stage's cache.
package compress
