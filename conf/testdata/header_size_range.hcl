server {
  limits {
    max_header_bytes = 100
  }
}

vhost "example.com" {
  document_root = "htdocs"
}
