// Package tests holds end-to-end tests: they build cmd/httpd, write a
// config and fixtures into a temporary folder, run the real binary on
// loopback ports and check what real clients see.
package tests
