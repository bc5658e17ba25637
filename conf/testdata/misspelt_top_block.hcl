sever {
  listen = [":8080"]
}

vhost "example.com" {
  document_root = "htdocs"
}
