vhost "example.com" {
  document_root = "htdocs"
  alias "icons/" {
    path   = "icons/"
    browse = "yes"
  }
  alias "/icons/" { path = "icons/" }
  alias "/icons/" {
    path  = "no-such-folder/"
    index = ["a/b"]
  }
  static {}
  static {
    dotfiles = "no"
  }
}
