#!/usr/bin/env bash
# bench/run.sh: httpd side by side with h2o, nginx, lighttpd, Caddy, Apache
# and bare net/http on loopback. See bench/README.md.
#
# Every server runs pinned to SERVER_CPU, the load generator to LOAD_CPU
# (with MULTICORE=1, a second pass shares both CPUs between them).
# Every scenario runs against every server in turn, ROUNDS times, and the
# medians and ratios httpd/peer go to $OUT/report.md.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3}            # seconds per measured run
SERVERS=${SERVERS:-"httpd httpd-nethttp h2o nginx lighttpd caddy apache gofs gohello"}
SCENARIOS=${SCENARIOS:-"1k-50 1k-256 100k 10m 404 h2 h2c https-1k tls-new-13 tls-new-12 tls-resume-13 tls-resume-12 idle idle-tls"}
IDLE_CONNS=${IDLE_CONNS:-5000}
H2_CONNS=${H2_CONNS:-10}
H2_STREAMS=${H2_STREAMS:-100}
TLS_CONNS=${TLS_CONNS:-50}         # concurrent clients of the tls-new/tls-resume scenarios
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
MULTICORE=${MULTICORE:-0}          # 1: also 1k-50 and https-1k with server and load on MULTICORE_CPUS
MULTICORE_CPUS=${MULTICORE_CPUS:-0,1}
MULTICORE_SCENARIOS=${MULTICORE_SCENARIOS:-"1k-50 https-1k"}
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
for pair in h2o:h2o nginx:nginx lighttpd:lighttpd caddy:caddy apache2:apache2 wrk:wrk h2load:nghttp2-client taskset:util-linux openssl:openssl curl:curl; do
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
go build -o "$W/bin/tlsconns" ./bench/tlsconns
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

# One certificate for every server and every TLS scenario: ECDSA P-256,
# self-signed, so each handshake costs every server the same signature.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	-keyout "$W/key.pem" -out "$W/cert.pem" >/dev/null 2>&1
chmod 644 "$W/key.pem" "$W/cert.pem"
CERT_KEY=$(openssl x509 -in "$W/cert.pem" -noout -text | awk '/Public Key Algorithm:/ {a = $NF} /ASN1 OID:/ {c = $NF} END {print a, c}')
if [ "$CERT_KEY" != "id-ecPublicKey prime256v1" ]; then
	log "the certificate is not ECDSA P-256: $CERT_KEY"
	exit 1
fi

# ---- per-server configs -----------------------------------------------------

# Each server listens on three ports: HTTP/1.1, TLS (HTTP/1.1 and h2 by
# ALPN) and h2c (HTTP/2 with prior knowledge, where the server has it).
declare -A PORT=() TLSPORT=() H2CPORT=()
i=0
for s in $SERVERS; do
	PORT[$s]=$((PORT_BASE + 10 * i))
	TLSPORT[$s]=$((PORT_BASE + 10 * i + 1))
	H2CPORT[$s]=$((PORT_BASE + 10 * i + 2))
	i=$((i + 1))
done

# WORKERS is the number of worker processes or threads each server gets,
# SRV_CPUS the CPUs it is pinned to, LOADCPUS the load generator's; the
# multi-core pass changes all three.
WORKERS=1
SRV_CPUS=$SERVER_CPU
LOADCPUS=$LOAD_CPU

