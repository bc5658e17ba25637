package vhost_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"httpd/conf"
	"httpd/internal/stats"
	"httpd/registry"
)

func init() {
	registry.Register(registry.Info{
		Name:   "bodylen",
		Labels: []string{"url_prefix"},
		Phase:  registry.PhaseMount,
		Doc:    "read the body, answer its length",
		New:    func() registry.Module { return new(bodyLen) },
	})
}

// bodyLen reads the request body and answers with its length.
type bodyLen struct{}

func (*bodyLen) Decode(b *hcl.Block, dc *registry.DecodeContext) hcl.Diagnostics { return nil }
func (*bodyLen) Provision(context.Context, *registry.Env) error                  { return nil }
func (*bodyLen) Wrap(registry.Handler) registry.Handler {
	return registry.MountFunc(func(w http.ResponseWriter, r *http.Request, _ registry.Mount) error {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, strconv.FormatInt(n, 10))
		return err
	})
}

// waitCount polls c until its total reaches n: a request is counted
// once its answer is out.
func waitCount(t *testing.T, c *stats.Counters, n uint64) stats.Snapshot {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		sn := c.Snapshot()
		if sn.Total() >= n {
			return sn
		}
		if time.Now().After(deadline) {
			t.Fatalf("counted %d requests within 5s, want %d", sn.Total(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStatsCounting(t *testing.T) {
	for _, engine := range []string{conf.EngineNative, conf.EngineNetHTTP} {
		t.Run(engine, func(t *testing.T) {
			cfg := withEngine(engine, `
server {
  listen = ["127.0.0.1:0"]
}
vhost "a.test" {
  default = true
  hello "/hi" {}
  bodylen "/len" {}
}`)
			ts := startServer(t, cfg)
			s := ts.srv.Stats()
			g := s.Generation()
			if g == nil || g.Number != 1 || len(g.VHosts) != 1 || g.VHosts[0].Name != "a.test" || len(g.VHosts[0].Mounts) != 2 {
				t.Fatalf("generation %+v", g)
			}
			if l := g.VHosts[0].Listeners; len(l) != 1 || l[0].Addr != ts.addr || l[0].TLS {
				t.Errorf("listeners %+v, want the bound %s", l, ts.addr)
			}

			client := &http.Client{}
			requests := []struct {
				method, path, body string
				status             int
			}{
				{"GET", "/hi/there", "", 200},
				{"HEAD", "/hi", "", 200},
				{"POST", "/len", strings.Repeat("b", 700), 200},
				{"PROPFIND", "/len", "", 200},
				{"GET", "/nothing", "", 404},
			}
			for _, rq := range requests {
				req, _ := http.NewRequest(rq.method, "http://"+ts.addr+rq.path, strings.NewReader(rq.body))
				if rq.body == "" {
					req.Body = nil
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != rq.status {
					t.Fatalf("%s %s = %d, want %d", rq.method, rq.path, resp.StatusCode, rq.status)
				}
			}
			hi := waitCount(t, s.Counters(stats.Key{VHost: "a.test", Mount: "/hi"}), 2)
			ln := waitCount(t, s.Counters(stats.Key{VHost: "a.test", Mount: "/len"}), 2)
			none := waitCount(t, s.Counters(stats.Key{VHost: "a.test"}), 1)
			get, head, post, other := stats.MethodIndex("GET"), stats.MethodIndex("HEAD"), stats.MethodIndex("POST"), stats.MethodIndex("OTHER")
			checks := []struct {
				name      string
				got, want uint64
			}{
				{"/hi GET 2xx", hi.Requests[get][1], 1},
				{"/hi HEAD 2xx", hi.Requests[head][1], 1},
				{"/hi bytes out", hi.BytesOut, uint64(len("Hello, /hi/there\n") + len("Hello, /hi\n"))}, // as the access log counts: HEAD too
				{"/len POST 2xx", ln.Requests[post][1], 1},
				{"/len OTHER 2xx", ln.Requests[other][1], 1},
				{"/len bytes in", ln.BytesIn, 700},
				{"/len bytes out", ln.BytesOut, 4},
				{"no mount GET 4xx", none.Requests[get][3], 1},
				{"no mount total", none.Total(), 1},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
				}
			}
			if hi.Sum <= 0 {
				t.Errorf("/hi took %v in all", hi.Sum)
			}

			// A kept-alive connection shows as idle once answered.
			c, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, "GET /hi HTTP/1.1\r\nHost: a.test\r\n\r\n")
			buf := make([]byte, 4096)
			if _, err := c.Read(buf); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for s.Conns().Idle < 1 {
				if time.Now().After(deadline) {
					t.Fatalf("connections %+v, want one idle", s.Conns())
				}
				time.Sleep(5 * time.Millisecond)
			}

			if err := ts.reload(cfg); err != nil {
				t.Fatal(err)
			}
			if g := s.Generation(); g.Number != 2 {
				t.Errorf("generation %d after a reload, want 2", g.Number)
			}
			if sn := s.Counters(stats.Key{VHost: "a.test", Mount: "/hi"}).Snapshot(); sn.Total() < 2 {
				n := sn.Total()
				t.Errorf("/hi counts %d after a reload, want the 2 before", n)
			}
		})
	}
}
