package status

import (
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"

	"httpd/certs"
	"httpd/internal/stats"
	"httpd/registry"
)

// page is what the template renders.
type page struct {
	*stats.Report
	Fleet   certs.FleetStatus
	Refresh int // seconds; 0 for none
	Spark   spark
}

// spark is the sparkline of the last minute: requests per second as an
// area, 5xx per second as a line over it.
type spark struct {
	Width, Height int
	Area          string // path of the requests
	Line          string // polyline points of the requests
	Errors        string // polyline points of the 5xx, "" when there were none
	Peak          uint64 // the busiest second
	Seconds       int    // seconds sampled
}

const sparkWidth, sparkHeight = 300, 56

func newSpark(secs []stats.Second) spark {
	sp := spark{Width: sparkWidth, Height: sparkHeight, Seconds: len(secs)}
	if len(secs) == 0 {
		return sp
	}
	var anyErr bool
	for _, s := range secs {
		sp.Peak = max(sp.Peak, s.Requests)
		anyErr = anyErr || s.Errors > 0
	}
	top := max(sp.Peak, 1)
	step := float64(sparkWidth) / float64(max(stats.RingSeconds-1, 1))
	// The newest second sits at the right edge; a ring not yet full
	// starts part way along.
	x0 := float64(stats.RingSeconds-len(secs)) * step
	y := func(v uint64) float64 { return float64(sparkHeight-2) - float64(v)/float64(top)*float64(sparkHeight-4) }
	var line, errs strings.Builder
	for i, s := range secs {
		x := x0 + float64(i)*step
		fmt.Fprintf(&line, "%.1f,%.1f ", x, y(s.Requests))
		if anyErr {
			fmt.Fprintf(&errs, "%.1f,%.1f ", x, y(s.Errors))
		}
	}
	sp.Line = strings.TrimSpace(line.String())
	sp.Errors = strings.TrimSpace(errs.String())
	sp.Area = fmt.Sprintf("M%.1f,%d L%s L%.1f,%d Z", x0, sparkHeight, strings.ReplaceAll(sp.Line, " ", " L"), x0+float64(len(secs)-1)*step, sparkHeight)
	return sp
}

var funcs = template.FuncMap{
	"rate": func(f float64) string {
		if f >= 100 {
			return strconv.FormatFloat(f, 'f', 0, 64)
		}
		return strconv.FormatFloat(f, 'f', 2, 64)
	},
	"bytes": humanBytes,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"ago": func(now, t time.Time) string { return stats.Human(now.Sub(t)) + " ago" },
	"days": func(d int) string {
		switch {
		case d < 0:
			return "expired"
		case d == 1:
			return "1 day left"
		}
		return strconv.Itoa(d) + " days left"
	},
	"certClass": func(d int) string {
		switch {
		case d < 7:
			return "bad"
		case d < 21:
			return "warn"
		}
		return "good"
	},
	"pct": func(n, of int) int {
		if of <= 0 {
			return 0
		}
		return min(100, n*100/of)
	},
	"kind":    kindName,
	"join":    strings.Join,
	"healthy": healthy,
	"waitMs": func(p *registry.PoolReport) string {
		return strconv.FormatFloat(float64(p.QueueWait)/float64(time.Millisecond), 'f', 0, 64) + " ms"
	},
}

// kindName is how the page names a module.
func kindName(k string) string {
	switch k {
	case "script_alias":
		return "CGI"
	case "wsgi_script_alias":
		return "WSGI"
	case "asgi_app":
		return "ASGI"
	case "fastcgi":
		return "FastCGI"
	case "reverse_proxy":
		return "Proxy"
	}
	return k
}

// healthy counts the healthy upstreams.
func healthy(us []registry.UpstreamReport) int {
	n := 0
	for _, u := range us {
		if u.Healthy {
			n++
		}
	}
	return n
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGTPE"[exp]) + "iB"
}

var tmpl = template.Must(template.New("status").Funcs(funcs).Parse(pageHTML))

