vhost "example.com" {
  document_root = "htdocs"

  alias "icons/" { path = "icons/" }
  alias "/a/../b/" { path = "icons/" }
}
