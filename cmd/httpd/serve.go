package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"httpd/certs"
	"httpd/certs/redisstore"
	"httpd/conf"
	"httpd/vhost"
)

// runServe is the zero-config mode: serve a folder like
// `python -m http.server`, with -cgi adding /cgi-bin/ and /htbin/ the way
// CGIHTTPServer does. It writes an equivalent config and runs it, so it
// behaves exactly like a server configured by hand.
func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("httpd serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	port := fs.Int("p", 8000, "port to listen on")
	bind := fs.String("b", "", "address to bind (default: all interfaces)")
	cgi := fs.Bool("cgi", false, "run scripts under /cgi-bin/ and /htbin/ as CGI")
	if err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "httpd serve: one folder at most, got %q\n", fs.Args())
		return 2
	}
	dir := "."
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	src, err := serveConfigText(dir, *bind, *port, *cgi)
	if err != nil {
		fmt.Fprintf(stderr, "httpd serve: %v\n", err)
		return 1
	}
	load := func() (*conf.Config, hcl.Diagnostics) { return conf.Parse([]byte(src), "<serve>", ".") }
	cfg, diags := load()
	if diags.HasErrors() {
		printDiags(stderr, cfg, diags)
		return 1
	}
	return serveConfig(cfg, load, stderr, func(srv *vhost.Server) {
		for _, addr := range srv.Addrs() {
			fmt.Fprintln(stdout, servingLine(addr))
		}
	})
}

// servingLine is what serve mode prints once it listens on addr, the
// bound address, as python -m http.server does: "Serving HTTP on ::
// port 8000 (http://[::]:8000/) ...". A port of 0 has become the one the
// system chose; no -b gives "::" (or "0.0.0.0" without IPv6).
func servingLine(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "Serving HTTP on " + addr + " ..."
	}
	return fmt.Sprintf("Serving HTTP on %s port %s (http://%s/) ...", host, port, addr)
}

// serveConfigText writes the config that serve mode runs.
func serveConfigText(dir, bind string, port int, cgi bool) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return "", fmt.Errorf("%s is not a folder", dir)
	}
	if port < 0 || port > 65535 {
		return "", fmt.Errorf("port %d is out of range", port)
	}
	if bind != "" && net.ParseIP(bind) == nil && bind != "localhost" {
		return "", fmt.Errorf("-b %q is not an IP address", bind)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "server_root = %s\n", hclQuote(abs))
	fmt.Fprintf(&b, "server {\n  listen = [%s]\n  data_dir = %s\n}\n",
		hclQuote(net.JoinHostPort(bind, strconv.Itoa(port))),
		hclQuote(filepath.Join(os.TempDir(), fmt.Sprintf("httpd-serve-%d", os.Getuid()))))
	b.WriteString("log {\n  access = \"stdout\"\n  format = \"common\"\n  error = \"stderr\"\n}\n")
	b.WriteString("vhost \"localhost\" {\n  default = true\n  document_root = \".\"\n")
	b.WriteString("  static {\n    index = [\"index.html\", \"index.htm\"]\n    browse = true\n  }\n")
	if cgi {
		for _, p := range []string{"cgi-bin", "htbin"} {
			if st, err := os.Stat(filepath.Join(abs, p)); err == nil && st.IsDir() {
				fmt.Fprintf(&b, "  script_alias \"/%s/\" {\n    path = %s\n  }\n", p, hclQuote(p+"/"))
			}
		}
	}
	b.WriteString("}\n")
	return b.String(), nil
}

// hclQuote quotes s as an HCL string literal, escaping template sequences.
func hclQuote(s string) string {
	q := strconv.Quote(s)
	q = strings.ReplaceAll(q, "${", "$${")
	return strings.ReplaceAll(q, "%{", "%%{")
}

