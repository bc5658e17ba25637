package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strings"

	"httpd/conf"
	"httpd/internal/forwarded"
	"httpd/registry"
	"httpd/vhost"
)

const explainUsage = `usage: httpd explain [-f FILE] [-X METHOD] [-H 'Name: value']... [-from ADDR] URL

Prints how the server would serve one request, without starting it: the
listener, the vhost and why, every stage of the pipeline, the mount or
file it ends at, and the status where it can be known. URL is a full URL
(http://localhost:8080/app) or a path (/app), which goes to the first
vhost on its first listener. Paths below the working directory are shown
relative to it.
`

// headerFlags collects repeated -H flags.
type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

// runExplain is httpd explain.
func runExplain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("httpd explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, explainUsage) }
	file := fs.String("f", "conf/httpd.hcl", "config file")
	method := fs.String("X", http.MethodGet, "request method")
	from := fs.String("from", "127.0.0.1", "client address")
	var headers headerFlags
	fs.Var(&headers, "H", "request header 'Name: value' (repeatable)")
	if err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, explainUsage)
		return 2
	}
	client, err := netip.ParseAddr(*from)
	if err != nil {
		fmt.Fprintf(stderr, "httpd explain: -from %q is not an IP address: write one like 127.0.0.1 or ::1\n", *from)
		return 2
	}
	cfg, diags := conf.Load(*file)
	if diags.HasErrors() {
		printDiags(stderr, cfg, diags)
		return 1
	}
	r, target, err := explainRequest(cfg, fs.Arg(0), strings.ToUpper(*method), headers, client)
	if err != nil {
		fmt.Fprintf(stderr, "httpd explain: %v\n", err)
		return 2
	}
	var b strings.Builder
	explain(&b, cfg, r, target)
	out := b.String()
	if wd, err := os.Getwd(); err == nil && wd != "/" {
		out = strings.ReplaceAll(out, wd+string(os.PathSeparator), "")
	}
	fmt.Fprint(stdout, out)
	return 0
}

// explainRequest makes the request to explain from the URL argument: a
// full URL, one without scheme (http is meant), or a path, which goes to
// the first vhost on its first listener.
//
// target is the host and port of the URL: where the connection goes,
// also when a Host header names another vhost.
func explainRequest(cfg *conf.Config, arg, method string, headers []string, client netip.Addr) (r *http.Request, target string, err error) {
	var u *url.URL
	if strings.HasPrefix(arg, "/") {
		if len(cfg.VHosts) == 0 || len(cfg.VHosts[0].Listeners) == 0 {
			return nil, "", fmt.Errorf("the config has no vhost to send %s to: give a full URL", arg)
		}
		v, l := cfg.VHosts[0], cfg.VHosts[0].Listeners[0]
		scheme := "http"
		if l.TLS {
			scheme = "https"
		}
		u, err = url.Parse(scheme + "://" + net.JoinHostPort(v.Name, vhost.ListenerPort(l.Addr)) + arg)
	} else {
		if !strings.Contains(arg, "://") {
			arg = "http://" + arg
		}
		u, err = url.Parse(arg)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%q is not a URL: %v", arg, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, "", fmt.Errorf("%q: the scheme must be http or https", arg)
	}
	if u.Host == "" {
		return nil, "", fmt.Errorf("%q names no host", arg)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	r = &http.Request{
		Method:     method,
		URL:        &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     http.Header{},
		Host:       u.Host,
		RemoteAddr: client.String(),
		RequestURI: u.RequestURI(),
		Body:       http.NoBody,
	}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" {
			return nil, "", fmt.Errorf("-H %q: write a header as 'Name: value'", h)
		}
		if strings.EqualFold(name, "Host") {
			r.Host = value
			continue
		}
		r.Header.Add(name, value)
	}
	if u.Scheme == "https" {
		r.TLS = &tls.ConnectionState{ServerName: u.Hostname()}
	}
	return r, u.Host, nil
}

// urlPort is the port the request's URL connects to.
func urlPort(r *http.Request, host string) string {
	if _, p, err := net.SplitHostPort(host); err == nil && p != "" {
		return p
	}
	if r.TLS != nil {
		return "443"
	}
	return "80"
}

// listenerFor picks the listener the URL reaches: the one on the URL's
// port whose address is the URL's host, else one on all interfaces, else
// the first on that port. why says how it was picked.
func listenerFor(cfg *conf.Config, connectHost, port string) (l conf.Listener, why string, ok bool) {
	seen := map[string]bool{}
	var onPort []conf.Listener
	for _, v := range cfg.VHosts {
		for _, l := range v.Listeners {
			if !seen[l.Addr] && vhost.ListenerPort(l.Addr) == port {
				seen[l.Addr] = true
				onPort = append(onPort, l)
			}
		}
	}
	sort.SliceStable(onPort, func(i, j int) bool { return onPort[i].Addr < onPort[j].Addr })
	host := strings.Trim(connectHost, "[]")
	for _, l := range onPort {
		if lh, _, _ := net.SplitHostPort(l.Addr); lh == host {
			return l, fmt.Sprintf("it listens on %s itself", host), true
		}
	}
	for _, l := range onPort {
		if lh, _, _ := net.SplitHostPort(l.Addr); lh == "" || lh == "0.0.0.0" || lh == "::" {
			return l, fmt.Sprintf("it listens on port %s on every interface", port), true
		}
	}
	if len(onPort) > 0 {
		return onPort[0], fmt.Sprintf("it listens on port %s (assuming %s reaches that address)", port, host), true
	}
	return conf.Listener{}, "", false
}

