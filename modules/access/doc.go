// Package access is the access module, after Apache's mod_authz_host
// (Require ip) and nginx's allow and deny: requests under a URL prefix
// are answered 403 Forbidden unless the client's address passes the
// block's networks.
//
//	access "/private/" {
//	  allow = ["10.0.0.0/8", "127.0.0.1/32"]   # anyone else: 403
//	  deny  = []
//	}
//
// The client is r.RemoteAddr, which the listener has already replaced
// with the client a trusted proxy names (server.trusted_proxies). A deny
// entry wins over an allow entry; a non-empty allow list refuses everyone
// it does not hold. Of several access blocks of a vhost the one with the
// longest prefix matching the path decides alone. Access stages run
// before rewrites, redirects, mounts and content.
package access
