#!/usr/bin/env bash
# bench/run.sh: httpd side by side with nginx, lighttpd, Caddy, Apache and
# bare net/http on loopback. See bench/README.md.
#
# Every server runs pinned to SERVER_CPU, the load generator to LOAD_CPU.
# Every scenario runs against every server in turn, ROUNDS times, and the
# medians and ratios httpd/peer go to $OUT/report.md.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3}            # seconds per measured run
SERVERS=${SERVERS:-"httpd httpd-nethttp nginx lighttpd caddy apache gofs gohello"}
SCENARIOS=${SCENARIOS:-"1k-50 1k-256 100k 10m 404 h2 idle"}
IDLE_CONNS=${IDLE_CONNS:-5000}
H2_CONNS=${H2_CONNS:-10}
H2_STREAMS=${H2_STREAMS:-100}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PORT_BASE=${PORT_BASE:-18400}
INSTALL=${INSTALL:-1}
PROFILE=${PROFILE:-0}              # 1: CPU profile of httpd over the whole run
HTTPD_ACCESS_LOG=${HTTPD_ACCESS_LOG:-off}

cd "$(dirname "$0")/.."
REPO=$(pwd)
# shellcheck source=lib.sh
. "$REPO/bench/lib.sh"
OUT=${OUT:-$REPO/bench/out/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/raw"
OUT=$(cd "$OUT" && pwd)
W=$(mktemp -d /tmp/httpd-bench.XXXXXX)
chmod 755 "$W"
RESULTS=$OUT/results.tsv
: >"$RESULTS"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---- servers we started, stopped by pid on exit -----------------------------

declare -A PID=()

stop() { # name
	local name=$1 pid=${PID[$1]:-}
	[ -n "$pid" ] || return 0
	unset "PID[$name]"
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
		sleep 0.1
	done
	log "$name (pid $pid) did not stop on SIGTERM: killing it"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local name
	for name in "${!PID[@]}"; do stop "$name"; done
	[ -n "${LOADPID:-}" ] && kill -TERM "$LOADPID" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- install ----------------------------------------------------------------

need_install=()
for pair in nginx:nginx lighttpd:lighttpd caddy:caddy apache2:apache2 wrk:wrk h2load:nghttp2-client taskset:util-linux openssl:openssl curl:curl; do
	cmd=${pair%%:*} pkg=${pair#*:}
	command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need_install+=("$pkg")
done
[ -e /usr/lib/lighttpd/mod_openssl.so ] || need_install+=(lighttpd-mod-openssl)
if [ ${#need_install[@]} -gt 0 ]; then
	if [ "$INSTALL" = 0 ]; then
		log "missing: ${need_install[*]} (INSTALL=0): those servers will fail"
	else
		log "installing ${need_install[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${need_install[@]}" >"$OUT/apt.log" 2>&1
	fi
fi
export PATH=$PATH:/usr/sbin
# Installing may have started the distribution's own services; they are
# not ours and use other ports, so they are left alone.

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---- build and fixtures -----------------------------------------------------

log "building httpd and helpers"
mkdir -p "$W/bin"
go build -o "$W/bin/httpd" ./cmd/httpd
go build -o "$W/bin/gobare" ./bench/gobare
go build -o "$W/bin/idleconns" ./bench/idleconns
go build -o "$W/bin/report" ./bench/report

DOCS=$W/htdocs
mkdir -p "$DOCS"
# Text made from random bytes, cut to size (no pipe is cut short: with
# pipefail a SIGPIPE would end the script).
for size in 1024 102400; do
	f=$DOCS/$((size / 1024))k.html
	head -c "$size" /dev/urandom | base64 -w 76 >"$f"
	truncate -s "$size" "$f"
done
head -c $((10 * 1024 * 1024)) /dev/urandom >"$DOCS/10m.bin"
echo '<h1>bench</h1>' >"$DOCS/index.html"
chmod -R a+rX "$DOCS"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	-keyout "$W/key.pem" -out "$W/cert.pem" >/dev/null 2>&1
chmod 644 "$W/key.pem" "$W/cert.pem"

# ---- per-server configs -----------------------------------------------------

declare -A PORT=() TLSPORT=()
i=0
for s in $SERVERS; do
	PORT[$s]=$((PORT_BASE + 10 * i))
	TLSPORT[$s]=$((PORT_BASE + 10 * i + 1))
	i=$((i + 1))
done

start() { # name; starts it pinned and waits until it answers
	local name=$1 d=$W/$1
	mkdir -p "$d"
	chmod 755 "$d"
	local p=${PORT[$name]} t=${TLSPORT[$name]}
	local -a cmd
	case $name in
	httpd | httpd-nethttp)
		# httpd-nethttp: Go's net/http server for HTTP/1.1 and HTTP/2
		# instead of httpd's own engines.
		local engine=native
		[ "$name" = httpd-nethttp ] && engine=net/http
		cat >"$d/httpd.hcl" <<-EOF
			server {
			  listen   = ["127.0.0.1:$p"]
			  data_dir = "$d/var"
			  http1_engine = "$engine"
			  http2_engine = "$engine"
			  limits { idle_timeout = "300s" }
			}
			log {
			  access = "$HTTPD_ACCESS_LOG"
			  error  = "stderr"
			  level  = "warn"
			}
			vhost "localhost" {
			  document_root = "$DOCS"
			}
			vhost "tls.localhost" {
			  listen        = ["127.0.0.1:$t"]
			  document_root = "$DOCS"
			  tls {
			    cert = "$W/cert.pem"
			    key  = "$W/key.pem"
			  }
			}
		EOF
		cmd=(env GOMAXPROCS=1 "$W/bin/httpd" -f "$d/httpd.hcl")
		if [ "$PROFILE" = 1 ] && [ "${PROFILING:-0}" = 1 ]; then
			cmd=(env GOMAXPROCS=1 HTTPD_CPUPROFILE="$OUT/$name.cpu.pprof" "$W/bin/httpd" -f "$d/httpd.hcl")
		fi
		;;
	nginx)
		cat >"$d/nginx.conf" <<-EOF
			daemon off;
			master_process on;
			worker_processes 1;
			worker_rlimit_nofile 20000;
			pid $d/nginx.pid;
			error_log $d/error.log warn;
			events { worker_connections 16384; }
			http {
			  include /etc/nginx/mime.types;
			  default_type application/octet-stream;
			  access_log off;
			  sendfile on;
			  tcp_nopush on;
			  keepalive_timeout 300s;
			  keepalive_requests 10000000;
			  client_body_temp_path $d/body;
			  proxy_temp_path $d/proxy;
			  fastcgi_temp_path $d/fastcgi;
			  uwsgi_temp_path $d/uwsgi;
			  scgi_temp_path $d/scgi;
			  server { listen 127.0.0.1:$p; root $DOCS; }
			  server {
			    listen 127.0.0.1:$t ssl http2;
			    ssl_certificate $W/cert.pem;
			    ssl_certificate_key $W/key.pem;
			    root $DOCS;
			  }
			}
		EOF
		cmd=(nginx -c "$d/nginx.conf" -e "$d/error.log")
		;;
	lighttpd)
		cat >"$d/lighttpd.conf" <<-EOF
			server.document-root = "$DOCS"
			server.bind = "127.0.0.1"
			server.port = $p
			server.errorlog = "$d/error.log"
			server.username = "www-data"
			server.groupname = "www-data"
			server.modules = ("mod_openssl")
			server.max-fds = 16384
			server.max-connections = 8192
			server.max-keep-alive-requests = 65535
			server.max-keep-alive-idle = 300
			server.feature-flags = ("server.h2proto" => "enable")
			index-file.names = ("index.html")
			mimetype.assign = (".html" => "text/html", ".bin" => "application/octet-stream")
			\$SERVER["socket"] == "127.0.0.1:$t" {
			  ssl.engine = "enable"
			  ssl.pemfile = "$W/cert.pem"
			  ssl.privkey = "$W/key.pem"
			}
		EOF
		chown www-data "$d" # it opens its error log as www-data
		cmd=(lighttpd -D -f "$d/lighttpd.conf")
		;;
	caddy)
		cat >"$d/Caddyfile" <<-EOF
			{
			  admin off
			  auto_https off
			  default_sni 127.0.0.1
			  storage file_system {
			    root $d/data
			  }
			}
			http://127.0.0.1:$p {
			  root * $DOCS
			  file_server
			}
			https://127.0.0.1:$t {
			  tls $W/cert.pem $W/key.pem
			  root * $DOCS
			  file_server
			}
		EOF
		cmd=(env GOMAXPROCS=1 HOME="$d" XDG_DATA_HOME="$d/data" XDG_CONFIG_HOME="$d/config" caddy run --adapter caddyfile --config "$d/Caddyfile")
		;;
	apache)
		local m=/usr/lib/apache2/modules
		cat >"$d/apache.conf" <<-EOF
			ServerName 127.0.0.1
			Listen 127.0.0.1:$p
			Listen 127.0.0.1:$t
			PidFile $d/apache.pid
			DefaultRuntimeDir $d
			Mutex file:$d default
			ErrorLog $d/error.log
			LogLevel warn
			User www-data
			Group www-data
			LoadModule mpm_event_module $m/mod_mpm_event.so
			LoadModule authz_core_module $m/mod_authz_core.so
			LoadModule mime_module $m/mod_mime.so
			LoadModule dir_module $m/mod_dir.so
			LoadModule ssl_module $m/mod_ssl.so
			LoadModule http2_module $m/mod_http2.so
			TypesConfig /etc/mime.types
			DocumentRoot $DOCS
			<Directory />
			  Require all denied
			  AllowOverride None
			</Directory>
			<Directory $DOCS>
			  Require all granted
			  Options None
			</Directory>
			KeepAlive On
			MaxKeepAliveRequests 0
			KeepAliveTimeout 300
			EnableSendfile On
			StartServers 1
			ServerLimit 1
			ThreadLimit 64
			ThreadsPerChild 64
			MaxRequestWorkers 64
			MinSpareThreads 1
			MaxSpareThreads 64
			AsyncRequestWorkerFactor 200
			Protocols http/1.1
			<VirtualHost 127.0.0.1:$t>
			  SSLEngine on
			  SSLCertificateFile $W/cert.pem
			  SSLCertificateKeyFile $W/key.pem
			  Protocols h2 http/1.1
			</VirtualHost>
		EOF
		cmd=(apache2 -D FOREGROUND -f "$d/apache.conf")
		;;
	gofs)
		cmd=(env GOMAXPROCS=1 "$W/bin/gobare" -addr "127.0.0.1:$p" -tls-addr "127.0.0.1:$t" -cert "$W/cert.pem" -key "$W/key.pem" -root "$DOCS")
		;;
	gohello)
		cmd=(env GOMAXPROCS=1 "$W/bin/gobare" -hello -addr "127.0.0.1:$p" -tls-addr "127.0.0.1:$t" -cert "$W/cert.pem" -key "$W/key.pem")
		;;
	*)
		log "unknown server $name"
		return 1
		;;
	esac
	taskset -c "$SERVER_CPU" "${cmd[@]}" >"$d/stdout.log" 2>"$d/stderr.log" &
	PID[$name]=$!
	for _ in $(seq 150); do
		if ! kill -0 "${PID[$name]}" 2>/dev/null; then
			log "$name exited at start:"
			tail -n 20 "$d/stderr.log" "$d/error.log" >&2 2>/dev/null || true
			unset "PID[$name]"
			return 1
		fi
		if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$p/1k.html")" = 200 ]; then
			return 0
		fi
		sleep 0.1
	done
	log "$name did not answer within 15s"
	stop "$name"
	return 1
}

