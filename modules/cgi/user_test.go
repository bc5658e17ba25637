package cgi

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"httpd/internal/gateway"
)

// TestRemoteUser: a request an access stage authenticated gives the
// script REMOTE_USER and AUTH_TYPE; the Authorization header stays out
// (RFC 3875 §4.1.18), and an unauthenticated request gets neither, what
// ever its headers say.
func TestRemoteUser(t *testing.T) {
	f := newFixture(t, "")
	f.child("env")
	tests := []struct {
		name      string
		user      string // WithUser's, or "" for none
		wantUser  string
		wantType  string
		forbidden []string
	}{
		{name: "authenticated", user: "alice", wantUser: "alice", wantType: "Basic", forbidden: []string{"HTTP_AUTHORIZATION"}},
		{name: "anonymous", forbidden: []string{"HTTP_AUTHORIZATION", "REMOTE_USER", "AUTH_TYPE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/cgi-bin/env", nil)
			r.SetBasicAuth("alice", "wonderland")
			r.Header.Set("Remote-User", "admin")
			if tt.user != "" {
				r = gateway.WithUser(r, tt.user, "Basic")
			}
			w := httptest.NewRecorder()
			if err := f.h.ServeHTTP(w, r); err != nil {
				t.Fatal(err)
			}
			var out struct{ Env map[string]string }
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatalf("%v: %s", err, w.Body)
			}
			if out.Env["REMOTE_USER"] != tt.wantUser || out.Env["AUTH_TYPE"] != tt.wantType {
				t.Errorf("REMOTE_USER %q AUTH_TYPE %q, want %q %q", out.Env["REMOTE_USER"], out.Env["AUTH_TYPE"], tt.wantUser, tt.wantType)
			}
			for _, k := range tt.forbidden {
				if v, ok := out.Env[k]; ok {
					t.Errorf("%s = %q is set", k, v)
				}
			}
			if out.Env["HTTP_REMOTE_USER"] != "admin" {
				t.Errorf("HTTP_REMOTE_USER = %q", out.Env["HTTP_REMOTE_USER"])
			}
		})
	}
}
