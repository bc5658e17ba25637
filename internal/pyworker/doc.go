// Package pyworker holds what the Python gateways (asgi_app, and in time
// wsgi_script_alias) need to run and supervise worker processes: finding
// the interpreter, their environment and ps title, the socket pairs they
// inherit, and a logger for what they write to stdout and stderr.
package pyworker