# rss_mib prints the summed RSS of a process and its descendants in MiB.
rss_mib() {
	ps -e -o pid=,ppid=,rss= | awk -v root="$1" '
		{ parent[$1] = $2; rss[$1] = $3 }
		END {
			for (p in rss) {
				q = p
				while (q != "" && q != root && q != 0 && q != 1) q = parent[q]
				if (q == root) sum += rss[p]
			}
			printf "%.1f\n", sum / 1024
		}'
}

# quiet_wait waits up to QUIET_WAIT seconds while load generators that
# are not ours (another benchmark on this machine) are running, and notes
# it when it gives up: their load would skew every figure.
QUIET_WAIT=${QUIET_WAIT:-120}
quiet_wait() {
	local t=0 others
	while :; do
		others=$(pgrep -x 'wrk|h2load' | grep -vxF "${LOADPID:-0}" | tr '\n' ' ' || true)
		[ -z "$others" ] && return 0
		if [ "$t" -ge "$QUIET_WAIT" ]; then
			log "other load generators still running (pids $others): going on; figures will be noisy"
			echo "$(date +%H:%M:%S) foreign load generators running: $others" >>"$OUT/noise.txt"
			return 0
		fi
		[ "$t" = 0 ] && log "waiting for other load generators to finish (pids $others)"
		sleep 2
		t=$((t + 2))
	done
}

