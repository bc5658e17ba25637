vhost "example.com" {
  document_root = "htdocs"
  tls           = "internal"
  tls {
    cert = "site.crt"
    key  = "site.key"
  }
}

vhost "files.test" {
  document_root = "htdocs"
  tls {
    cert = "missing.crt"
    key  = "missing.key"
  }
}

vhost "mode.test" {
  document_root = "htdocs"
  tls           = "on"
}
