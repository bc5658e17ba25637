package vhost

// errSlowHeader is what the error log says of a 408.
const errSlowHeader = "request header not complete within server.limits.read_header_timeout"
