storage "rediss" {
  address = "127.0.0.1:6379"
}

vhost "example.com" {
  document_root = "htdocs"
}
