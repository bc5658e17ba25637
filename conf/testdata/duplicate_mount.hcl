vhost "example.com" {
  document_root = "htdocs"

  alias "/icons/" { path = "icons/" }
  alias "/other/" { path = "icons/" }
  alias "/icons/" { path = "htdocs/" }
}
