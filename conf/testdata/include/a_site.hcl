vhost "a.example.com" {
  document_root = "htdocs"
  statc {}
  error_pages = { "600" = "/e.html" }
}
