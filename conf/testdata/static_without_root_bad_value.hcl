vhost "example.com" {
  static {
    browse = "yes"
  }
}
