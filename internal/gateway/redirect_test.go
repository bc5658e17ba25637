package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"httpd/registry"
)

func TestInternalRedirect(t *testing.T) {
	var got *http.Request
	dispatch := func(w http.ResponseWriter, r *http.Request) { got = r }
	r := httptest.NewRequest("POST", "/cgi-bin/form?a=1", strings.NewReader("x=1"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Expect", "100-continue")
	r.Header.Set("X-Keep", "yes")
	if RedirectOf(r) != nil {
		t.Fatal("a client's request has a Redirect")
	}
	if err := InternalRedirect(httptest.NewRecorder(), r, "/done?b=2", 10, dispatch); err != nil {
		t.Fatal(err)
	}
	if got.Method != "GET" || got.URL.Path != "/done" || got.URL.RawQuery != "b=2" || got.RequestURI != "/done?b=2" ||
		got.Body != http.NoBody || got.ContentLength != 0 {
		t.Errorf("redirected request: %s %s %q body %v length %d", got.Method, got.URL, got.RequestURI, got.Body, got.ContentLength)
	}
	for _, k := range []string{"Content-Type", "Expect"} {
		if v := got.Header.Get(k); v != "" {
			t.Errorf("%s survives: %q", k, v)
		}
	}
	if got.Header.Get("X-Keep") != "yes" {
		t.Error("X-Keep was dropped")
	}
	if rd := RedirectOf(got); rd == nil || *rd != (Redirect{Depth: 1, URL: "/cgi-bin/form", Query: "a=1", HadQuery: true}) {
		t.Errorf("Redirect = %+v", rd)
	}

	// A second hop counts on from the first, and stops past max.
	first := got
	if err := InternalRedirect(httptest.NewRecorder(), first, "/again", 2, dispatch); err != nil {
		t.Fatal(err)
	}
	if rd := RedirectOf(got); rd.Depth != 2 || rd.URL != "/done" || rd.Query != "b=2" {
		t.Errorf("second Redirect = %+v", rd)
	}
	err := InternalRedirect(httptest.NewRecorder(), got, "/more", 2, dispatch)
	if registry.StatusOf(err) != 500 || !strings.Contains(err.Error(), "more than 2 internal redirects") {
		t.Errorf("past max: %v", err)
	}
}

func TestInternalRedirectErrors(t *testing.T) {
	r := httptest.NewRequest("GET", "/x", nil)
	dispatch := func(http.ResponseWriter, *http.Request) { t.Error("dispatched") }
	for _, tt := range []struct {
		name     string
		loc      string
		dispatch func(http.ResponseWriter, *http.Request)
		status   int
		err      string
	}{
		{"no dispatcher", "/y", nil, 500, "no dispatcher"},
		{"bad location", "/%zz", dispatch, 502, "bad Location"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := InternalRedirect(httptest.NewRecorder(), r, tt.loc, 10, tt.dispatch)
			if registry.StatusOf(err) != tt.status || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err = %v (status %d), want %d %q", err, registry.StatusOf(err), tt.status, tt.err)
			}
		})
	}
}
