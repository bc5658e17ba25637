server {
  limits {
    max_header_bytes = "64 KB?"
    max_body_bytes   = "lots"
  }
}

vhost "example.com" {
  document_root = "htdocs"
}
