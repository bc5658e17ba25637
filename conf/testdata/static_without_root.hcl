vhost "example.com" {
  static {
    browse = true
  }
}
