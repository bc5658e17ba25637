package wsgi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"httpd/internal/gateway"
	"httpd/internal/testutil"
	"httpd/registry"
)

// TestRemoteUser: a request an access stage authenticated gives the
// application REMOTE_USER and AUTH_TYPE in its environ; the
// Authorization header stays out, and an unauthenticated request gets
// neither.
func TestRemoteUser(t *testing.T) {
	a := newApp(t, copyScript(t, "app.py"), appOptions{})
	next := registry.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return registry.Error(http.StatusNotFound, nil)
	})
	h := testutil.Mounted(a.m.Prefix, a.m.Wrap(next), next)
	tests := []struct {
		name               string
		user               string // WithUser's, or "" for none
		wantUser, wantType any
		forbidden          []string
	}{
		// environ holds native strings (PEP 3333): the UTF-8 bytes of
		// the name, each as one latin-1 character.
		{name: "authenticated", user: "zoë", wantUser: "zo\u00c3\u00ab", wantType: "Basic", forbidden: []string{"HTTP_AUTHORIZATION"}},
		{name: "anonymous", forbidden: []string{"HTTP_AUTHORIZATION", "REMOTE_USER", "AUTH_TYPE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/app/environ", nil)
			r.SetBasicAuth("zoë", "wonderland")
			if tt.user != "" {
				r = gateway.WithUser(r, tt.user, "Basic")
			}
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, r); err != nil {
				t.Fatal(err)
			}
			var env map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
				t.Fatalf("%v: %s", err, w.Body)
			}
			if env["REMOTE_USER"] != tt.wantUser || env["AUTH_TYPE"] != tt.wantType {
				t.Errorf("REMOTE_USER %#v AUTH_TYPE %#v, want %#v %#v", env["REMOTE_USER"], env["AUTH_TYPE"], tt.wantUser, tt.wantType)
			}
			for _, k := range tt.forbidden {
				if v, ok := env[k]; ok {
					t.Errorf("%s = %v is set", k, v)
				}
			}
		})
	}
}
