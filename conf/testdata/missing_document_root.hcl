vhost "example.com" {
  document_root = "no-such-folder"
}

vhost "file.test" {
  document_root = "htdocs/index.html"
}