// explain writes the walk of r through cfg.
func explain(w io.Writer, cfg *conf.Config, r *http.Request, target string) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	fmt.Fprintf(w, "Request:   %s %s://%s%s from %s\n", r.Method, scheme, target, r.RequestURI, r.RemoteAddr)
	if hostOnly(r.Host) != hostOnly(target) {
		fmt.Fprintf(w, "           with Host: %s\n", r.Host)
	}

	// The connection goes to the URL's host and port, also when -H Host
	// names another vhost.
	port := urlPort(r, target)
	connect := hostOnly(target)
	l, why, ok := listenerFor(cfg, connect, port)
	if !ok {
		fmt.Fprintf(w, "Listener:  none: no vhost listens on port %s, so the connection is refused.\n", port)
		fmt.Fprintf(w, "           The config listens on %s.\n", strings.Join(allListeners(cfg), ", "))
		fmt.Fprintln(w, "Result:    no answer (connection refused)")
		return
	}
	proto := "plain HTTP"
	if l.TLS {
		proto = "TLS"
	}
	fmt.Fprintf(w, "Listener:  %s (%s): %s.\n", l.Addr, proto, why)
	switch {
	case l.TLS && r.TLS == nil:
		fmt.Fprintf(w, "           It expects a TLS handshake, so a plain http:// request fails: use https://.\n")
		fmt.Fprintln(w, "Result:    no HTTP answer (the listener speaks TLS)")
		return
	case !l.TLS && r.TLS != nil:
		fmt.Fprintf(w, "           It speaks plain HTTP, so the TLS handshake of https:// fails: use http://.\n")
		fmt.Fprintln(w, "Result:    no HTTP answer (the listener speaks plain HTTP)")
		return
	}

	c := vhost.Choose(cfg, l.Addr, r.Host)
	if c.VHost == nil {
		fmt.Fprintf(w, "VHost:     none: %s.\n", c.Why)
		fmt.Fprintln(w, "Result:    404 Not Found")
		return
	}
	v := c.VHost
	fmt.Fprintf(w, "VHost:     %s (%s): %s.\n", v.Name, where(v.DefRange), c.Why)
	if c.HTTPSRedirect {
		loc := "https://" + hostOnly(r.Host)
		if c.HTTPSPort != "443" {
			loc += ":" + c.HTTPSPort
		}
		loc += r.URL.RequestURI()
		fmt.Fprintf(w, "           The vhost has TLS and this listener is plain, so every request is sent to HTTPS.\n")
		fmt.Fprintf(w, "Result:    308 Permanent Redirect to %s\n", loc)
		return
	}
	// From here on the client is the one a trusted proxy names, as in
	// the server.
	if r2 := forwarded.NewTrusted(cfg.Server.TrustedProxies).Rewrite(r); r2 != r {
		if r2.RemoteAddr != r.RemoteAddr {
			fmt.Fprintf(w, "           %s is a trusted proxy, so the client is %s, as its forwarding headers say.\n", r.RemoteAddr, r2.RemoteAddr)
		} else {
			fmt.Fprintf(w, "           %s is a trusted proxy, but its request names no client in X-Forwarded-For or Forwarded.\n", r.RemoteAddr)
		}
		r = r2
	}
	status := walk(w, v, r)
	switch {
	case status > 0:
		fmt.Fprintf(w, "Result:    %d %s\n", status, http.StatusText(status))
	default:
		fmt.Fprintln(w, "Result:    the status is chosen by what runs the request; it cannot be known without running it")
	}
}

func allListeners(cfg *conf.Config) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range cfg.VHosts {
		for _, l := range v.Listeners {
			if !seen[l.Addr] {
				seen[l.Addr] = true
				out = append(out, l.Addr)
			}
		}
	}
	sort.Strings(out)
	return out
}

func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return h
}

// stageName is how a stage is named in the walk: its block type and
// labels, and where it is in the config.
func stageName(mb *conf.ModuleBlock) string {
	name := mb.Info.Name
	for _, l := range mb.Labels {
		name += fmt.Sprintf(" %q", l)
	}
	if mb.DefRange.Filename != "" {
		name += " (" + where(mb.DefRange) + ")"
	}
	return name
}

// mostSpecific is implemented by stages of which, among adjacent blocks
// of the same module, only the one with the longest prefix that matches
// the path acts (access).
type mostSpecific interface {
	MostSpecificPrefix() string
}

