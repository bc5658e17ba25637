vhost "example.com" {
  document_root = "htdocs"

  statc {
    browse = true
  }
}
