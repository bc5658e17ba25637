server {
  listen = ["127.0.0.1:8080"]
}

vhost "a.test" {
  document_root = "htdocs"
  default       = true
}

vhost "b.test" {
  document_root = "htdocs"
  default       = true
}

# On another listener a second default is fine.
vhost "c.test" {
  document_root = "htdocs"
  listen        = ["127.0.0.1:9090"]
  default       = true
}
