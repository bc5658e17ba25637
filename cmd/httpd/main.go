// Command httpd is a web server configured by one HCL file: virtual hosts,
// static files, CGI scripts and WSGI applications. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"

	"httpd/conf"
	"httpd/registry"
	"httpd/vhost"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  httpd [-f FILE]            run in the foreground (FILE defaults to conf/httpd.hcl)
  httpd -t [-f FILE]         check the config and exit
  httpd -S [-f FILE]         print the parsed virtual hosts
  httpd -l                   list the modules compiled in
  httpd -v                   print the version
  httpd serve [DIR] [-p PORT] [-b ADDR] [-cgi]
                             serve DIR (default .) with no config file
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "serve" {
		return runServe(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("httpd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	file := fs.String("f", "conf/httpd.hcl", "config file")
	check := fs.Bool("t", false, "check the config and exit")
	show := fs.Bool("S", false, "print the parsed virtual hosts and exit")
	list := fs.Bool("l", false, "list the modules compiled in")
	showVersion := fs.Bool("v", false, "print the version")
	if err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "httpd: unexpected argument %q\n%s", fs.Arg(0), usage)
		return 2
	}
	switch {
	case *showVersion:
		fmt.Fprintf(stdout, "httpd %s\n", version)
		return 0
	case *list:
		fmt.Fprintln(stdout, "Compiled in modules (vhost block types, in pipeline order):")
		for _, m := range registry.Modules() {
			fmt.Fprintf(stdout, "  %-20s %-9s %s\n", m.Name, m.Phase, m.Doc)
		}
		return 0
	}
	cfg, diags := conf.Load(*file)
	if diags.HasErrors() {
		printDiags(stderr, cfg, diags)
		return 1
	}
	printDiags(stderr, cfg, diags) // warnings, if any
	switch {
	case *check:
		fmt.Fprintln(stdout, "Syntax OK")
		return 0
	case *show:
		fmt.Fprint(stdout, vhost.Describe(cfg))
		fmt.Fprint(stdout, describeStorage(cfg))
		return 0
	}
	return serveConfig(cfg, func() (*conf.Config, hcl.Diagnostics) { return conf.Load(*file) }, stderr, nil)
}

// parseInterspersed parses flags that may come before or after
// positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

// printDiags prints each diagnostic as file:line:col: summary: detail,
// followed by the source line it points at.
func printDiags(w io.Writer, cfg *conf.Config, diags hcl.Diagnostics) {
	for _, d := range diags {
		fmt.Fprintln(w, diagLine(d))
		if d.Subject == nil || cfg == nil {
			continue
		}
		if f := cfg.Files[d.Subject.Filename]; f != nil {
			lines := strings.Split(string(f.Bytes), "\n")
			if n := d.Subject.Start.Line; n >= 1 && n <= len(lines) {
				fmt.Fprintf(w, "  %4d | %s\n", n, strings.TrimRight(lines[n-1], "\r"))
				if c := d.Subject.Start.Column; c >= 1 {
					fmt.Fprintf(w, "       | %s^\n", strings.Repeat(" ", c-1))
				}
			}
		}
	}
}

func diagLine(d *hcl.Diagnostic) string {
	sev := ""
	if d.Severity == hcl.DiagWarning {
		sev = "warning: "
	}
	msg := sev + d.Summary
	if d.Detail != "" {
		msg += ": " + d.Detail
	}
	if d.Subject == nil {
		return msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, msg)
}

// serveConfig runs the server until SIGTERM or SIGINT; SIGHUP reloads the
// config with load. started, when not nil, is called once the listeners
// are bound.
func serveConfig(cfg *conf.Config, load func() (*conf.Config, hcl.Diagnostics), stderr io.Writer, started func(*vhost.Server)) int {
	logs := newLogs(stderr)
	if err := logs.apply(cfg.Log); err != nil {
		fmt.Fprintf(stderr, "httpd: %v\n", err)
		return 1
	}
	log := logs.logger
	defer logs.close()

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)

	access, err := openAccess(cfg.Log)
	if err != nil {
		log.Error("cannot open the access log", "err", err)
		return 1
	}
	srv := vhost.New(log)
	srv.Software = "httpd/" + version // SERVER_SOFTWARE for the gateways
	closeStorage, err := useStorage(srv, cfg, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	defer closeStorage()
	if err := srv.Start(context.Background(), cfg, access); err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if err := dropPrivileges(cfg.Server.User, cfg.Server.Group, cfg.Server.DataDir); err != nil {
		log.Error("cannot drop privileges", "user", cfg.Server.User, "err", err)
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(ctx)
		return 1
	}
	if started != nil {
		started(srv)
	}
	log.Info("httpd started", "version", version, "config", cfg.File, "pid", os.Getpid())

	for sig := range sigs {
		if sig == syscall.SIGHUP {
			reload(srv, cfg, load, logs)
			continue
		}
		log.Info("shutting down", "signal", sig.String(), "timeout", cfg.Server.ShutdownTimeout.String())
		signal.Stop(sigs)
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
		err := srv.Shutdown(ctx)
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			log.Error("shutdown", "err", err)
		}
		log.Info("stopped")
		return 0
	}
	return 0
}

// reload applies a new config; a bad one is reported and the old one keeps
// serving.
func reload(srv *vhost.Server, cur *conf.Config, load func() (*conf.Config, hcl.Diagnostics), logs *logs) {
	log := logs.logger
	log.Info("reloading config", "file", cur.File)
	cfg, diags := load()
	if diags.HasErrors() {
		for _, d := range diags {
			log.Error("config not reloaded: " + diagLine(d))
		}
		log.Error("config not reloaded: the running config keeps serving", "errors", len(diags.Errs()))
		return
	}
	if err := logs.apply(cfg.Log); err != nil {
		log.Error("config not reloaded: the running config keeps serving", "err", err)
		return
	}
	access, err := openAccess(cfg.Log)
	if err != nil {
		log.Error("config not reloaded: the running config keeps serving", "err", err)
		return
	}
	storageChanged(cur, cfg, log)
	start := time.Now()
	if err := srv.Reload(context.Background(), cfg, access); err != nil {
		log.Error("config not reloaded: the running config keeps serving", "err", err)
		return
	}
	*cur = *cfg
	log.Debug("reload done", "took", time.Since(start).String())
}
