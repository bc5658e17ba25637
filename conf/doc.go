// Package conf reads httpd.hcl into a Config.
//
// Load and Parse have no side effects beyond reading files: they decode
// every block (module blocks by the module that owns them, see package
// registry), run every check that needs no running server, and return all
// problems at once as HCL diagnostics that name file:line:col. httpd -t is
// exactly a call to Load.
//
// A top-level include attribute reads more files (globs against
// server_root); their blocks join the config where the include stands,
// and their diagnostics name them. A module may be configured by a vhost
// attribute of its name instead of a block (error_pages); conf hands the
// attribute to the module as a block holding just it.
package conf