start() { # name; starts it pinned and waits until it answers
	local name=$1 d=$W/$1
	mkdir -p "$d"
	chmod 755 "$d"
	local p=${PORT[$name]} t=${TLSPORT[$name]} h=${H2CPORT[$name]}
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
			  default       = true # wrk sends the IP address as SNI
			  document_root = "$DOCS"
			  tls {
			    cert = "$W/cert.pem"
			    key  = "$W/key.pem"
			  }
			}
			vhost "h2c.localhost" {
			  listen        = ["127.0.0.1:$h"]
			  default       = true
			  document_root = "$DOCS"
			  h2c           = true
			}
		EOF
		cmd=(env GOMAXPROCS="$WORKERS" "$W/bin/httpd" -f "$d/httpd.hcl")
		if [ "$PROFILE" = 1 ] && [ "${PROFILING:-0}" = 1 ]; then
			cmd=(env GOMAXPROCS="$WORKERS" HTTPD_CPUPROFILE="$OUT/$name.cpu.pprof" "$W/bin/httpd" -f "$d/httpd.hcl")
		fi
		;;
	h2o)
		# h2o 2.2 has no sendfile (it reads files itself); h2c with prior
		# knowledge is always on. Without an access-log directive there
		# is no access log. Session tickets and the session cache are on
		# by default.
		cat >"$d/h2o.conf" <<-EOF
			num-threads: $WORKERS
			max-connections: 16384
			user: www-data
			pid-file: $d/h2o.pid
			error-log: $d/error.log
			http1-request-timeout: 300
			http2-idle-timeout: 300
			listen:
			  host: 127.0.0.1
			  port: $p
			listen:
			  host: 127.0.0.1
			  port: $h
			listen:
			  host: 127.0.0.1
			  port: $t
			  ssl:
			    certificate-file: $W/cert.pem
			    key-file: $W/key.pem
			    minimum-version: TLSv1.2
			    ocsp-update-interval: 0
			hosts:
			  default:
			    paths:
			      /:
			        file.dir: $DOCS
		EOF
		chown www-data "$d"
		cmd=(h2o -c "$d/h2o.conf")
		;;
	nginx)
		# nginx 1.22: "listen ... http2" without ssl is h2c only, hence a
		# port of its own.
		cat >"$d/nginx.conf" <<-EOF
			daemon off;
			master_process on;
			worker_processes $WORKERS;
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
			  server { listen 127.0.0.1:$h http2; root $DOCS; }
			  server {
			    listen 127.0.0.1:$t ssl http2;
			    ssl_certificate $W/cert.pem;
			    ssl_certificate_key $W/key.pem;
			    ssl_protocols TLSv1.2 TLSv1.3;
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
			\$SERVER["socket"] == "127.0.0.1:$h" { }
			\$SERVER["socket"] == "127.0.0.1:$t" {
			  ssl.engine = "enable"
			  ssl.pemfile = "$W/cert.pem"
			  ssl.privkey = "$W/key.pem"
			}
		EOF
		# Several workers only in the multi-core pass: max-worker 1 would
		# still fork one.
		[ "$WORKERS" -gt 1 ] && echo "server.max-worker = $WORKERS" >>"$d/lighttpd.conf"
		chown www-data "$d" # it opens its error log as www-data
		cmd=(lighttpd -D -f "$d/lighttpd.conf")
		;;
	caddy)
		cat >"$d/Caddyfile" <<-EOF
			{
			  admin off
			  auto_https off
			  default_sni 127.0.0.1
			  default_bind 127.0.0.1
			  storage file_system {
			    root $d/data
			  }
			  servers 127.0.0.1:$h {
			    protocols h1 h2c
			  }
			}
			http://127.0.0.1:$p {
			  root * $DOCS
			  file_server
			}
			http://127.0.0.1:$h {
			  root * $DOCS
			  file_server
			}
			https://127.0.0.1:$t {
			  tls $W/cert.pem $W/key.pem
			  root * $DOCS
			  file_server
			}
		EOF
		cmd=(env GOMAXPROCS="$WORKERS" HOME="$d" XDG_DATA_HOME="$d/data" XDG_CONFIG_HOME="$d/config" caddy run --adapter caddyfile --config "$d/Caddyfile")
		;;
	apache)
		local m=/usr/lib/apache2/modules
		cat >"$d/apache.conf" <<-EOF
			ServerName 127.0.0.1
			Listen 127.0.0.1:$p
			Listen 127.0.0.1:$t
			Listen 127.0.0.1:$h
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
			StartServers $WORKERS
			ServerLimit $WORKERS
			ThreadLimit 64
			ThreadsPerChild 64
			MaxRequestWorkers $((64 * WORKERS))
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
			<VirtualHost 127.0.0.1:$h>
			  Protocols h2c http/1.1
			</VirtualHost>
		EOF
		cmd=(apache2 -D FOREGROUND -f "$d/apache.conf")
		;;
	gofs)
		cmd=(env GOMAXPROCS="$WORKERS" "$W/bin/gobare" -addr "127.0.0.1:$p" -tls-addr "127.0.0.1:$t" -cert "$W/cert.pem" -key "$W/key.pem" -root "$DOCS")
		;;
	gohello)
		cmd=(env GOMAXPROCS="$WORKERS" "$W/bin/gobare" -hello -addr "127.0.0.1:$p" -tls-addr "127.0.0.1:$t" -cert "$W/cert.pem" -key "$W/key.pem")
		;;
	goraw)
		cmd=(env GOMAXPROCS="$WORKERS" "$W/bin/gobare" -raw -addr "127.0.0.1:$p" -tls-addr "127.0.0.1:$t" -cert "$W/cert.pem" -key "$W/key.pem")
		;;
	*)
		log "unknown server $name"
		return 1
		;;
	esac
	taskset -c "$SRV_CPUS" "${cmd[@]}" >"$d/stdout.log" 2>"$d/stderr.log" &
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
		others=$({ pgrep -x wrk; pgrep -x h2load; pgrep -x tlsconns; } | grep -vxF "${LOADPID:-0}" | tr '\n' ' ' || true)
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
	[h2c]="HTTP/2 cleartext (prior knowledge), 1 KiB file, h2load $H2_CONNS connections x $H2_STREAMS streams"
	[https-1k]="HTTPS/1.1 (TLS 1.3), 1 KiB file, keep-alive, 50 connections"
	[tls-new-13]="new TLS 1.3 connection per request, full handshake (ECDSA P-256, X25519), $TLS_CONNS clients"
	[tls-new-12]="new TLS 1.2 connection per request, full handshake (ECDSA P-256, X25519), $TLS_CONNS clients"
	[tls-resume-13]="new TLS 1.3 connection per request, resumed with a session ticket, $TLS_CONNS clients"
	[tls-resume-12]="new TLS 1.2 connection per request, resumed (ticket or session ID), $TLS_CONNS clients"
	[idle]="RSS with $IDLE_CONNS idle keep-alive connections"
	[idle-tls]="RSS with $IDLE_CONNS idle keep-alive TLS connections"
	[1k-50-2cpu]="1 KiB file, keep-alive, 50 connections; server and wrk -t2 share CPUs $MULTICORE_CPUS, 2 workers"
	[https-1k-2cpu]="HTTPS/1.1 (TLS 1.3), 1 KiB file, 50 connections; server and wrk -t2 share CPUs $MULTICORE_CPUS, 2 workers"
)

