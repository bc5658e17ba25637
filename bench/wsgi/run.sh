#!/usr/bin/env bash
# bench/wsgi/run.sh: httpd's WSGI gateway against gunicorn (sync and
# gthread), uWSGI and Apache mod_wsgi (daemon mode), with the same number
# of processes and threads, on a hello-world app and a small Flask app.
#
# Every server is pinned to CPU 0 and the load generator to CPU 1. Rounds
# alternate between the servers. Two measures per round:
#  - max: wrk with CONNECTIONS keep-alive connections for DURATION: the
#    saturated req/s, its p99 (mostly queueing) and the requests in
#    flight (req/s times mean latency);
#  - fixed rate: bench/rate offers 50% and 80% of the max req/s of the
#    slower of httpd and uWSGI (from the first round) and gives the p99
#    counted from when each request was due: the latency yardstick.
# The report gives medians over the rounds, the spread (lowest-highest
# req/s) of the rounds, the RSS per worker, and the ratios httpd/peer.
#
# Each peer runs in its best configuration that serves every one of wrk's
# connections (measured on hello, 2 processes x 4 threads, 16 connections):
#  - uWSGI: --http-socket, each worker thread accepting and parsing HTTP
#    itself. It answers HTTP/1.0-style and closes the connection after
#    every response: wrk reports these as "read" socket errors (expected,
#    not failures) and reconnects. The reconnect is outside wrk's latency,
#    so fewer requests are in flight than the 16 the other servers see;
#    this favours uWSGI's p99. The alternatives are not fair or not
#    faster: with --http11-socket a thread keeps its keep-alive connection
#    until the client closes it, so 8 threads serve 8 of the 16
#    connections and the other 8 never get an answer (their requests sit
#    unread; wrk reports the served half only, 50k req/s); the --http
#    router with --http-keepalive (a separate router process, like httpd's
#    own front end) gives about half the req/s of --http-socket.
#  - gunicorn: the sync worker closes after every response (no keep-alive
#    by design); gthread keeps connections alive (its default keepalive).
#  - mod_wsgi: daemon mode behind mpm_event, KeepAlive On, unlimited
#    requests per connection.
#  - httpd: keep-alive, its defaults.
#
# Usage: bench/wsgi/run.sh            (from the repository root, as root)
# Environment: PROCESSES (2), THREADS (4), CONNECTIONS (16), DURATION (10s),
#   ROUNDS (3), APPS ("hello flaskapp"), SERVERS (all), HTTPD (a prebuilt
#   binary; default: go build ./cmd/httpd), NO_INSTALL=1 to skip apt-get,
#   NO_FIXED=1 to skip the fixed-rate runs.
set -euo pipefail

PROCESSES=${PROCESSES:-2}
THREADS=${THREADS:-4}
CONNECTIONS=${CONNECTIONS:-16}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
APPS=${APPS:-"hello flaskapp"}
SERVERS=${SERVERS:-"httpd gunicorn-sync gunicorn-gthread uwsgi mod_wsgi"}
PY=/usr/bin/python3
SERVER_CPU=0
CLIENT_CPU=1

repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib.sh
. "$repo/bench/lib.sh"
work=$(mktemp -d /tmp/wsgi-bench.XXXXXX)
chmod 755 "$work"
declare -A PIDS=()

cleanup() {
	for name in "${!PIDS[@]}"; do
		stop_server "$name"
	done
	rm -rf "$work"
}
trap cleanup EXIT

if [[ -z ${NO_INSTALL:-} ]]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		gunicorn uwsgi uwsgi-plugin-python3 apache2 libapache2-mod-wsgi-py3 wrk python3-flask >/dev/null
fi

httpd=${HTTPD:-}
if [[ -z $httpd ]]; then
	httpd=$work/httpd
	(cd "$repo" && go build -o "$httpd" ./cmd/httpd)
fi
if ! "$httpd" -l | grep wsgi_script_alias >/dev/null; then
	echo "run.sh: $httpd has no wsgi_script_alias module" >&2
	exit 1
fi

cat >"$work/hello.py" <<'EOF'
def application(environ, start_response):
    body = b'Hello, World!'
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]
EOF

cat >"$work/flaskapp.py" <<'EOF'
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.route('/')
def index():
    return jsonify(message='Hello, World!', path=request.path, args=request.args.to_dict())


application = app
EOF

