vhost "example.com" {
  documnet_root = "htdocs"
}

vhost "other.test" {
  document_root = "htdocs"

  static {
    brwose = true
  }

  alias {
    path = "icons/"
  }
}
