package main

// The modules compiled in. Each registers its vhost block type from init;
// `httpd -l` lists them.
import (
	_ "httpd/modules/alias"
	"httpd/modules/cgi"
	"httpd/modules/fastcgi"
	_ "httpd/modules/redirect"
	_ "httpd/modules/static"
	"httpd/modules/wsgi"
)

func init() {
	// The gateways name the server to scripts and applications.
	cgi.ServerSoftware = "httpd/" + version
	fastcgi.ServerSoftware = "httpd/" + version
	wsgi.ServerSoftware = "httpd/" + version
}