# applies: does scenario $1 apply to server $2
applies() {
	case $2 in
	gohello) [[ $1 == 1k-* || $1 == h2 || $1 == h2c || $1 == https-1k* || $1 == tls-* || $1 == idle* ]] ;;
	goraw) [[ $1 == 1k-* || $1 == https-1k* ]] ;;
	*) return 0 ;;
	esac
}

# no_h2c: servers without HTTP/2 cleartext; their h2c row says n/a.
no_h2c() { [[ $1 == gofs || $1 == gohello ]]; }

record() { # scenario server round value unit [note]
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${DESC[$1]}" "${6:-}" >>"$RESULTS"
}

HZ=$(getconf CLK_TCK)

# tree_ticks prints the CPU time (user + system, in clock ticks) of a
# process and its descendants. (Processes come and go while cat reads:
# its complaints are not errors.)
tree_ticks() {
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
		{
			n = split($0, a, ") "); split(a[n], f, " ")
			parent[$1] = f[2]; t[$1] = f[12] + f[13]
		}
		END {
			for (p in t) {
				q = p
				while (q != "" && q != root && q != 0 && q != 1) q = parent[q]
				if (q == root) sum += t[p]
			}
			print sum + 0
		}'
}

# wrk_run scenario server round conns url
wrk_run() {
	local sc=$1 s=$2 round=$3 c=$4 url=$5 raw=$OUT/raw/$1-$2-$3.txt
	if ! taskset -c "$LOADCPUS" timeout $((DURATION + 30)) \
		wrk -t"$WORKERS" -c"$c" -d"${DURATION}s" --latency "$url" >"$raw" 2>&1; then
		record "$sc" "$s" "$round" - req/s
		return
	fi
	local rps bad mibs errs
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$raw")
	bad=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$raw")
	errs=$(awk '/Socket errors:/ {print $0}' "$raw")
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
	[ -n "$errs" ] && log "$sc $s: wrk:$errs"
	record "$sc" "$s" "$round" "${rps:--}" req/s
	if [ "$sc" = 1k-50 ] || [ "$sc" = 1k-256 ]; then
		local p99
		p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$raw")")
		[ "$rps" = - ] && p99=-
		record "$sc-p99" "$s" "$round" "${p99:--}" ms
	fi
}

