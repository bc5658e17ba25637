// Package conf reads httpd.hcl into a Config.
//
// Load and Parse have no side effects beyond reading files: they decode
// every block (module blocks by the module that owns them, see package
// registry), run every check that needs no running server, and return all
// problems at once as HCL diagnostics that name file:line:col. httpd -t is
// exactly a call to Load.
package conf