port_of() {
	case $1 in
	httpd) echo 18101 ;;
	gunicorn-sync) echo 18102 ;;
	gunicorn-gthread) echo 18103 ;;
	uwsgi) echo 18104 ;;
	mod_wsgi) echo 18105 ;;
	esac
}

start_server() { # name app
	local name=$1 app=$2 port
	port=$(port_of "$name")
	local log=$work/$name.log
	case $name in
	httpd)
		cat >"$work/httpd.hcl" <<EOF
server { listen = ["127.0.0.1:$port"] }
log {
  access = "off"
  level  = "warn"
}
vhost "localhost" {
  default = true
  wsgi_script_alias "/" {
    script    = "$work/$app.py"
    python    = "$PY"
    processes = $PROCESSES
    threads   = $THREADS
  }
}
EOF
		taskset -c $SERVER_CPU "$httpd" -f "$work/httpd.hcl" >"$log" 2>&1 &
		;;
	gunicorn-sync)
		taskset -c $SERVER_CPU "$PY" -m gunicorn -k sync -w "$PROCESSES" -b "127.0.0.1:$port" \
			--chdir "$work" "$app:application" >"$log" 2>&1 &
		;;
	gunicorn-gthread)
		taskset -c $SERVER_CPU "$PY" -m gunicorn -k gthread -w "$PROCESSES" --threads "$THREADS" \
			-b "127.0.0.1:$port" --chdir "$work" "$app:application" >"$log" 2>&1 &
		;;
	uwsgi)
		taskset -c $SERVER_CPU uwsgi --plugin python3 --http-socket "127.0.0.1:$port" --master \
			--processes "$PROCESSES" --threads "$THREADS" --chdir "$work" --wsgi-file "$work/$app.py" \
			--callable application --disable-logging --die-on-term >"$log" 2>&1 &
		;;
	mod_wsgi)
		mkdir -p "$work/apache"
		cat >"$work/apache/apache.conf" <<EOF
ServerRoot "$work/apache"
ServerName localhost
Listen 127.0.0.1:$port
PidFile "$work/apache/apache.pid"
ErrorLog "$log"
LogLevel warn
Mutex file:$work/apache
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule wsgi_module /usr/lib/apache2/modules/mod_wsgi.so
User www-data
Group www-data
KeepAlive On
MaxKeepAliveRequests 0
WSGISocketPrefix $work/apache/wsgi
WSGIDaemonProcess bench processes=$PROCESSES threads=$THREADS display-name=wsgi-bd python-path=$work
WSGIProcessGroup bench
WSGIApplicationGroup %{GLOBAL}
WSGIScriptAlias / $work/$app.py
<Directory $work>
  Require all granted
</Directory>
EOF
		chown -R www-data "$work/apache"
		taskset -c $SERVER_CPU apache2 -f "$work/apache/apache.conf" -DFOREGROUND >>"$log" 2>&1 &
		;;
	esac
	PIDS[$name]=$!
	local url="http://127.0.0.1:$port/"
	for _ in $(seq 1 300); do
		if curl -fsS -o /dev/null "$url" 2>/dev/null; then
			# Warm every worker.
			taskset -c $CLIENT_CPU wrk -t1 -c"$CONNECTIONS" -d2s "$url" >/dev/null
			return 0
		fi
		sleep 0.1
	done
	echo "run.sh: $name did not start; log:" >&2
	cat "$log" >&2
	return 1
}

stop_server() {
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

# worker_rss NAME: mean RSS in KiB of the processes that run the Python app.
worker_rss() {
	local name=$1 pid=${PIDS[$1]} pids
	case $name in
	mod_wsgi) pids=$(ps -eo pid=,args= | awk '$2 ~ /^wsgi-bd/ {print $1}') ;;
	*) pids=$(pgrep -P "$pid" || true) ;;
	esac
	[[ -z $pids ]] && { echo 0; return; }
	ps -o rss= -p "$(echo $pids | tr ' ' ,)" | awk '{s+=$1; n++} END {printf "%d", (n ? s/n : 0)}'
}


