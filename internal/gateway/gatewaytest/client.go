package gatewaytest

import (
	"io"
	"net/http"
	"testing"
)

// Do sends req with client (a client that does not follow redirects
// when nil) and returns the response with its body read. Any error fails
// the test.
func Do(t testing.TB, client *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// NewRequest is http.NewRequest failing the test on an error.
func NewRequest(t testing.TB, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
