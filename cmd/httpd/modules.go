package main

// The modules compiled in. Each registers its vhost block type from init;
// `httpd -l` lists them.
import (
	_ "httpd/modules/access"
	_ "httpd/modules/alias"
	_ "httpd/modules/asgi"
	_ "httpd/modules/basicauth"
	_ "httpd/modules/cgi"
	_ "httpd/modules/compress"
	_ "httpd/modules/errorpages"
	_ "httpd/modules/fastcgi"
	_ "httpd/modules/header"
	_ "httpd/modules/metrics"
	_ "httpd/modules/redirect"
	_ "httpd/modules/reverseproxy"
	_ "httpd/modules/rewrite"
	_ "httpd/modules/static"
	_ "httpd/modules/status"
	_ "httpd/modules/wsgi"
)
