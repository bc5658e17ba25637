vhost "*.example.com" {
  document_root = "htdocs"
  aliases       = ["ok.example.com", "bad name", "a..b", "host:80"]
}
