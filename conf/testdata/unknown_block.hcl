vhost "example.com" {
  document_root = "htdocs"

  frobnicate "/x" {
  }
}
