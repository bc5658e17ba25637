server {
  shutdown_timeout = "10 seconds"

  limits {
    read_header_timeout = 10
    idle_timeout        = "-5s"
  }
}

vhost "example.com" {
  document_root = "htdocs"
}