# ---- scenarios --------------------------------------------------------------

declare -A DESC=(
	[1k-50]="1 KiB file, keep-alive, 50 connections"
	[1k-256]="1 KiB file, keep-alive, 256 connections"
	[1k-50-p99]="1 KiB file, 50 connections: wrk's 99th percentile latency"
	[1k-256-p99]="1 KiB file, 256 connections: wrk's 99th percentile latency"
	[100k]="100 KiB file, keep-alive, 50 connections"
	[10m]="10 MiB file, keep-alive, 10 connections"
	[404]="missing file (404), keep-alive, 50 connections"
	[h2]="HTTP/2 over TLS, 1 KiB file, h2load $H2_CONNS connections x $H2_STREAMS streams"
	[idle]="RSS with $IDLE_CONNS idle keep-alive connections"
)

# applies: does scenario $1 apply to server $2
applies() {
	case $2 in
	gohello) [[ $1 == 1k-* || $1 == h2 || $1 == idle ]] ;;
	*) return 0 ;;
	esac
}

record() { # scenario server round value unit
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${DESC[$1]}" >>"$RESULTS"
}

# wrk_run scenario server round conns path want_status
wrk_run() {
	local sc=$1 s=$2 round=$3 c=$4 path=$5 raw=$OUT/raw/$1-$2-$3.txt
	if ! taskset -c "$LOAD_CPU" timeout $((DURATION + 30)) \
		wrk -t1 -c"$c" -d"${DURATION}s" --latency "http://127.0.0.1:${PORT[$s]}$path" >"$raw" 2>&1; then
		record "$sc" "$s" "$round" - req/s
		return
	fi
	local rps bad mibs
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$raw")
	bad=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$raw")
	if [ "$sc" = 10m ]; then
		mibs=$(awk '/^Transfer\/sec:/ {
			v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[A-Za-z]+$/, "", v)
			f = (u == "GB") ? 1024 : (u == "MB") ? 1 : (u == "KB") ? 1/1024 : 1/1048576
			printf "%.1f", v * f }' "$raw")
		record "$sc" "$s" "$round" "${mibs:--}" MiB/s
		return
	fi
	if [ "$sc" != 404 ] && [ -n "$bad" ]; then
		log "$sc $s: $bad responses were not 2xx/3xx"
		rps=-
	fi
	record "$sc" "$s" "$round" "${rps:--}" req/s
	if [[ $sc == 1k-* ]]; then
		local p99
		p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$raw")")
		[ "$rps" = - ] && p99=-
		record "$sc-p99" "$s" "$round" "${p99:--}" ms
	fi
}

