vhost "secure.test" {
  document_root = "htdocs"
  listen        = ["127.0.0.1:8443"]
  tls           = "internal"
}

vhost "plain.test" {
  document_root = "htdocs"
  listen        = ["127.0.0.1:8443"]
}
