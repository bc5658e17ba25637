server_root = "no/such/root"

vhost "example.com" {
  document_root = "/"
}
