server {
  trusted_proxies = [
    "10.0.0.0/8",
    "10.0.0.0/33",
    "proxy.example.com",
    "::1",
  ]
}

vhost "a.test" {
  document_root = "htdocs"
}