// useStorage connects srv to the storage block of cfg, if any: ACME state,
// the local CA's root and session-ticket keys then live in Redis, shared
// by every server of the fleet. Redis refusing the credentials is an
// error, so the server does not start; Redis not answering is logged and
// the server starts with what it has (see README, "### storage"). The
// returned func closes the connection; call it after the server stopped.
//
// It also publishes the storage and the session-ticket key source for
// the status page (certs.PublishStatus): without a storage block, the
// files in data_dir and keys held in memory.
func useStorage(srv *vhost.Server, cfg *conf.Config, log *slog.Logger) (func(), error) {
	sc := cfg.Storage
	if sc == nil {
		local := new(certs.LocalTicketKeys)
		srv.TicketKeys = local
		certs.PublishStatus(certs.FileStorage(cfg.Server.DataDir), local)
		return func() { certs.PublishStatus(nil, nil) }, nil
	}
	st, err := redisstore.New(redisstore.Options{
		Address: sc.Address, Username: sc.Username, Password: sc.Password,
		DB: sc.DB, Prefix: sc.Prefix, TLS: sc.TLS,
	}, log.With("module", "storage"))
	if err != nil {
		return nil, fmt.Errorf("storage %q at %s: %w", sc.Kind, at(sc.DefRange), err)
	}
	// A server that lost Redis (or started without it) takes the
	// fleet's ticket keys again as soon as Redis answers.
	st.OnReachable(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.RefreshTicketKeys(ctx); err != nil {
			log.Warn("session tickets: Redis answers again but its keys could not be read; retrying", "err", err)
		}
	})
	if err := st.Ping(context.Background()); err != nil {
		if redisstore.IsAuthError(err) {
			st.Close()
			return nil, fmt.Errorf("storage %q at %s: %w", sc.Kind, at(sc.DefRange), err)
		}
		log.Error("storage: Redis does not answer: starting with the certificates in memory and in data_dir; certificate work retries with backoff",
			"storage", st.String(), "err", err)
	} else {
		log.Info("storage: certificates, locks and session-ticket keys are shared through Redis", "storage", st.String())
	}
	tickets := &redisstore.TicketKeys{S: st}
	srv.CertStorage = st
	srv.TicketKeys = tickets
	certs.PublishStatus(st, tickets)
	return func() {
		certs.PublishStatus(nil, nil)
		st.Close()
	}, nil
}

// storageChanged warns when a reload changes the storage block, which
// takes effect at the next start only, and puts the running block back
// in cfg: cfg then says what the server uses, so a later reload compares
// with that. A running server never switches storage: the new one would
// hold none of the fleet's certificates, locks or ticket keys, so the
// server would order every name again and stop resuming the others'
// sessions, while the rest of the fleet stayed on the old one (see
// README, "### storage").
func storageChanged(old, cfg *conf.Config, log *slog.Logger) {
	changed := old.Storage.Changes(cfg.Storage)
	if len(changed) == 0 {
		return
	}
	running := "files in data_dir " + old.Server.DataDir
	if sc := old.Storage; sc != nil {
		running = fmt.Sprintf("%s %s prefix %s", sc.Kind, sc.Address, sc.Prefix)
	}
	log.Warn("the storage block changed: it is not applied until a restart; certificates, locks and session-ticket keys stay in the running storage",
		"changed", strings.Join(changed, ", "), "running", running,
		"hint", "restart every server of the fleet with the new block, after copying what the old storage holds if it must be kept")
	cfg.Storage = old.Storage
}

// at renders where a block starts as file:line:col.
func at(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// describeStorage is what httpd -S prints about the storage block: what
// it is and whether Redis answers now; "" without one.
func describeStorage(cfg *conf.Config) string {
	sc := cfg.Storage
	if sc == nil {
		return ""
	}
	st, err := redisstore.New(redisstore.Options{
		Address: sc.Address, Username: sc.Username, Password: sc.Password,
		DB: sc.DB, Prefix: sc.Prefix, TLS: sc.TLS,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		return fmt.Sprintf("Storage: %s %s: %v\n", sc.Kind, sc.Address, err)
	}
	defer st.Close()
	health := "answers"
	if err := st.Ping(context.Background()); err != nil {
		health = "DOES NOT ANSWER: " + err.Error()
	}
	return fmt.Sprintf("Storage: %s (certificates, ACME accounts, locks, local CA root, session-ticket keys)\nStorage health: %s\n", st, health)
}
