#!/usr/bin/env bash
# bench/asgi/run.sh: httpd's ASGI gateway (asgi_app) against uvicorn and
# hypercorn, Debian's packages, with the same number of worker processes,
# on a raw ASGI hello-world app, a FastAPI JSON endpoint and a raw ASGI
# WebSocket echo (wsecho: bench/wsecho's client, CONNECTIONS connections
# each sending a 64-byte message and waiting for its echo; messages/s).
#
# Every server is pinned to CPU 0 and the load generator to CPU 1. Rounds
# alternate between the servers. Two measures per round:
#  - max: wrk with CONNECTIONS keep-alive connections for DURATION: the
#    saturated req/s (and its p99, which mostly measures queueing);
#  - fixed rate: bench/rate offers 50% and 80% of the max req/s of the
#    slower of httpd and uvicorn (from the first round), over the same
#    keep-alive connections, and gives p50 and p99 counted from when
#    each request was due: the tail at an equal offered load, the
#    yardstick of the latency targets.
# The report gives medians over the rounds, the RSS per worker, and the
# ratios httpd/peer.
#
# uvicorn runs with uvloop and httptools when they are installed (the
# script installs them, as Debian's python3-uvicorn recommends); the line
# "uvicorn loop" in the output says what it used. hypercorn runs with its
# asyncio worker.
#
# Usage: bench/asgi/run.sh            (from the repository root, as root)
# Environment: PROCESSES (2), CONNECTIONS (16), DURATION (10s), ROUNDS (5),
#   APPS ("hello fastapiapp wsecho"), SERVERS ("httpd uvicorn hypercorn"),
#   HTTPD (a prebuilt binary; default: go build ./cmd/httpd), NO_INSTALL=1
#   to skip apt-get, NO_FIXED=1 to skip the fixed-rate runs.
set -euo pipefail

PROCESSES=${PROCESSES:-2}
CONNECTIONS=${CONNECTIONS:-16}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-5}
APPS=${APPS:-"hello fastapiapp wsecho"}
SERVERS=${SERVERS:-"httpd uvicorn hypercorn"}
PY=/usr/bin/python3
SERVER_CPU=0
CLIENT_CPU=1

repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib.sh
. "$repo/bench/lib.sh"
work=$(mktemp -d /tmp/asgi-bench.XXXXXX)
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
		python3-uvicorn python3-uvloop python3-httptools python3-hypercorn python3-fastapi python3-wsproto \
		wrk >/dev/null
fi

httpd=${HTTPD:-}
if [[ -z $httpd ]]; then
	httpd=$work/httpd
	(cd "$repo" && go build -o "$httpd" ./cmd/httpd)
fi
if ! "$httpd" -l | grep asgi_app >/dev/null; then
	echo "run.sh: $httpd has no asgi_app module" >&2
	exit 1
fi
echo "uvicorn loop: $("$PY" -c 'import importlib.util as u; print("uvloop" if u.find_spec("uvloop") else "asyncio", "+", "httptools" if u.find_spec("httptools") else "h11")')" >&2

cat >"$work/hello.py" <<'EOF'
async def app(scope, receive, send):
    if scope['type'] != 'http':
        return
    body = b'Hello, World!'
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-type', b'text/plain'), (b'content-length', b'%d' % len(body))]})
    await send({'type': 'http.response.body', 'body': body})
EOF

cat >"$work/fastapiapp.py" <<'EOF'
from fastapi import FastAPI

app = FastAPI()


@app.get('/')
async def index(q: str = 'none'):
    return {'message': 'Hello, World!', 'q': q}
EOF

cat >"$work/wsecho.py" <<'EOF'
async def app(scope, receive, send):
    if scope['type'] == 'http':
        body = b'ws echo'
        await send({'type': 'http.response.start', 'status': 200,
                    'headers': [(b'content-type', b'text/plain'), (b'content-length', b'%d' % len(body))]})
        await send({'type': 'http.response.body', 'body': body})
        return
    if scope['type'] != 'websocket':
        return
    while True:
        m = await receive()
        if m['type'] == 'websocket.connect':
            await send({'type': 'websocket.accept'})
        elif m['type'] == 'websocket.receive':
            if m.get('text') is not None:
                await send({'type': 'websocket.send', 'text': m['text']})
            else:
                await send({'type': 'websocket.send', 'bytes': m['bytes']})
        else:
            return
EOF
(cd "$repo" && go build -o "$work/wsecho" ./bench/wsecho)
build_rate "$work"

port_of() {
	case $1 in
	httpd) echo 18201 ;;
	uvicorn) echo 18202 ;;
	hypercorn) echo 18203 ;;
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
  asgi_app "/" {
    app         = "$app:app"
    python_path = ["$work"]
    python      = "$PY"
    processes   = $PROCESSES
    lifespan    = "off"
  }
}
EOF
		taskset -c $SERVER_CPU "$httpd" -f "$work/httpd.hcl" >"$log" 2>&1 &
		;;
	uvicorn)
		(cd "$work" && exec taskset -c $SERVER_CPU "$PY" -m uvicorn --host 127.0.0.1 --port "$port" \
			--workers "$PROCESSES" --no-access-log --log-level warning --lifespan off "$app:app") >"$log" 2>&1 &
		;;
	hypercorn)
		(cd "$work" && exec taskset -c $SERVER_CPU "$PY" -m hypercorn -b "127.0.0.1:$port" \
			-w "$PROCESSES" -k asyncio "$app:app") >"$log" 2>&1 &
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

