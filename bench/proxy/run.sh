#!/usr/bin/env bash
# bench/proxy/run.sh: httpd's reverse_proxy and fastcgi gateways against
# nginx (proxy_pass with an upstream keepalive pool, fastcgi_pass), Caddy
# (reverse_proxy, php_fastcgi) and Apache (mod_proxy_http, mod_proxy_fcgi).
#
# Scenarios:
#   proxy-1k   wrk -c50 → proxy → a Go upstream answering 1 KiB from memory
#              (bench/gobare -hello), upstream keep-alive on everywhere.
#   php-hello  wrk -c50 → server → PHP-FPM running <?php echo "Hello";
#   php-app    the same with a page that starts a session, reads a form
#              field and renders a 40-row table (a typical PHP page).
#   ws-echo    WebSocket messages/s through the proxy to a Go echo server
#              (bench/wsecho: 50 connections, each sending a message and
#              waiting for its echo).
# Every front server is pinned to CPU 0 with one worker; the upstreams
# (the Go server, PHP-FPM with pm = static and the same children for
# every front server) and the load generator share CPU 1. Rounds alternate
# between the servers; the report gives medians, p99 and ratios
# httpd/peer.
#
# Usage: bench/proxy/run.sh         (from anywhere, as root)
# Environment: DURATION (5s), ROUNDS (3), CONNECTIONS (50), SCENARIOS
#   ("proxy-1k php-hello php-app ws-echo"), SERVERS ("httpd nginx caddy
#   apache"), FPM_CHILDREN (4), HTTPD (a prebuilt binary), NO_INSTALL=1,
#   HTTPD_B (a second httpd binary, served as the server "base" with the
#   same config, to compare two builds in one run: add base to SERVERS).
#   The servers "gofloor" and "phpfloor" (not in the default list) are
#   bench/gobare -raw -proxy-to and -fcgi-to: the floors of a Go proxy and
#   of a Go FastCGI gateway, a goroutine per connection and nothing but the
#   system calls; they run proxy-1k and php-hello only.
set -euo pipefail

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-50}
SCENARIOS=${SCENARIOS:-"proxy-1k php-hello php-app ws-echo"}
SERVERS=${SERVERS:-"httpd nginx caddy apache"}
FPM_CHILDREN=${FPM_CHILDREN:-4}
SERVER_CPU=0
CLIENT_CPU=1

repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib.sh
. "$repo/bench/lib.sh"
work=$(mktemp -d /tmp/proxy-bench.XXXXXX)
chmod 755 "$work"
declare -A PIDS=()

stop_pid() { # name
	local name=$1 pid=${PIDS[$1]:-}
	[[ -z $pid ]] && return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "PIDS[$name]"
}
cleanup() {
	for name in "${!PIDS[@]}"; do stop_pid "$name"; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z ${NO_INSTALL:-} ]]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		nginx caddy apache2 php8.2-fpm wrk curl >/dev/null
fi
export PATH=$PATH:/usr/sbin

httpd=${HTTPD:-}
if [[ -z $httpd ]]; then
	httpd=$work/bin-httpd
	(cd "$repo" && go build -o "$httpd" ./cmd/httpd)
fi
(cd "$repo" && go build -o "$work/gobare" ./bench/gobare && go build -o "$work/wsecho" ./bench/wsecho)

# ---- upstreams: a Go server, a WebSocket echo server, PHP-FPM -----------------

UP=18300 WSUP=18301
taskset -c $CLIENT_CPU "$work/gobare" -hello -addr "127.0.0.1:$UP" >"$work/gobare.log" 2>&1 &
PIDS[gobare]=$!
taskset -c $CLIENT_CPU "$work/wsecho" -serve "127.0.0.1:$WSUP" >"$work/wsecho.log" 2>&1 &
PIDS[wsecho]=$!

php=$work/php
mkdir -p "$php"
cat >"$php/hello.php" <<'EOF'
<?php echo "Hello, World!";
EOF
cat >"$php/app.php" <<'EOF'
<?php
session_start();
$_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
$name = htmlspecialchars($_GET['name'] ?? 'world', ENT_QUOTES);
header('Content-Type: text/html; charset=utf-8');
?><!doctype html>
<html><head><title>Hello <?= $name ?></title></head><body>
<h1>Hello, <?= $name ?></h1><p>Visit <?= $_SESSION['n'] ?></p>
<table>
<?php for ($i = 1; $i <= 40; $i++): ?>
<tr><td><?= $i ?></td><td><?= md5((string)$i) ?></td><td><?= number_format($i * 1234.5, 2) ?></td></tr>
<?php endfor; ?>
</table></body></html>
EOF
chmod -R a+rX "$php"
mkdir -p "$work/fpm/sessions"
chown www-data "$work/fpm/sessions"
# One pool per front server, all alike: a server that keeps its FastCGI
# connections open (nginx with fastcgi_keep_conn, httpd) would otherwise
# hold every child of a shared static pool and starve the others.
cat >"$work/fpm/php-fpm.conf" <<EOF
[global]
pid = $work/fpm/php-fpm.pid
error_log = $work/fpm/error.log
daemonize = no
EOF
for s in $SERVERS; do
	cat >>"$work/fpm/php-fpm.conf" <<EOF