// render writes the HTML page of rep.
func render(w io.Writer, rep *stats.Report, fleet certs.FleetStatus, refresh int) error {
	if refresh < 0 || refresh > 3600 {
		refresh = 0
	}
	return tmpl.Execute(w, page{Report: rep, Fleet: fleet, Refresh: refresh, Spark: newSpark(rep.Seconds)})
}

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
{{if .Refresh}}<meta http-equiv="refresh" content="{{.Refresh}}">{{end}}
<title>Server status · httpd</title>
<style>
:root{--bg:#f6f7f9;--card:#fff;--fg:#1d2330;--mute:#667085;--line:#e4e7ec;--acc:#2563eb;--acc2:#93b4f8;--good:#16a34a;--warn:#d97706;--bad:#dc2626;--bar:#e8edf6}
@media (prefers-color-scheme:dark){:root{--bg:#0f1218;--card:#171b24;--fg:#e6e9ef;--mute:#98a2b3;--line:#283041;--acc:#6ea0ff;--acc2:#2b4a85;--good:#4ade80;--warn:#fbbf24;--bad:#f87171;--bar:#232a38}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
main{max-width:1100px;margin:0 auto;padding:16px}
header{display:flex;flex-wrap:wrap;align-items:baseline;gap:4px 16px;margin:4px 0 16px}
h1{font-size:22px;margin:0}
h2{font-size:17px;margin:24px 0 10px}
h3{font-size:15px;margin:0}
.mute{color:var(--mute)}
.small{font-size:13px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.grid{display:grid;gap:12px;grid-template-columns:repeat(auto-fit,minmax(160px,1fr))}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:12px 14px;min-width:0}
.big{font-size:26px;font-weight:650;font-variant-numeric:tabular-nums;line-height:1.2}
.label{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--mute)}
.chart{margin-top:12px}
.chart svg{width:100%;height:64px;display:block}
.vhosts{display:grid;gap:12px;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));align-items:start}
.mounts{display:grid;gap:10px;margin-top:10px}
.mount{border-top:1px solid var(--line);padding-top:10px}
.tag{display:inline-block;font-size:12px;font-weight:600;padding:1px 8px;border-radius:99px;background:var(--bar);color:var(--fg);margin-right:6px}
.good{color:var(--good)}.warn{color:var(--warn)}.bad{color:var(--bad)}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:6px;vertical-align:middle}
.dot.good{background:var(--good)}.dot.bad{background:var(--bad)}
.meter{display:flex;height:8px;border-radius:4px;overflow:hidden;background:var(--bar);margin:6px 0}
.meter span{display:block;height:100%}
.meter .busy{background:var(--acc)}.meter .queued{background:var(--warn)}
dl{display:grid;grid-template-columns:repeat(auto-fit,minmax(92px,1fr));gap:4px 12px;margin:6px 0 0}
dt{font-size:12px;color:var(--mute)}dd{margin:0;font-variant-numeric:tabular-nums;font-weight:600}
ul{margin:6px 0 0;padding:0;list-style:none}
li{overflow-wrap:anywhere}
footer{margin:24px 0 8px;font-size:13px}
a{color:var(--acc)}
</style>
</head>
<body>
<main>
<header>
<h1>Server status</h1>
<span class="mute">up <b id="uptime">{{.Uptime}}</b> since {{when .Started}}</span>
<span class="mute">config generation <b id="generation">{{.Generation}}</b>, loaded {{ago .Now .Loaded}}</span>
</header>

<section class="grid" id="summary">
<div class="card"><div class="label">Requests/s</div><div class="big" id="rps">{{rate .RequestsPerSecond}}</div><div class="small mute">last minute</div></div>
<div class="card"><div class="label">5xx/s</div><div class="big {{if .ErrorsPerSecond}}bad{{end}}" id="eps">{{rate .ErrorsPerSecond}}</div><div class="small mute">last minute</div></div>
<div class="card"><div class="label">Requests</div><div class="big" id="requests">{{.Requests}}</div><div class="small mute">{{.Errors5xx}} answered 5xx</div></div>
<div class="card"><div class="label">Connections</div><div class="big" id="connections">{{.Conns.Active}} <span class="small mute">active</span></div><div class="small mute">{{.Conns.Idle}} idle · {{.Conns.Handshake}} in TLS handshake</div></div>
</section>
<section class="card chart" id="chart">
<div class="label">Requests per second, last minute <span class="mute">(peak {{.Spark.Peak}}{{if .Spark.Errors}}, <span class="bad">5xx</span>{{end}})</span></div>
<svg viewBox="0 0 {{.Spark.Width}} {{.Spark.Height}}" preserveAspectRatio="none" role="img" aria-label="requests per second over the last minute">
<line x1="0" y1="{{.Spark.Height}}" x2="{{.Spark.Width}}" y2="{{.Spark.Height}}" stroke="var(--line)" stroke-width="2"/>
{{if .Spark.Line}}<path d="{{.Spark.Area}}" fill="var(--acc2)" opacity=".55"/>
<polyline points="{{.Spark.Line}}" fill="none" stroke="var(--acc)" stroke-width="1.6" vector-effect="non-scaling-stroke"/>{{end}}
{{if .Spark.Errors}}<polyline points="{{.Spark.Errors}}" fill="none" stroke="var(--bad)" stroke-width="1.6" vector-effect="non-scaling-stroke"/>{{end}}
</svg>
{{if not .Spark.Seconds}}<div class="small mute">sampled once a second; the first sample comes a second after start</div>{{end}}
</section>

