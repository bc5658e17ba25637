server {
  listen = []
}

vhost "a.test" {
  document_root = "htdocs"
  listen        = ["localhost", "example.com:80", ":99999", "ftp://:21", "https://:8443"]
}

vhost "b.test" {
  document_root = "htdocs"
  listen        = ["127.0.0.1:8080", "127.0.0.1:8080"]
}