// explainStage asks a stage what it does with r. A stage that cannot
// say gets a line from its registry Doc; a mount or content stage among
// them is taken to answer the request, with a status unknown.
func explainStage(mb *conf.ModuleBlock, r *http.Request, m registry.Mount) registry.Explanation {
	if e, ok := mb.Module.(registry.Explainer); ok {
		return e.Explain(r, m)
	}
	end := mb.Info.Phase == registry.PhaseMount || mb.Info.Phase == registry.PhaseContent
	return registry.Explanation{Says: "runs here (" + mb.Info.Doc + "); it cannot say in advance what it does to this request", Ends: end}
}

// walk writes the stages r passes in v's pipeline and returns the status
// expected, 0 when it cannot be known.
func walk(w io.Writer, v *conf.VHost, r *http.Request) int {
	var outbound, inner, mounts []*conf.ModuleBlock
	var content *conf.ModuleBlock
	for _, mb := range v.Modules {
		switch {
		case mb.Info.Phase == registry.PhaseMount:
			mounts = append(mounts, mb)
		case mb.Info.Phase == registry.PhaseContent:
			content = mb
		case mb.Info.Phase.Outbound():
			outbound = append(outbound, mb)
		default:
			inner = append(inner, mb)
		}
	}
	sort.SliceStable(mounts, func(i, j int) bool { return len(mounts[i].Prefix()) > len(mounts[j].Prefix()) })

	fmt.Fprintln(w, "Pipeline:")
	n := 0
	step := func(name, says string) {
		n++
		fmt.Fprintf(w, "  %d. %s: %s\n", n, name, says)
	}
	status := 0
	for round := 0; ; round++ {
		if round > registry.MaxReentries {
			step("loop", fmt.Sprintf("the path was rewritten more than %d times, so 500 Internal Server Error", registry.MaxReentries))
			status = http.StatusInternalServerError
			break
		}
		ended, rewritten := false, false
		for i := 0; i < len(inner) && !ended && !rewritten; i++ {
			mb := inner[i]
			if _, ok := mb.Module.(mostSpecific); ok {
				// Adjacent blocks of the module form one stage: of those
				// whose prefix matches, the longest decides.
				var decider *conf.ModuleBlock
				j := i
				for ; j < len(inner) && inner[j].Info == mb.Info; j++ {
					p := inner[j].Module.(mostSpecific).MostSpecificPrefix()
					if registry.MatchPrefix(p, r.URL.Path) && (decider == nil || len(p) > len(decider.Module.(mostSpecific).MostSpecificPrefix())) {
						decider = inner[j]
					}
				}
				i = j - 1
				if decider == nil {
					step(mb.Info.Name, fmt.Sprintf("no %s block covers %s, so it passes", mb.Info.Name, r.URL.Path))
					continue
				}
				mb = decider
			}
			e := explainStage(mb, r, registry.Mount{})
			step(stageName(mb), e.Says)
			switch {
			case e.Ends:
				ended, status = true, e.Status
			case e.Path != "":
				rewritten = true
				u := *r.URL
				u.Path, u.RawPath = e.Path, ""
				r2 := *r
				r2.URL = &u
				r = &r2
			}
		}
		if rewritten {
			continue
		}
		if !ended {
			status = endpoint(step, v, mounts, content, r)
		}
		break
	}
	if len(outbound) > 0 {
		fmt.Fprintln(w, "On the way out (also for error answers):")
		for _, mb := range outbound {
			e := explainStage(mb, r, registry.Mount{})
			fmt.Fprintf(w, "  - %s: %s\n", stageName(mb), e.Says)
		}
	}
	return status
}

// endpoint explains the mount with the longest prefix matching r, else
// the content stage, and returns the status expected.
func endpoint(step func(name, says string), v *conf.VHost, mounts []*conf.ModuleBlock, content *conf.ModuleBlock, r *http.Request) int {
	matching := 0
	for _, mb := range mounts {
		if registry.MatchPrefix(mb.Prefix(), r.URL.Path) {
			matching++
		}
	}
	for _, mb := range mounts {
		m, ok := registry.MatchMount(mb.Prefix(), r.URL.Path)
		if !ok {
			continue
		}
		why := fmt.Sprintf("the mount prefix %s matches %s", mb.Prefix(), r.URL.Path)
		if matching > 1 {
			why = fmt.Sprintf("%s is the longest of %d mount prefixes matching %s", mb.Prefix(), matching, r.URL.Path)
		}
		e := explainStage(mb, r, m)
		step(stageName(mb), why+": "+e.Says)
		if !e.Ends {
			// A mount that lets the request through ends at the 404 of
			// the router.
			step("no file", "nothing else serves the path, so 404 Not Found")
			return http.StatusNotFound
		}
		return e.Status
	}
	if content == nil {
		step("no mount", fmt.Sprintf("no mount prefix matches %s and the vhost has no document_root, so 404 Not Found", r.URL.Path))
		return http.StatusNotFound
	}
	e := explainStage(content, r, registry.Mount{})
	name := stageName(content)
	if content.DefRange == v.DefRange {
		name = content.Info.Name + " (implicit, as the vhost has a document_root)"
	}
	step(name, fmt.Sprintf("no mount prefix matches %s, so it %s", r.URL.Path, e.Says))
	if !e.Ends {
		return http.StatusNotFound
	}
	return e.Status
}