h2_run() { # server round
	local s=$1 round=$2 raw=$OUT/raw/h2-$1-$2.txt
	if ! taskset -c "$LOAD_CPU" timeout $((DURATION + 30)) \
		h2load -t1 -c"$H2_CONNS" -m"$H2_STREAMS" -D "$DURATION" --warm-up-time=1 \
		"https://127.0.0.1:${TLSPORT[$s]}/1k.html" >"$raw" 2>&1; then
		record h2 "$s" "$round" - req/s
		return
	fi
	local rps failed proto
	rps=$(awk '/^finished in/ {print $4}' "$raw")
	failed=$(awk '/^requests:/ {print $10}' "$raw")
	proto=$(awk '/Application protocol:/ {print $3}' "$raw")
	if [ "$proto" != h2 ] || [ "${failed:-1}" != 0 ]; then
		log "h2 $s: protocol ${proto:-none}, ${failed:-?} failed"
		rps=-
	fi
	record h2 "$s" "$round" "${rps:--}" req/s
}

run_one() { # scenario server round
	case $1 in
	1k-50) wrk_run "$1" "$2" "$3" 50 /1k.html ;;
	1k-256) wrk_run "$1" "$2" "$3" 256 /1k.html ;;
	100k) wrk_run "$1" "$2" "$3" 50 /100k.html ;;
	10m) wrk_run "$1" "$2" "$3" 10 /10m.bin ;;
	404) wrk_run "$1" "$2" "$3" 50 /missing.html ;;
	h2) h2_run "$2" "$3" ;;
	esac
}

