server_root = "/srv"
include = ["include/a_site.hcl"]
vhost "example.com" {
  document_root = "htdocs"
}