# worker_rss NAME: mean RSS in KiB of the processes that run the Python
# app: the server's children, or the server itself when it has none (a
# single-process uvicorn). uvicorn --workers starts them with
# multiprocessing, whose resource tracker is a child too (about 11 MiB,
# running no app): it is left out.
worker_rss() {
	local name=$1 pid=${PIDS[$1]} pids="" c
	for c in $(pgrep -P "$pid" || true); do
		grep -q resource_tracker "/proc/$c/cmdline" 2>/dev/null || pids+="$c "
	done
	[[ -z $pids ]] && pids=$pid
	ps -o rss= -p "$(echo $pids | tr ' ' ,)" | awk '{s+=$1; n++} END {printf "%d", (n ? s/n : 0)}'
}


declare -A RPS=() P99=() RSS=() F50=() F80=() Q50=() Q80=()
for app in $APPS; do
	for s in $SERVERS; do
		start_server "$s" "$app"
	done
	slowest=0
	for round in $(seq 1 "$ROUNDS"); do
		for s in $SERVERS; do
			if [[ $app == wsecho ]]; then
				out=$(taskset -c $CLIENT_CPU "$work/wsecho" -url "ws://127.0.0.1:$(port_of "$s")/" -c "$CONNECTIONS" -d "$DURATION")
				rps=$(awk '$1 == "messages/s" {print $2}' <<<"$out")
				p99=$(awk '$1 == "p99_ms" {print $2}' <<<"$out")
			else
				out=$(taskset -c $CLIENT_CPU wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$(port_of "$s")/")
				rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
				p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
			fi
			errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
			[[ -n $errors ]] && echo "  $app $s round $round: $errors" >&2
			RPS[$app,$s]+="$rps "
			P99[$app,$s]+="$p99 "
			printf '  %-10s %-10s round %d: %10s req/s  p99 %8s ms\n' "$app" "$s" "$round" "$rps" "$p99" >&2
		done
		[[ $round == 1 ]] && slowest=$(slower_max "$app" uvicorn)
		[[ -n ${NO_FIXED:-} || $app == wsecho ]] && continue
		for s in $SERVERS; do
			for pct in 50 80; do
				rate=$(awk -v r="$slowest" -v p="$pct" 'BEGIN {printf "%d", r * p / 100}')
				max_rps=$(median <<<"${RPS[$app,$s]}")
				if awk -v a="$max_rps" -v b="$rate" 'BEGIN {exit !(a < b)}'; then
					printf '  %-10s %-10s round %d: at %3d%% (%6d req/s): above its max, not measured\n' "$app" "$s" "$round" "$pct" "$rate" >&2
					continue
				fi
				read -r p50 p99 _ < <(fixed_rate "$work/rate" "http://127.0.0.1:$(port_of "$s")/" "$rate" "$CONNECTIONS" "$DURATION" $CLIENT_CPU)
				if [[ $pct == 50 ]]; then Q50[$app,$s]+="$p50 "; F50[$app,$s]+="$p99 "; else Q80[$app,$s]+="$p50 "; F80[$app,$s]+="$p99 "; fi
				printf '  %-10s %-10s round %d: at %3d%% (%6d req/s) p50 %8s ms  p99 %8s ms\n' "$app" "$s" "$round" "$pct" "$rate" "$p50" "$p99" >&2
			done
		done
	done
	for s in $SERVERS; do
		RSS[$app,$s]=$(worker_rss "$s")
		stop_server "$s"
	done
done

echo
echo "processes=$PROCESSES connections=$CONNECTIONS duration=$DURATION rounds=$ROUNDS"
printf '%-10s %-10s %10s %9s %9s %9s %9s %9s %9s %10s %10s\n' app server "req/s" "p99 ms" "50% p50" "50% p99" "80% p50" "80% p99" "RSS KiB" "httpd/rps" "RSS ratio"
for app in $APPS; do
	h_rps=$(median <<<"${RPS[$app,httpd]:-0}")
	h_rss=${RSS[$app,httpd]:-0}
	for s in $SERVERS; do
		rps=$(median <<<"${RPS[$app,$s]}")
		printf '%-10s %-10s %10.1f %9.3f %9s %9s %9s %9s %9d %10s %10s\n' "$app" "$s" "$rps" \
			"$(median <<<"${P99[$app,$s]}")" \
			"$(median <<<"${Q50[$app,$s]:-}" | grep . || echo -)" "$(median <<<"${F50[$app,$s]:-}" | grep . || echo -)" \
			"$(median <<<"${Q80[$app,$s]:-}" | grep . || echo -)" "$(median <<<"${F80[$app,$s]:-}" | grep . || echo -)" \
			"${RSS[$app,$s]}" \
			"$(awk -v a="$h_rps" -v b="$rps" 'BEGIN {printf "%.2fx", b ? a/b : 0}')" \
			"$(awk -v a="$h_rss" -v b="${RSS[$app,$s]}" 'BEGIN {printf "%.2fx", b ? a/b : 0}')"
	done
done
