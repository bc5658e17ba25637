package gateway

import (
	"context"
	"net/http/httptest"
	"testing"
)

func TestUser(t *testing.T) {
	tests := []struct {
		name           string
		user, authType string
	}{
		{"basic", "alice", "Basic"},
		{"no scheme", "bob", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r2 := WithUser(r, tt.user, tt.authType)
			if u, a := User(r2); u != tt.user || a != tt.authType {
				t.Errorf("User = %q, %q; want %q, %q", u, a, tt.user, tt.authType)
			}
			// r itself is left as it was.
			if u, a := User(r); u != "" || a != "" {
				t.Errorf("the original request has user %q, %q", u, a)
			}
		})
	}
	// A context value of another package's type is no user.
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(context.WithValue(r.Context(), struct{}{}, "alice"))
	if u, _ := User(r); u != "" {
		t.Errorf("User = %q", u)
	}
	// A second WithUser replaces the first.
	r = WithUser(WithUser(r, "alice", "Basic"), "bob", "Basic")
	if u, _ := User(r); u != "bob" {
		t.Errorf("User = %q, want bob", u)
	}
}
