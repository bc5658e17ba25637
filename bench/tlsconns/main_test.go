package main

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOneCountsResumption: with a session cache the second connection
// resumes and is counted as resumed; without one no connection is; a
// version the server refuses is an error, not a count.
func TestOneCountsResumption(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello"))
	}))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "https://")
	req := []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")

	for _, tc := range []struct {
		name    string
		version uint16
		resume  bool
		want    int64 // resumed of 3
	}{
		{"1.3 new", tls.VersionTLS13, false, 0},
		{"1.3 resume", tls.VersionTLS13, true, 2},
		{"1.2 new", tls.VersionTLS12, false, 0},
		{"1.2 resume", tls.VersionTLS12, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &tls.Config{
				InsecureSkipVerify: true, MinVersion: tc.version, MaxVersion: tc.version,
				CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
			}
			if tc.resume {
				cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
			}
			var c counts
			buf := make([]byte, 4096)
			for range 3 {
				if err := one(addr, cfg, req, buf, &c); err != nil {
					t.Fatal(err)
				}
			}
			if got := c.conns.Load(); got != 3 {
				t.Errorf("conns = %d, want 3", got)
			}
			if got := c.resumed.Load(); got != tc.want {
				t.Errorf("resumed = %d, want %d", got, tc.want)
			}
		})
	}

	t.Run("refused version", func(t *testing.T) {
		old := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
		var c counts
		if err := one(addr, old, req, nil, &c); err == nil || c.conns.Load() != 0 {
			t.Errorf("err = %v, conns = %d; want an error and no count", err, c.conns.Load())
		}
	})
}