# h2load_run scenario server round url want_protocol
h2load_run() {
	local sc=$1 s=$2 round=$3 url=$4 want=$5 raw=$OUT/raw/$1-$2-$3.txt
	if ! taskset -c "$LOADCPUS" timeout $((DURATION + 30)) \
		h2load -t1 -c"$H2_CONNS" -m"$H2_STREAMS" -D "$DURATION" --warm-up-time=1 "$url" >"$raw" 2>&1; then
		record "$sc" "$s" "$round" - req/s
		return
	fi
	local rps failed done proto
	rps=$(awk '/^finished in/ {print $4}' "$raw")
	failed=$(awk '/^requests:/ {print $10}' "$raw")
	done=$(awk '/^requests:/ {print $8}' "$raw")
	proto=$(awk '/Application protocol:/ {print $3}' "$raw")
	if [ "$proto" != "$want" ] || [ "${failed:-1}" != 0 ] || [ "${done:-0}" = 0 ]; then
		log "$sc $s: protocol ${proto:-none}, ${done:-0} done, ${failed:-?} failed"
		record "$sc" "$s" "$round" - req/s "!protocol ${proto:-none}, ${done:-0} done, ${failed:-?} failed"
		return
	fi
	record "$sc" "$s" "$round" "${rps:--}" req/s
}

