package fastcgi

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"

	"httpd/internal/gateway"
)

// TestFastCGIRemoteUser: a request an access stage authenticated gives
// the responder REMOTE_USER and AUTH_TYPE; the Authorization header
// stays out, and an unauthenticated request gets neither.
func TestFastCGIRemoteUser(t *testing.T) {
	p := newRawPeer(t, echoParams)
	f := newFixture(t, phpSite(t), fmt.Sprintf("to = %q", p.to))
	tests := []struct {
		name               string
		user               string // WithUser's, or "" for none
		wantUser, wantType string
		forbidden          []string
	}{
		{name: "authenticated", user: "alice", wantUser: "alice", wantType: "Basic", forbidden: []string{"HTTP_AUTHORIZATION"}},
		{name: "anonymous", forbidden: []string{"HTTP_AUTHORIZATION", "REMOTE_USER", "AUTH_TYPE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/info.php", nil)
			r.SetBasicAuth("alice", "wonderland")
			if tt.user != "" {
				r = gateway.WithUser(r, tt.user, "Basic")
			}
			w := httptest.NewRecorder()
			if err := f.h.ServeHTTP(w, r); err != nil {
				t.Fatal(err)
			}
			var got map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("%v: %s", err, w.Body)
			}
			if got["REMOTE_USER"] != tt.wantUser || got["AUTH_TYPE"] != tt.wantType {
				t.Errorf("REMOTE_USER %q AUTH_TYPE %q, want %q %q", got["REMOTE_USER"], got["AUTH_TYPE"], tt.wantUser, tt.wantType)
			}
			for _, k := range tt.forbidden {
				if v, ok := got[k]; ok {
					t.Errorf("%s = %q is set", k, v)
				}
			}
		})
	}
}
