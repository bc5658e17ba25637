server {
  listen = [":8080"]
}