{{if or .Fleet.Storage .Fleet.Tickets}}<h2>Storage</h2>
<section class="card" id="storage">
{{with .Fleet.Storage}}<div><span class="dot {{if .Healthy}}good{{else}}bad{{end}}"></span><span class="tag">{{.Kind}}</span><b class="mono">{{.Address}}</b>{{if .Prefix}} <span class="small mute">prefix</span> <span class="mono">{{.Prefix}}</span>{{end}}</div>
<dl>
<div><dt>Health</dt><dd class="{{if .Healthy}}good{{else}}bad{{end}}">{{if .Healthy}}reachable{{else}}unreachable{{end}}</dd></div>
<div><dt>Since</dt><dd>{{when .Since}}</dd></div>
<div><dt>Last write</dt><dd>{{when .LastWrite}}</dd></div>
</dl>
{{if .LastError}}<div class="small" style="margin-top:6px"><span class="{{if .Healthy}}mute{{else}}bad{{end}}">last error {{when .LastErrorAt}}: <span class="mono">{{.LastError}}</span></span></div>{{end}}{{end}}
{{with .Fleet.Tickets}}<div class="small" style="margin-top:8px" id="tickets">Session-ticket keys from <b>{{.Source}}</b>, last rotation {{when .LastRotation}}{{if .LastError}} · <span class="bad">{{.LastError}}</span>{{end}}</div>{{end}}
</section>{{end}}

<h2>Virtual hosts</h2>
<section class="vhosts">
{{range .VHosts}}<article class="card vhost">
<h3>{{.Name}}</h3>
{{if .Aliases}}<div class="small mute">also {{join .Aliases ", "}}</div>{{end}}
<ul class="small">
{{range .Listeners}}<li><span class="mono">{{if .TLS}}https{{else}}http{{end}}://{{.Addr}}</span></li>{{end}}
</ul>
<dl>
<div><dt>Requests</dt><dd>{{.Requests}}</dd></div>
<div><dt>5xx</dt><dd class="{{if .Errors5xx}}bad{{end}}">{{.Errors5xx}}</dd></div>
<div><dt>TLS</dt><dd>{{.TLS}}</dd></div>
</dl>
{{with .Cert}}<div class="small cert" style="margin-top:8px">{{if .Error}}<span class="bad">certificate: {{.Error}}</span>{{else}}
<span class="{{certClass .DaysLeft}}">●</span> certificate for <b>{{.Subject}}</b> by {{.Issuer}}, expires {{when .NotAfter}}: <b class="{{certClass .DaysLeft}}">{{days .DaysLeft}}</b>{{end}}</div>{{end}}
{{if .Mounts}}<div class="mounts">
{{range .Mounts}}<div class="mount">
<div><span class="tag">{{kind .Kind}}</span><b class="mono">{{.Prefix}}</b>{{with .State}}{{if .Target}} <span class="small mute mono">→ {{.Target}}</span>{{end}}{{end}}</div>
<dl>
<div><dt>Requests</dt><dd>{{.Requests}}</dd></div>
<div><dt>5xx</dt><dd class="{{if .Errors5xx}}bad{{end}}">{{.Errors5xx}}</dd></div>
<div><dt>Mean time</dt><dd>{{.MeanLatencyMs}} ms</dd></div>
<div><dt>In / out</dt><dd>{{bytes .BytesIn}} / {{bytes .BytesOut}}</dd></div>
</dl>
{{with .State}}{{with .Workers}}
<div class="meter" title="{{.Busy}} busy, {{.Queued}} queued of {{.Max}}"><span class="busy" style="width:{{pct .Busy .Max}}%"></span><span class="queued" style="width:{{pct .Queued .Max}}%"></span></div>
<dl class="pool">
<div><dt>Busy</dt><dd>{{.Busy}}</dd></div>
<div><dt>Idle</dt><dd>{{.Idle}}</dd></div>
<div><dt>Queued</dt><dd class="{{if .Queued}}warn{{end}}">{{.Queued}}</dd></div>
<div><dt>Max</dt><dd>{{.Max}}</dd></div>
<div><dt>Restarts</dt><dd>{{.Restarts}}</dd></div>
<div><dt>Crashes</dt><dd class="{{if .Crashes}}bad{{end}}">{{.Crashes}}</dd></div>
<div><dt>Timeouts</dt><dd class="{{if .Timeouts}}warn{{end}}">{{.Timeouts}}</dd></div>
<div><dt>Queue wait</dt><dd>{{waitMs .}}</dd></div>
</dl>{{end}}
{{if .Upstreams}}<div class="small mute" style="margin-top:6px">{{healthy .Upstreams}} of {{len .Upstreams}} upstreams healthy</div>
<ul class="small upstreams">
{{range .Upstreams}}<li><span class="dot {{if .Healthy}}good{{else}}bad{{end}}"></span><span class="mono">{{.Address}}</span> <span class="mute">· {{.Active}} active · {{.Requests}} sent · {{.Failures}} failed{{if .LastError}} · {{.LastError}}{{end}}</span></li>{{end}}
</ul>{{end}}{{end}}
</div>{{end}}
</div>{{end}}
</article>{{end}}
</section>

<footer class="mute">{{when .Now}}{{if .ConfigFile}} · <span class="mono">{{.ConfigFile}}</span>{{end}} · <a href="?format=json">JSON</a>{{if not .Refresh}} · <a href="?refresh=5">refresh every 5s</a>{{end}}</footer>
</main>
</body>
</html>
`