# tls_run runs bench/tlsconns: one new TLS connection per request, full
# handshakes (tls-new-*) or resumed ones (tls-resume-*). Every connection
# is checked: a full handshake in a resume run or a resumed one in a new
# run counts against the run, and a run where the server resumed fewer
# than all but the first connection of each client (and 1% slack) is
# failed, with the share it did resume as the note. It also notes when
# the client, not the server, was the bottleneck: the client busy, the
# server not.
tls_run() { # scenario server round
	local sc=$1 s=$2 round=$3 raw=$OUT/raw/$1-$2-$3.txt v=1.3 resume=()
	[[ $sc == *-12 ]] && v=1.2
	[[ $sc == tls-resume-* ]] && resume=(-resume)
	local t0 t1 w0 w1
	t0=$(tree_ticks "${PID[$s]}")
	w0=$(date +%s.%N)
	if ! taskset -c "$LOADCPUS" timeout $((DURATION + 30)) "$W/bin/tlsconns" -addr "127.0.0.1:${TLSPORT[$s]}" \
		-tls "$v" -c "$TLS_CONNS" -d "${DURATION}s" "${resume[@]}" >"$raw" 2>&1; then
		log "$sc $s: $(tail -n1 "$raw")"
		record "$sc" "$s" "$round" - conn/s "!no connection made"
		return
	fi
	t1=$(tree_ticks "${PID[$s]}")
	w1=$(date +%s.%N)
	local conns rate resumed errors ccpu scpu
	read -r conns rate resumed errors ccpu < <(awk '/^conns=/ {
		for (i = 1; i <= NF; i++) { split($i, kv, "="); m[kv[1]] = kv[2] }
		print m["conns"], m["rate"], m["resumed"], m["errors"], m["cpu"] }' "$raw")
	scpu=$(awk -v d="$((t1 - t0))" -v hz="$HZ" -v w0="$w0" -v w1="$w1" 'BEGIN { printf "%.0f", 100 * d / hz / (w1 - w0) }')
	ccpu=$(awk -v c="$ccpu" 'BEGIN { printf "%.0f", 100 * c }')
	echo "server CPU: ${scpu}%, client CPU: ${ccpu}%" >>"$raw"
	local value=$rate notes=() share
	share=$(awk -v r="$resumed" -v n="$conns" 'BEGIN { printf "%.1f", 100 * r / n }')
	if [ ${#resume[@]} -gt 0 ]; then
		if [ $((conns - resumed)) -gt $((TLS_CONNS + conns / 100)) ]; then
			log "$sc $s: NOT RESUMED: $resumed of $conns connections resumed ($share%)"
			notes+=("!NOT RESUMED: $share% resumed")
			value=-
		else
			notes+=("resumed $share%")
		fi
	elif [ "$resumed" != 0 ]; then
		log "$sc $s: $resumed of $conns connections resumed: not full handshakes"
		notes+=("!$share% resumed: not full handshakes")
		value=-
	fi
	if [ "$errors" != 0 ]; then
		log "$sc $s: $errors connections failed ($(grep 'first error' "$raw" | cut -d: -f3-))"
		notes+=("!$errors errors")
		[ "$errors" -gt $((conns / 100)) ] && value=-
	fi
	if [ "$WORKERS" = 1 ] && [ "$ccpu" -ge 90 ] && [ "$scpu" -lt 90 ]; then
		notes+=("!client-bound")
	fi
	local IFS=';'
	record "$sc" "$s" "$round" "$value" conn/s "${notes[*]}"
}

run_one() { # scenario server round
	local p=${PORT[$2]} t=${TLSPORT[$2]}
	case ${1%-2cpu} in
	1k-50) wrk_run "$1" "$2" "$3" 50 "http://127.0.0.1:$p/1k.html" ;;
	1k-256) wrk_run "$1" "$2" "$3" 256 "http://127.0.0.1:$p/1k.html" ;;
	100k) wrk_run "$1" "$2" "$3" 50 "http://127.0.0.1:$p/100k.html" ;;
	10m) wrk_run "$1" "$2" "$3" 10 "http://127.0.0.1:$p/10m.bin" ;;
	404) wrk_run "$1" "$2" "$3" 50 "http://127.0.0.1:$p/missing.html" ;;
	https-1k) wrk_run "$1" "$2" "$3" 50 "https://127.0.0.1:$t/1k.html" ;;
	h2) h2load_run "$1" "$2" "$3" "https://127.0.0.1:$t/1k.html" h2 ;;
	h2c)
		if no_h2c "$2"; then
			record "$1" "$2" "$3" n/a req/s "no h2c"
		else
			h2load_run "$1" "$2" "$3" "http://127.0.0.1:${H2CPORT[$2]}/1k.html" h2c
		fi
		;;
	tls-*) tls_run "$1" "$2" "$3" ;;
	*) log "unknown scenario $1" ;;
	esac
}

# idle_run starts the server afresh, opens IDLE_CONNS connections (plain
# for idle, TLS for idle-tls), one request each, and records the RSS of
# the server's process tree.
idle_run() { # scenario server
	local sc=$1 s=$2 base after raw=$OUT/raw/$1-$2.txt
	local -a args=(-addr "127.0.0.1:${PORT[$s]}")
	[ "$sc" = idle-tls ] && args=(-tls -host 127.0.0.1 -addr "127.0.0.1:${TLSPORT[$s]}")
	quiet_wait
	start "$s" || { record "$sc" "$s" 1 - MiB; return; }
	sleep 1
	base=$(rss_mib "${PID[$s]}")
	taskset -c "$LOAD_CPU" "$W/bin/idleconns" "${args[@]}" -n "$IDLE_CONNS" \
		-path /1k.html -hold 120s >"$raw" 2>&1 &
	LOADPID=$!
	for _ in $(seq 1200); do
		grep -q '^open' "$raw" && break
		kill -0 "$LOADPID" 2>/dev/null || break
		sleep 0.1
	done
	if grep -q '^open' "$raw"; then
		sleep 2
		after=$(rss_mib "${PID[$s]}")
		record "$sc" "$s" 1 "$after" MiB
		log "$sc $s: ${base} MiB before, ${after} MiB with $IDLE_CONNS connections"
		echo "rss before: $base MiB, after: $after MiB" >>"$raw"
	else
		log "$sc $s: could not open $IDLE_CONNS connections: $(tail -n1 "$raw")"
		record "$sc" "$s" 1 - MiB
	fi
	kill -TERM "$LOADPID" 2>/dev/null || true
	wait "$LOADPID" 2>/dev/null || true
	LOADPID=
	stop "$s"
}