declare -A RPS=() P99=() RSS=() FLIGHT=() F50=() F80=()
build_rate "$work"
for app in $APPS; do
	for s in $SERVERS; do
		start_server "$s" "$app"
	done
	for round in $(seq 1 "$ROUNDS"); do
		for s in $SERVERS; do
			out=$(taskset -c $CLIENT_CPU wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$(port_of "$s")/")
			rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
			p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
			# Requests in flight on average (Little's law): req/s times
			# the mean latency. A server that closes after each answer
			# has fewer than CONNECTIONS, as wrk reconnects outside its
			# clock, and its latencies are measured at that lower load.
			mean=$(to_ms "$(awk '$1 == "Latency" {print $2; exit}' <<<"$out")")
			flight=$(awk -v r="$rps" -v m="$mean" 'BEGIN {printf "%.1f", r * m / 1000}')
			errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
			if [[ $s == uwsgi ]]; then
				# read errors: uWSGI's --http-socket closes after each
				# response (see above).
				errors=$(grep -v 'Socket errors: connect 0, read [0-9]*, write 0, timeout 0$' <<<"$errors" || true)
			fi
			[[ -n $errors ]] && echo "  $app $s round $round: $errors" >&2
			RPS[$app,$s]+="$rps "
			P99[$app,$s]+="$p99 "
			FLIGHT[$app,$s]+="$flight "
			printf '  %-6s %-17s round %d: %10s req/s  p99 %8s ms  in flight %5s\n' "$app" "$s" "$round" "$rps" "$p99" "$flight" >&2
		done
		[[ $round == 1 ]] && slowest=$(slower_max "$app" uwsgi)
		[[ -n ${NO_FIXED:-} ]] && continue
		for s in $SERVERS; do
			for pct in 50 80; do
				rate=$(awk -v r="$slowest" -v p="$pct" 'BEGIN {printf "%d", r * p / 100}')
				max_rps=$(median <<<"${RPS[$app,$s]}")
				if awk -v a="$max_rps" -v b="$rate" 'BEGIN {exit !(a < b)}'; then
					printf '  %-6s %-17s round %d: at %3d%% (%6d req/s): above its max, not measured\n' "$app" "$s" "$round" "$pct" "$rate" >&2
					continue
				fi
				read -r _ p99 _ < <(fixed_rate "$work/rate" "http://127.0.0.1:$(port_of "$s")/" "$rate" "$CONNECTIONS" "$DURATION" $CLIENT_CPU)
				if [[ $pct == 50 ]]; then F50[$app,$s]+="$p99 "; else F80[$app,$s]+="$p99 "; fi
				printf '  %-6s %-17s round %d: at %3d%% (%6d req/s) p99 %8s ms\n' "$app" "$s" "$round" "$pct" "$rate" "$p99" >&2
			done
		done
	done
	for s in $SERVERS; do
		RSS[$app,$s]=$(worker_rss "$s")
		stop_server "$s"
	done
done

echo
echo "processes=$PROCESSES threads=$THREADS connections=$CONNECTIONS duration=$DURATION rounds=$ROUNDS"
printf '%-6s %-17s %10s %17s %9s %9s %9s %10s %10s %10s %10s\n' app server "req/s" "spread" "p99 ms" "50% p99" "80% p99" "in flight" "RSS KiB" "httpd/rps" "RSS ratio"
for app in $APPS; do
	h_rps=$(median <<<"${RPS[$app,httpd]:-0}")
	h_rss=${RSS[$app,httpd]:-0}
	for s in $SERVERS; do
		rps=$(median <<<"${RPS[$app,$s]}")
		p99=$(median <<<"${P99[$app,$s]}")
		rss=${RSS[$app,$s]}
		flight=$(median <<<"${FLIGHT[$app,$s]}")
		spread=$(tr ' ' '\n' <<<"${RPS[$app,$s]}" | grep . | sort -g | awk 'NR == 1 {lo=$1} {hi=$1} END {printf "%.0f-%.0f", lo, hi}')
		printf '%-6s %-17s %10.1f %17s %9.3f %9s %9s %10.1f %10d %10s %10s\n' "$app" "$s" "$rps" "$spread" "$p99" \
			"$(median <<<"${F50[$app,$s]:-}" | grep . || echo -)" "$(median <<<"${F80[$app,$s]:-}" | grep . || echo -)" \
			"$flight" "$rss" \
			"$(awk -v a="$h_rps" -v b="$rps" 'BEGIN {printf "%.2fx", b ? a/b : 0}')" \
			"$(awk -v a="$h_rss" -v b="$rss" 'BEGIN {printf "%.2fx", b ? a/b : 0}')"
	done
done
