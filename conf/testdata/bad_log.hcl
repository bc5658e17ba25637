log {
  access = "stdout"
  error  = "off"
  format = "jsn"
}

vhost "example.com" {
  document_root = "htdocs"
}
