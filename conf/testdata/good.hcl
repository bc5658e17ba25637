# A config with no problems: the golden file is empty.
server {
  listen           = ["127.0.0.1:8080"]
  shutdown_timeout = "5s"

  limits {
    read_header_timeout = "5s"
    max_header_bytes    = "32KiB"
    max_body_bytes      = 1048576
  }
}

log {
  access = "off"
  format = "json"
  level  = "debug"
}

vhost "example.com" {
  aliases       = ["www.example.com", "*.example.org"]
  document_root = "htdocs"
  default       = true

  static {
    index  = ["index.html"]
    browse = true
  }

  alias "/icons/" { path = "icons/" }
}

vhost "other.test" {
  document_root = "htdocs"
}
