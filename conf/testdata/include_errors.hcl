# Diagnostics of included files name the included file, line and column.
include = ["include/*.hcl", "include/missing.hcl"]

vhost "example.com" {
  document_root = "htdocs"
}
