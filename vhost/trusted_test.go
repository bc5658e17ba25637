package vhost_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"httpd/internal/forwarded"
	"httpd/internal/gateway"
	"httpd/registry"
)

func init() {
	registry.Register(registry.Info{
		Name:   "whoami",
		Labels: []string{"url_prefix"},
		Phase:  registry.PhaseMount,
		Doc:    "answer with the client's address as the pipeline sees it",
		New:    func() registry.Module { return new(whoami) },
	})
}

// whoami answers "REMOTE_ADDR peer trusted" for the request it gets.
type whoami struct{}

func (*whoami) Decode(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics {
	_, diags := b.Body.Content(&hcl.BodySchema{})
	return diags
}

func (*whoami) Provision(ctx context.Context, env *registry.Env) error { return nil }

func (*whoami) Wrap(next registry.Handler) registry.Handler {
	return registry.MountFunc(func(w http.ResponseWriter, r *http.Request, m registry.Mount) error {
		addr, _ := gateway.RemoteAddrPort(r)
		peer, trusted := forwarded.Peer(r)
		peerIP, _, _ := strings.Cut(peer, ":")
		_, err := fmt.Fprintf(w, "%s %s %v", addr, peerIP, trusted)
		return err
	})
}

// TestVHostTrustedProxies checks that a request from a trusted proxy
// reaches the pipeline and the access log with the client the proxy
// names, on both engines, and that one from anyone else does not.
func TestVHostTrustedProxies(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		tests := []struct {
			name    string
			trusted string // server.trusted_proxies
			xff     string
			want    string
		}{
			{"no trusted proxies", ``, "198.51.100.7", "127.0.0.1 127.0.0.1 false"},
			{"peer not trusted", `"10.0.0.0/8"`, "198.51.100.7", "127.0.0.1 127.0.0.1 false"},
			{"peer trusted", `"10.0.0.0/8", "127.0.0.1"`, "203.0.113.1, 198.51.100.7", "198.51.100.7 127.0.0.1 true"},
			{"peer trusted, no header", `"127.0.0.0/8"`, "", "127.0.0.1 127.0.0.1 true"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ts := startServer(t, withEngine(engine, fmt.Sprintf(`server {
  listen = ["127.0.0.1:0"]
  trusted_proxies = [%s]
}
log { format = "common" }
vhost "a" {
  whoami "/" {}
}`, tt.trusted)))
				req, _ := http.NewRequest("GET", "http://"+ts.addr+"/", nil)
				if tt.xff != "" {
					req.Header.Set("X-Forwarded-For", tt.xff)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != tt.want {
					t.Errorf("pipeline saw %q, want %q", b, tt.want)
				}
				client, _, _ := strings.Cut(tt.want, " ")
				waitFor(t, "an access-log line", func() bool { return strings.Contains(ts.access.String(), "\n") })
				if line := ts.access.String(); !strings.HasPrefix(line, client+" - ") {
					t.Errorf("access log %q, want it to start with %s", line, client)
				}
			})
		}
	})
}