idle_run() { # server
	local s=$1 base after raw=$OUT/raw/idle-$1.txt
	quiet_wait
	start "$s" || { record idle "$s" 1 - MiB; return; }
	sleep 1
	base=$(rss_mib "${PID[$s]}")
	taskset -c "$LOAD_CPU" "$W/bin/idleconns" -addr "127.0.0.1:${PORT[$s]}" -n "$IDLE_CONNS" \
		-path /1k.html -hold 120s >"$raw" 2>&1 &
	LOADPID=$!
	for _ in $(seq 600); do
		grep -q '^open' "$raw" && break
		kill -0 "$LOADPID" 2>/dev/null || break
		sleep 0.1
	done
	if grep -q '^open' "$raw"; then
		sleep 2
		after=$(rss_mib "${PID[$s]}")
		record idle "$s" 1 "$after" MiB
		log "idle $s: ${base} MiB before, ${after} MiB with $IDLE_CONNS connections"
		echo "rss before: $base MiB, after: $after MiB" >>"$raw"
	else
		log "idle $s: could not open $IDLE_CONNS connections"
		record idle "$s" 1 - MiB
	fi
	kill -TERM "$LOADPID" 2>/dev/null || true
	wait "$LOADPID" 2>/dev/null || true
	LOADPID=
	stop "$s"
}

# ---- run --------------------------------------------------------------------

load_scenarios=()
for sc in $SCENARIOS; do [ "$sc" != idle ] && load_scenarios+=("$sc"); done
read -r -a servers <<<"$SERVERS"

