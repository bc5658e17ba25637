# Every kind of bad error_pages entry, each reported where it is written.
vhost "example.com" {
  document_root = "htdocs"
  error_pages = {
    "404" = "/errors/404.html"
    "302" = "/errors/302.html"
    "5xx" = "errors/5xx.html"
    "5XX" = "/errors/again.html"
    "abc" = "https://example.com/oops"
    "410" = ["/gone.html"]
  }
}

vhost "other.test" {
  document_root = "htdocs"
  error_pages = ["/errors/404.html"]
}
