server {
  tls {
    session_tickets = "maybe"
    ticket_rotaton  = "12h"
  }
  tls {
    session_tickets = false
  }
}

vhost "example.com" {
  document_root = "htdocs"
}
