server {
  listen = [":8080"]
}

server {
  listen = [":9090"]
}

vhost "example.com" {
  document_root = "htdocs"
}
