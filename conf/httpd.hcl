# httpd.hcl: the shipped configuration.
#
# Run it from the repository root with `go run ./cmd/httpd` and open
# http://localhost:8080/. Check an edited file with `httpd -t`, see what it
# sets up with `httpd -S`, and apply it to a running server with SIGHUP.
#
# Relative paths below are resolved against server_root, which is itself
# resolved against this file's folder: ".." is the repository root.

server_root = ".."

server {
  listen           = [":8080"]   # the default for every vhost
  data_dir         = "var"       # certificates, sockets, state
  shutdown_timeout = "10s"       # how long SIGTERM waits for requests in flight

  limits {
    read_header_timeout = "10s"
    idle_timeout        = "120s"
    max_header_bytes    = "64KiB"
    max_body_bytes      = "100MiB"
  }
}

log {
  access = "stdout"              # a path, "stdout", "stderr" or "off"
  format = "combined"            # common | combined | json
  error  = "stderr"
  level  = "info"                # debug | info | warn | error
}

# The default site: anything that reaches :8080 by a name no other vhost
# claims lands here.
vhost "localhost" {
  aliases       = ["127.0.0.1", "*.localhost"]
  default       = true
  document_root = "htdocs"

  static {
    index  = ["index.html"]
    browse = false
  }

  # Every executable under cgi-bin/ answers at /cgi-bin/NAME.
  script_alias "/cgi-bin/" {
    path    = "cgi-bin/"
    timeout = "60s"
  }

  # A WSGI application, run by a pool of Python workers.
  wsgi_script_alias "/app" {
    script    = "wsgi/hello.wsgi"
    processes = 1
    threads   = 4
  }

  redirect "/home" {
    to     = "/"
    status = 301
  }
}
