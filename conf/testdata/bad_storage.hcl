storage "redis" {
  address  = "redis://10.0.0.5:6379"
  password = ""
  prefix   = "prod:web"
  db       = -1
  tls      = "yes"
}

vhost "example.com" {
  document_root = "htdocs"
}
