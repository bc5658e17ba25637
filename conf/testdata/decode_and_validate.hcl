vhost "example.com" {
  document_root = "htdocs"
  alias "/icons/" {
    path   = "no-such-folder/"
    browse = "yes"
  }
  alias "/list/" {
    path = ["not", "a", "string"]
  }
}

vhost "other.test" {
  document_root = "no-such-folder"
  static {
    index = ["a/b"]
  }
}
