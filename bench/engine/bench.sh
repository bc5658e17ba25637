#!/usr/bin/env bash
# bench/engine/bench.sh: the prototype engine against net/http and nginx,
# in one interleaved run. Servers pinned to CPU 0 (GOMAXPROCS=1, nginx one
# worker), wrk and idleconns to CPU 1. For each throughput run it records
# requests/s (wrk) and the server's CPU time per request (µs, from
# /proc/PID/stat), which still compares servers when wrk is the bottleneck.
#
#	ROUNDS=3 DURATION=5 bench/engine/bench.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
W=$(pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
IDLE_CONNS=${IDLE_CONNS:-5000}
SERVERS=${SERVERS:-"gohello nethttp low handler handler-go handler-noreuse nginx"}
OUT=${OUT:-$(mktemp -d /tmp/engine-bench.XXXXXX)}
mkdir -p "$OUT/raw" "$OUT/docs"
ulimit -n "$(ulimit -Hn)"
head -c 1024 /dev/zero | tr '\0' x >"$OUT/docs/1k.html"

go build -o "$OUT/engine" ./bench/engine
go build -o "$OUT/gobare" ./bench/gobare
go build -o "$OUT/idleconns" ./bench/idleconns

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
trap "exit 130" INT TERM

# quiet waits while a load generator this script did not start runs:
# polls every 15 s, at most QUIET_BUDGET seconds over the whole run, then
# measures anyway and notes each overlap.
QUIET_BUDGET=${QUIET_BUDGET:-300}
quiet() {
	while pgrep -x wrk >/dev/null || pgrep -x h2load >/dev/null; do
		if [ "$QUIET_BUDGET" -le 0 ]; then
			echo "note: $1 measured while a foreign load generator ran" | tee -a "$OUT/notes"
			return
		fi
		sleep 15
		QUIET_BUDGET=$((QUIET_BUDGET - 15))
		echo "note: waited 15 s for a foreign load generator before $1" >>"$OUT/notes"
	done
	return 0
}

port_of() {
	case $1 in
	gohello) echo 18710 ;; nethttp) echo 18711 ;; low) echo 18712 ;; handler) echo 18713 ;;
	handler-go) echo 18714 ;; handler-noreuse) echo 18715 ;; nginx) echo 18716 ;;
	esac
}

# start NAME: starts the server pinned to CPU 0, echoes its pid.
start() {
	local p; p=$(port_of "$1")
	case $1 in
	gohello) GOMAXPROCS=1 taskset -c 0 "$OUT/gobare" -hello -addr 127.0.0.1:$p >/dev/null 2>&1 & ;;
	nethttp) GOMAXPROCS=1 taskset -c 0 "$OUT/engine" -api nethttp -addr 127.0.0.1:$p >/dev/null 2>&1 & ;;
	low) GOMAXPROCS=1 taskset -c 0 "$OUT/engine" -api low -addr 127.0.0.1:$p >/dev/null 2>&1 & ;;
	handler) GOMAXPROCS=1 taskset -c 0 "$OUT/engine" -api handler -addr 127.0.0.1:$p >/dev/null 2>&1 & ;;
	handler-go) GOMAXPROCS=1 taskset -c 0 "$OUT/engine" -api handler -goroutine -addr 127.0.0.1:$p >/dev/null 2>&1 & ;;
	handler-noreuse) GOMAXPROCS=1 taskset -c 0 "$OUT/engine" -api handler -reuse=false -addr 127.0.0.1:$p >/dev/null 2>&1 & ;;
	nginx)
		local d="$OUT/nginx"; mkdir -p "$d"
		cat >"$d/nginx.conf" <<-NG
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
			  server { listen 127.0.0.1:$p; root $OUT/docs; }
			}
		NG
		taskset -c 0 nginx -c "$d/nginx.conf" -e "$d/error.log" >/dev/null 2>&1 &
		;;
	esac
	local pid=$!
	for _ in $(seq 50); do
		curl -s -o /dev/null "http://127.0.0.1:$p/1k.html" && break
		sleep 0.1
	done
	echo $pid
}

# cputicks PID: user+system CPU of the process and its children, in clock ticks.
cputicks() {
	local total=0 p
	for p in $1 $(pgrep -P "$1" || true); do
		total=$((total + $(awk '{print $14 + $15}' /proc/$p/stat)))
	done
	echo $total
}

# rss PID: RSS of the process and its children, KiB.
rss() {
	local total=0 p
	for p in $1 $(pgrep -P "$1" || true); do
		total=$((total + $(awk '/VmRSS/ {print $2}' /proc/$p/status)))
	done
	echo $total
}

declare -A PID
for s in $SERVERS; do
	PID[$s]=$(start "$s")
	PIDS+=("${PID[$s]}")
done

echo -e "round\tscenario\tserver\tvalue" >"$OUT/results.tsv"
read -r -a LIST <<<"$SERVERS"
n=${#LIST[@]}
for r in $(seq "$ROUNDS"); do
	for scen in 1k 404; do
		for i in $(seq 0 $((n - 1))); do
			s=${LIST[$(((i + r - 1) % n))]}
			[ "$scen" = 404 ] && [ "$s" = gohello ] && continue # gobare -hello answers 200 everywhere
			path=/1k.html
			[ "$scen" = 404 ] && path=/missing.html
			quiet "$scen-$s-$r"
			f="$OUT/raw/$scen-$s-$r.txt"
			t0=$(cputicks "${PID[$s]}")
			taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$(port_of "$s")$path" >"$f" 2>&1
			t1=$(cputicks "${PID[$s]}")
			v=$(awk '/Requests\/sec/ {print $2}' "$f")
			reqs=$(awk '/requests in/ {print $1}' "$f")
			# server CPU per request, µs (ticks are 1/CLK_TCK s)
			us=$(awk -v t=$((t1 - t0)) -v n="$reqs" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
			echo -e "$r\t$scen\t$s\t$v" | tee -a "$OUT/results.tsv"
			echo -e "$r\t$scen-cpu\t$s\t$us" | tee -a "$OUT/results.tsv"
			if grep -q "Socket errors" "$f"; then echo "  $(grep 'Socket errors' "$f")"; fi
		done
	done
done
cleanup
PIDS=()
sleep 1

# Idle connections, each server afresh.
for s in ${IDLE_SERVERS:-gohello nethttp low handler nginx}; do
	quiet "idle-$s"
	pid=$(start "$s")
	PIDS+=("$pid")
	sleep 0.5
	before=$(rss "$pid")
	taskset -c 1 "$OUT/idleconns" -addr "127.0.0.1:$(port_of "$s")" -n "$IDLE_CONNS" -path /1k.html -hold 20s >"$OUT/raw/idle-$s.txt" 2>&1 &
	ic=$!
	for _ in $(seq 300); do grep -q '^open' "$OUT/raw/idle-$s.txt" && break; sleep 0.1; done
	sleep 2
	after=$(rss "$pid")
	echo -e "1\tidle-before\t$s\t$before" | tee -a "$OUT/results.tsv"
	echo -e "1\tidle\t$s\t$after" | tee -a "$OUT/results.tsv"
	kill "$ic" 2>/dev/null || true
	wait "$ic" 2>/dev/null || true
	grep -h alive "$OUT/raw/idle-$s.txt" || true
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	PIDS=()
done
echo "results: $OUT/results.tsv"