{
	echo "date: $(date -Is)"
	echo "host: $(uname -srm), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
	echo "go: $(go version)"
	echo "httpd: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)$(git -C "$REPO" diff --quiet 2>/dev/null || echo ' + local changes')"
	echo "nginx: $(nginx -v 2>&1 | cut -d/ -f2)"
	echo "lighttpd: $(lighttpd -v 2>&1 | head -1 | cut -d' ' -f1 | cut -d/ -f2)"
	echo "caddy: $(caddy version 2>&1 | cut -d' ' -f1)"
	echo "apache: $(apache2 -v 2>&1 | head -1 | cut -d/ -f2 | cut -d' ' -f1)"
	echo "wrk: $(wrk -v 2>&1 | head -1 | cut -d' ' -f2), h2load: $(h2load --version 2>&1 | head -1 | cut -d' ' -f2)"
	echo "rounds: $ROUNDS, duration: ${DURATION}s, server CPU $SERVER_CPU, load CPU $LOAD_CPU"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/setup.txt"

if [ ${#load_scenarios[@]} -gt 0 ]; then
	started=()
	PROFILING=1 # the profile covers the throughput rounds only
	for s in "${servers[@]}"; do
		if start "$s"; then started+=("$s"); else log "skipping $s"; fi
	done
	# Warm up each server (and let httpd's cache fill) before round 1.
	sleep 2
	for s in "${started[@]}"; do
		taskset -c "$LOAD_CPU" timeout 20 wrk -t1 -c50 -d1s "http://127.0.0.1:${PORT[$s]}/1k.html" >/dev/null 2>&1 || true
	done
	n=${#started[@]}
	for round in $(seq "$ROUNDS"); do
		log "round $round of $ROUNDS (load average $(cut -d' ' -f1 /proc/loadavg))"
		echo "round $round: load average $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/setup.txt"
		for sc in "${load_scenarios[@]}"; do
			# Rotate the order each round so that no server always goes first.
			for k in $(seq 0 $((n - 1))); do
				s=${started[$(((k + round - 1) % n))]}
				applies "$sc" "$s" || continue
				quiet_wait
				run_one "$sc" "$s" "$round"
			done
		done
	done
	for s in "${started[@]}"; do stop "$s"; done
	PROFILING=0
fi

if [[ " $SCENARIOS " == *" idle "* ]]; then
	for s in "${servers[@]}"; do
		idle_run "$s"
	done
fi

# Gateways: bench/cgi/run.sh and bench/wsgi/run.sh, kept with those
# modules, run after the static scenarios with the same rounds and
# duration; their own reports are appended to ours.
for g in ${GATEWAYS-cgi wsgi}; do
	[ -f "bench/$g/run.sh" ] || continue
	quiet_wait
	log "running bench/$g/run.sh"
	case $g in
	cgi) args=("$ROUNDS" "$DURATION") ;;
	*) args=() ;;
	esac
	noinst=()
	[ "$INSTALL" = 0 ] && noinst=(NO_INSTALL=1)
	if ! env ROUNDS="$ROUNDS" DURATION="${DURATION}s" HTTPD="$W/bin/httpd" "${noinst[@]}" \
		timeout 1800 bash "bench/$g/run.sh" "${args[@]}" >"$OUT/$g.txt" 2>"$OUT/$g.log"; then
		log "bench/$g/run.sh failed (see $OUT/$g.log)"
	fi
done

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/setup.txt"
{
	echo "## Setup"
	echo
	sed 's/^/    /' "$OUT/setup.txt"
	echo
	if [ -s "$OUT/noise.txt" ]; then
		echo "Other benchmarks were running during some runs:"
		echo
		sed 's/^/    /' "$OUT/noise.txt"
		echo
	fi
	echo "## Results"
	echo
	"$W/bin/report" "$RESULTS"
	for g in cgi wsgi; do
		[ -s "$OUT/$g.txt" ] || continue
		echo "### $g (bench/$g/run.sh)"
		echo
		sed 's/^/    /' "$OUT/$g.txt"
		echo
	done
} >"$OUT/report.md"
if [ "$PROFILE" = 1 ] && [ -s "$OUT/httpd.cpu.pprof" ]; then
	go tool pprof -top -nodecount=40 "$W/bin/httpd" "$OUT/httpd.cpu.pprof" >"$OUT/httpd.pprof.txt" 2>/dev/null || true
	cp "$W/bin/httpd" "$OUT/httpd.bin"
fi
cat "$OUT/report.md"
log "results in $OUT"
