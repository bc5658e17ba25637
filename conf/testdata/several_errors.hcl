server {
  shutdown_timeout = "soon"
}

log {
  format = "combind"
  level  = "verbose"
}

vhost "Bad Name" {
  document_root = "htdocs"
}

vhost "example.com" {
  documnet_root = "htdocs"
  statc {}
  listen = ["nowhere"]
}
