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
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"

	"httpd/conf"
	"httpd/internal/heapfloor"
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
  httpd -t [-f FILE] [-no-import]
                             check the config and exit; WSGI and ASGI apps are imported
                             once unless -no-import
  httpd -S [-f FILE]         print the parsed virtual hosts
  httpd -l                   list the modules compiled in
  httpd -v                   print the version
  httpd serve [DIR] [-p PORT] [-b ADDR] [-cgi]
                             serve DIR (default .) with no config file
  httpd explain [-f FILE] [-X METHOD] [-H 'Name: value']... [-from ADDR] URL
                             show how a request would be served, without serving
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "serve" {
		return runServe(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "explain" {
		return runExplain(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("httpd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	file := fs.String("f", "conf/httpd.hcl", "config file")
	check := fs.Bool("t", false, "check the config and exit")
	noImport := fs.Bool("no-import", false, "with -t, do not import the WSGI and ASGI applications")
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
		fmt.Fprint(stdout, listModules())
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
		if !*noImport {
			if d := checkImports(cfg); d.HasErrors() {
				printDiags(stderr, cfg, d)
				return 1
			}
		}
		fmt.Fprintln(stdout, "Syntax OK")
		return 0
	case *show:
		fmt.Fprint(stdout, describe(cfg))
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
	// A small live heap is not collected dozens of times a second
	// (see internal/heapfloor); GOGC in the environment overrides.
	heapfloor.Start(heapfloor.Floor)
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

// listModules is the text of httpd -l: every module compiled in, in
// pipeline order, with its phase.
func listModules() string {
	var b strings.Builder
	b.WriteString("Compiled in modules, in pipeline order (vhost blocks, and attributes marked \"=\"):\n")
	fmt.Fprintf(&b, "  %-20s %-9s %s\n", "MODULE", "PHASE", "DOES")
	for _, m := range registry.Modules() {
		name := m.Name
		if conf.IsAttribute(m.Name) {
			name += " ="
		}
		fmt.Fprintf(&b, "  %-20s %-9s %s\n", name, m.Phase, m.Doc)
	}
	b.WriteString("The header and encode phases act on every response on its way out; errors sees\n" +
		"the errors of the later phases; of the mounts, the longest matching prefix runs.\n")
	return b.String()
}

// describe is the text of httpd -S: the listeners and the vhosts on
// each, then each vhost with the file and line it comes from and its
// stages in pipeline order.
func describe(cfg *conf.Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ServerRoot: %s\nConfig: %s\n", cfg.ServerRoot, cfg.File)
	for _, f := range cfg.Includes {
		fmt.Fprintf(&b, "Included: %s\n", f)
	}
	fmt.Fprintf(&b, "Data dir: %s\n", cfg.Server.DataDir)
	byAddr := map[string][]*conf.VHost{}
	tlsAddr := map[string]bool{}
	var addrs []string
	for _, v := range cfg.VHosts {
		for _, l := range v.Listeners {
			if byAddr[l.Addr] == nil {
				addrs = append(addrs, l.Addr)
			}
			byAddr[l.Addr] = append(byAddr[l.Addr], v)
			tlsAddr[l.Addr] = l.TLS
		}
	}
	sort.Strings(addrs)
	for _, a := range addrs {
		proto := "http"
		if tlsAddr[a] {
			proto = "https"
		}
		fmt.Fprintf(&b, "%s (%s):\n", a, proto)
		def := byAddr[a][0]
		for _, v := range byAddr[a] {
			if v.Default {
				def = v
			}
		}
		for _, v := range byAddr[a] {
			mark := ""
			if v == def {
				mark = " (default)"
			}
			fmt.Fprintf(&b, "    %s%s  %s\n", v.Name, mark, where(v.DefRange))
			if len(v.Aliases) > 0 {
				fmt.Fprintf(&b, "        aliases: %s\n", strings.Join(v.Aliases, ", "))
			}
		}
	}
	for _, v := range cfg.VHosts {
		fmt.Fprintf(&b, "vhost %s  %s\n", v.Name, where(v.DefRange))
		if v.DocumentRoot != "" {
			fmt.Fprintf(&b, "    document_root: %s\n", v.DocumentRoot)
		}
		if v.TLS.Mode != conf.TLSOff {
			fmt.Fprintf(&b, "    tls: %s\n", v.TLS.Mode)
		}
		if len(v.Modules) == 0 {
			b.WriteString("    stages: none (every request gets 404)\n")
			continue
		}
		b.WriteString("    stages, in pipeline order:\n")
		for _, mb := range pipelineOrder(v.Modules) {
			label := mb.Info.Name
			for _, l := range mb.Labels {
				label += " " + strconv.Quote(l)
			}
			desc := ""
			if d, ok := mb.Module.(registry.Describer); ok {
				desc = d.Describe()
			}
			fmt.Fprintf(&b, "      %-9s%-28s %s\n", mb.Info.Phase, label, desc)
		}
	}
	return b.String()
}

// pipelineOrder returns the stages in the order a request meets them:
// by phase, the mounts longest prefix first (the router tries them so),
// the rest in the order of the file.
func pipelineOrder(mods []*conf.ModuleBlock) []*conf.ModuleBlock {
	out := slices.Clone(mods)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Info.Phase != b.Info.Phase {
			return a.Info.Phase < b.Info.Phase
		}
		return len(a.Prefix()) > len(b.Prefix())
	})
	return out
}

// where is a range's file and line.
func where(r hcl.Range) string {
	return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line)
}
