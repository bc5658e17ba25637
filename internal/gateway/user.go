package gateway

import (
	"context"
	"net/http"
)

type userKey struct{}

type userInfo struct{ user, authType string }

// WithUser returns r carrying an authenticated user and the scheme that
// authenticated it ("Basic"); RequestVars passes them as REMOTE_USER and
// AUTH_TYPE to every gateway (CGI, FastCGI, WSGI). Only a stage that
// verified the user may call it: nothing a client sends sets them. An
// empty user sets nothing.
func WithUser(r *http.Request, user, authType string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), userKey{}, userInfo{user, authType}))
}

// User returns the user and scheme set by WithUser, or "" and "".
func User(r *http.Request) (user, authType string) {
	u, _ := r.Context().Value(userKey{}).(userInfo)
	return u.user, u.authType
}
