vhost "a.test" {
  document_root = "htdocs"
  aliases       = ["www.a.test"]
}

vhost "b.test" {
  document_root = "htdocs"
  aliases       = ["WWW.A.TEST."]
}

# The same name on another listener is fine.
vhost "a.test" {
  document_root = "htdocs"
  listen        = ["127.0.0.1:9090"]
}
