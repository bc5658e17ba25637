server {
  tls {
    ticket_rotation = "30s"
  }
}

vhost "example.com" {
  document_root = "htdocs"
}