# throughput_pass starts every server, warms it up, runs the scenarios
# given ROUNDS times, rotating the order of the servers from round to
# round so slow drift on the machine hits every server alike, and stops
# them.
throughput_pass() { # scenario...
	local -a started=() scs=("$@")
	local s n round sc k
	PROFILING=1 # the profile covers the first pass only
	for s in "${servers[@]}"; do
		if start "$s"; then started+=("$s"); else log "skipping $s"; fi
	done
	# Warm up each server (and let httpd's cache fill) before round 1.
	sleep 2
	for s in "${started[@]}"; do
		taskset -c "$LOADCPUS" timeout 20 wrk -t1 -c50 -d1s "http://127.0.0.1:${PORT[$s]}/1k.html" >/dev/null 2>&1 || true
	done
	n=${#started[@]}
	for round in $(seq "$ROUNDS"); do
		log "round $round of $ROUNDS (load average $(cut -d' ' -f1 /proc/loadavg))"
		echo "round $round ($WORKERS worker(s)): load average $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/setup.txt"
		for sc in "${scs[@]}"; do
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
}

# ---- run --------------------------------------------------------------------

load_scenarios=()
idle_scenarios=()
for sc in $SCENARIOS; do
	case $sc in
	idle | idle-tls) idle_scenarios+=("$sc") ;;
	*) load_scenarios+=("$sc") ;;
	esac
done
read -r -a servers <<<"$SERVERS"

{
	echo "date: $(date -Is)"
	echo "host: $(uname -srm), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
	echo "go: $(go version)"
	echo "httpd: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)$(git -C "$REPO" diff --quiet 2>/dev/null || echo ' + local changes')"
	echo "h2o: $(h2o --version 2>&1 | head -1 | cut -d' ' -f3)"
	echo "nginx: $(nginx -v 2>&1 | cut -d/ -f2)"
	echo "lighttpd: $(lighttpd -v 2>&1 | head -1 | cut -d' ' -f1 | cut -d/ -f2)"
	echo "caddy: $(caddy version 2>&1 | cut -d' ' -f1)"
	echo "apache: $(apache2 -v 2>&1 | head -1 | cut -d/ -f2 | cut -d' ' -f1)"
	echo "openssl: $(openssl version | cut -d' ' -f2)"
	echo "wrk: $(wrk -v 2>&1 | head -1 | cut -d' ' -f2), h2load: $(h2load --version 2>&1 | head -1 | cut -d' ' -f2)"
	echo "certificate: $CERT_KEY (ECDSA P-256), the same for every server"
	echo "rounds: $ROUNDS, duration: ${DURATION}s, server CPU $SERVER_CPU, load CPU $LOAD_CPU"
	[ "$MULTICORE" = 1 ] && echo "multi-core pass: ${MULTICORE_SCENARIOS// /, } with server and load on CPUs $MULTICORE_CPUS, 2 workers"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/setup.txt"

if [ ${#load_scenarios[@]} -gt 0 ]; then
	throughput_pass "${load_scenarios[@]}"
fi

# The multi-core pass: the same servers with two workers (threads,
# processes, GOMAXPROCS) each, not pinned apart from the load generator,
# which runs two threads on the same CPUs.
if [ "$MULTICORE" = 1 ]; then
	mc=()
	for sc in $MULTICORE_SCENARIOS; do mc+=("$sc-2cpu"); done
	log "multi-core pass: ${mc[*]} on CPUs $MULTICORE_CPUS"
	WORKERS=2 SRV_CPUS=$MULTICORE_CPUS LOADCPUS=$MULTICORE_CPUS
	throughput_pass "${mc[@]}"
	WORKERS=1 SRV_CPUS=$SERVER_CPU LOADCPUS=$LOAD_CPU
fi

for sc in "${idle_scenarios[@]}"; do
	for s in "${servers[@]}"; do
		applies "$sc" "$s" && idle_run "$sc" "$s"
	done
done

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