[$s]
user = www-data
group = www-data
listen = $work/fpm/$s.sock
listen.owner = www-data
listen.group = www-data
listen.mode = 0666
pm = static
pm.max_children = $FPM_CHILDREN
php_admin_value[session.save_path] = $work/fpm/sessions
EOF
done
taskset -c $CLIENT_CPU php-fpm8.2 -F -y "$work/fpm/php-fpm.conf" >"$work/fpm/out.log" 2>&1 &
PIDS[php-fpm]=$!
last=${SERVERS##* }
for _ in $(seq 1 100); do [[ -S $work/fpm/$last.sock ]] && break; sleep 0.1; done
[[ -S $work/fpm/$last.sock ]] || { echo "run.sh: php-fpm did not start" >&2; cat "$work/fpm/"*.log >&2; exit 1; }

# ---- front servers ----------------------------------------------------------

declare -A PORT=([httpd]=18311 [nginx]=18312 [caddy]=18313 [apache]=18314 [base]=18315 [gofloor]=18316 [phpfloor]=18317)

start_server() { # name
	local name=$1 port=${PORT[$1]} d=$work/$1
	mkdir -p "$d"
	chmod 755 "$d"
	local -a cmd
	local sock=$work/fpm/$name.sock
	case $name in
	httpd | base)
		cat >"$d/httpd.hcl" <<-EOF
			server { listen = ["127.0.0.1:$port"] }
			log {
			  access = "off"
			  level  = "warn"
			}
			vhost "localhost" {
			  document_root = "$php"
			  reverse_proxy "/up/" {
			    to           = ["http://127.0.0.1:$UP"]
			    strip_prefix = true
			  }
			  reverse_proxy "/ws/" {
			    to = ["http://127.0.0.1:$WSUP"]
			  }
			  fastcgi "/" {
			    to = "unix:$sock"
			  }
			}
		EOF
		local bin=$httpd
		if [[ $name == base ]]; then
			bin=${HTTPD_B:?"run.sh: the server base needs HTTPD_B, a second httpd binary"}
		fi
		cmd=(env GOMAXPROCS=1 "$bin" -f "$d/httpd.hcl")
		;;
	nginx)
		cat >"$d/nginx.conf" <<-EOF
			daemon off;
			worker_processes 1;
			pid $d/nginx.pid;
			error_log $d/error.log warn;
			events { worker_connections 4096; }
			http {
			  access_log off;
			  keepalive_requests 10000000;
			  client_body_temp_path $d/body;
			  proxy_temp_path $d/proxy;
			  fastcgi_temp_path $d/fastcgi;
			  uwsgi_temp_path $d/uwsgi;
			  scgi_temp_path $d/scgi;
			  upstream up { server 127.0.0.1:$UP; keepalive 64; }
			  upstream ws { server 127.0.0.1:$WSUP; }
			  upstream fpm { server unix:$sock; keepalive 8; }
			  server {
			    listen 127.0.0.1:$port;
			    root $php;
			    location /up/ {
			      proxy_pass http://up/;
			      proxy_http_version 1.1;
			      proxy_set_header Connection "";
			    }
			    location /ws/ {
			      proxy_pass http://ws;
			      proxy_http_version 1.1;
			      proxy_set_header Upgrade \$http_upgrade;
			      proxy_set_header Connection "upgrade";
			    }
			    location ~ \.php\$ {
			      include /etc/nginx/fastcgi_params;
			      fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
			      fastcgi_keep_conn on;
			      fastcgi_pass fpm;
			    }
			  }
			}
		EOF
		cmd=(nginx -c "$d/nginx.conf" -e "$d/error.log")
		;;
	caddy)
		cat >"$d/Caddyfile" <<-EOF
			{
			  admin off
			  auto_https off
			  storage file_system {
			    root $d/data
			  }
			}
			http://127.0.0.1:$port {
			  root * $php
			  handle_path /up/* {
			    reverse_proxy 127.0.0.1:$UP
			  }
			  handle /ws/* {
			    reverse_proxy 127.0.0.1:$WSUP
			  }
			  handle {
			    php_fastcgi unix/$sock
			    file_server
			  }
			}
		EOF
		cmd=(env GOMAXPROCS=1 HOME="$d" XDG_DATA_HOME="$d/data" XDG_CONFIG_HOME="$d/config" caddy run --adapter caddyfile --config "$d/Caddyfile")
		;;
	gofloor)
		cmd=(env GOMAXPROCS=1 "$work/gobare" -raw -proxy-to "127.0.0.1:$UP" -addr "127.0.0.1:$port")
		;;
	phpfloor)
		cmd=(env GOMAXPROCS=1 "$work/gobare" -raw -fcgi-to "unix:$sock" -fcgi-script "$php/hello.php"
			-fcgi-conns "$FPM_CHILDREN" -addr "127.0.0.1:$port")
		;;
	apache)
		local m=/usr/lib/apache2/modules
		cat >"$d/apache.conf" <<-EOF
			ServerName 127.0.0.1
			Listen 127.0.0.1:$port
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
			TypesConfig /etc/mime.types
			LoadModule proxy_module $m/mod_proxy.so
			LoadModule proxy_http_module $m/mod_proxy_http.so
			LoadModule proxy_wstunnel_module $m/mod_proxy_wstunnel.so
			LoadModule proxy_fcgi_module $m/mod_proxy_fcgi.so
			DocumentRoot $php
			<Directory $php>
			  Require all granted
			</Directory>
			KeepAlive On
			MaxKeepAliveRequests 0
			StartServers 1
			ServerLimit 1
			ThreadsPerChild 64
			MaxRequestWorkers 64
			ProxyPass /up/ http://127.0.0.1:$UP/ keepalive=On
			ProxyPass /ws/ ws://127.0.0.1:$WSUP/ws/
			<FilesMatch \.php\$>
			  SetHandler "proxy:unix:$sock|fcgi://localhost"
			</FilesMatch>
		EOF
		cmd=(apache2 -D FOREGROUND -f "$d/apache.conf")
		;;
	esac
	taskset -c $SERVER_CPU "${cmd[@]}" >"$d/out.log" 2>&1 &
	PIDS[$name]=$!
	for _ in $(seq 1 150); do
		if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/up/")" = 200 ]; then
			return 0
		fi
		kill -0 "${PIDS[$name]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "run.sh: $name did not start; log:" >&2
	cat "$d/out.log" "$d/error.log" >&2 2>/dev/null || true
	return 1
}

# runs scenario server: whether the server takes part in the scenario.
runs() {
	case $2 in
	gofloor) [[ $1 == proxy-1k ]] ;;
	phpfloor) [[ $1 == php-hello ]] ;;
	esac
}

path_of() {
	case $1 in
	proxy-1k) echo /up/ ;;
	php-hello) echo /hello.php ;;
	php-app) echo "/app.php?name=bench" ;;
	esac
}


for s in $SERVERS; do start_server "$s"; done

declare -A RPS=() P99=()
for sc in $SCENARIOS; do
	for s in $SERVERS; do
		runs "$sc" "$s" || continue
		if [[ $sc != ws-echo ]]; then
			url="http://127.0.0.1:${PORT[$s]}$(path_of "$sc")"
			code=$(curl -s -o "$work/body" -w '%{http_code}' "$url")
			if [[ $code != 200 ]]; then
				echo "run.sh: $sc: $s answered $code: $(head -c 200 "$work/body")" >&2
				exit 1
			fi
			taskset -c $CLIENT_CPU wrk -t1 -c"$CONNECTIONS" -d1s "$url" >/dev/null
		fi
	done
	for round in $(seq 1 "$ROUNDS"); do
		for s in $SERVERS; do
			runs "$sc" "$s" || continue
			if [[ $sc == ws-echo ]]; then
				out=$(taskset -c $CLIENT_CPU "$work/wsecho" -url "ws://127.0.0.1:${PORT[$s]}/ws/echo" -c "$CONNECTIONS" -d "$DURATION")
				rps=$(awk '/^messages\/s/ {print $2}' <<<"$out")
				p99=$(awk '/^p99_ms/ {print $2}' <<<"$out")
			else
				url="http://127.0.0.1:${PORT[$s]}$(path_of "$sc")"
				out=$(taskset -c $CLIENT_CPU wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "$url")
				rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
				p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
				errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
				[[ -n $errors ]] && echo "  $sc $s round $round: $errors" >&2
			fi
			RPS[$sc,$s]+="${rps:-0} "
			P99[$sc,$s]+="${p99:-0} "
			printf '  %-10s %-7s round %d: %10s /s  p99 %8s ms\n' "$sc" "$s" "$round" "$rps" "$p99" >&2
		done
	done
done

echo
echo "connections=$CONNECTIONS duration=$DURATION rounds=$ROUNDS php-fpm children=$FPM_CHILDREN; front server on CPU $SERVER_CPU (1 worker), upstreams and load on CPU $CLIENT_CPU"
printf '%-10s %-7s %12s %10s %12s\n' scenario server "req/s" "p99 ms" "httpd/this"
for sc in $SCENARIOS; do
	h=$(median <<<"${RPS[$sc,httpd]}")
	for s in $SERVERS; do
		runs "$sc" "$s" || continue
		r=$(median <<<"${RPS[$sc,$s]}")
		p=$(median <<<"${P99[$sc,$s]}")
		printf '%-10s %-7s %12s %10s %12s\n' "$sc" "$s" "$r" "$p" "$(awk -v a="$h" -v b="$r" 'BEGIN {printf "%.2fx", b ? a/b : 0}')"
	done
done
