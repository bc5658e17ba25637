// Package registry is where modules register the vhost block types they own.
//
// A module is one folder under modules/ that calls Register from init. The
// core (package conf) builds each vhost's schema from the registry, hands
// every block to its module's Decode, calls Validate (pure: httpd -t runs
// it), and at start or reload calls Provision and Wrap to build the vhost's
// pipeline; Cleanup runs when the generation that owns the module retires,
// even after a half-finished Provision.
//
// The lifecycle of one module instance is
//
//	New → Decode → Validate → Provision → Wrap → ... → Cleanup
//
// The registry is the only package-level mutable state of the server, and
// it is written only from init functions.
package registry
