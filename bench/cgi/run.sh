#!/bin/bash
# Benchmark: a hello CGI in sh and in C under load, served by httpd,
# Apache (mpm_event + mod_cgid) and lighttpd (mod_cgi) on loopback, and
# the machine's raw fork+exec rate of the C hello as the ceiling.
#
# Servers run pinned to CPU 0 and wrk to CPU 1 (taskset). Rounds
# alternate the servers so that drift hits them all alike; the medians
# are reported with the ratios httpd/peer.
#
# usage: bench/cgi/run.sh [ROUNDS] [SECONDS] [CONNECTIONS]
#   ROUNDS      wrk runs per server and script (default 5)
#   SECONDS     length of each run (default 10)
#   CONNECTIONS concurrent connections (default 8)
#
# HTTPD_BASELINE=BINARY also runs that httpd build (say, one built from
# the previous commit) as "baseline" in the same rounds, for a before and
# after from one run.
#
# The machine may be shared: before every run it waits while a wrk or
# h2load it did not start is running (polling every 15 s; at most
# QUIET_WAIT seconds, default 300, over the whole run), and it repeats a
# run (up to three times) that one ran alongside; once the wait is spent
# it measures anyway and says so, and the summary carries a warning.
#
# Needs root for apt-get when apache2, lighttpd or wrk are missing. Every
# process it starts is stopped by pid on exit.
set -euo pipefail

ROUNDS=${1:-5}
SECS=${2:-10}
CONNS=${3:-8}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SERVER_CPU=0
CLIENT_CPU=1
PORT_HTTPD=18081
PORT_APACHE=18082
PORT_LIGHTTPD=18083
PORT_BASELINE=18084
BASELINE=${HTTPD_BASELINE:-}

need=()
command -v wrk >/dev/null || need+=(wrk)
[ -x /usr/sbin/apache2 ] || need+=(apache2)
[ -x /usr/sbin/lighttpd ] || need+=(lighttpd)
command -v gcc >/dev/null || need+=(gcc)
command -v taskset >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}" >&2
    # Keep the packages' services from starting: this script starts its
    # own instances.
    restore=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        restore=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    [ -n "$restore" ] && rm -f /usr/sbin/policy-rc.d
fi

WORK=$(mktemp -d /tmp/httpd-cgi-bench.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/cgi-bin" "$WORK/htdocs" "$WORK/run" "$WORK/logs"
cp "$HERE/hello.sh" "$WORK/cgi-bin/hello.sh"
gcc -O2 -o "$WORK/cgi-bin/hello" "$HERE/hello.c"
gcc -O2 -o "$WORK/forkexec" "$HERE/forkexec.c"
chmod -R a+rX "$WORK"
chmod 777 "$WORK/run" "$WORK/logs"

# httpd, with the CGI module compiled in even before cmd/httpd imports it.
(
    cd "$REPO"
    go build -o "$WORK/httpd" ./cmd/httpd
    if ! "$WORK/httpd" -l | grep -q script_alias; then
        mkdir -p "$WORK/overlay"
        printf 'package main\n\nimport _ "httpd/modules/cgi"\n' >"$WORK/overlay/cgi.go"
        printf '{"Replace":{"%s":"%s"}}\n' "$REPO/cmd/httpd/zz_bench_cgi.go" "$WORK/overlay/cgi.go" >"$WORK/overlay/overlay.json"
        go build -overlay "$WORK/overlay/overlay.json" -o "$WORK/httpd" ./cmd/httpd
    fi
)
cat >"$WORK/httpd.hcl" <<EOF
server {
  listen = ["127.0.0.1:$PORT_HTTPD"]
}
log {
  access = "off"
  error  = "$WORK/logs/httpd-error.log"
  level  = "warn"
}
vhost "localhost" {
  default       = true
  document_root = "htdocs"
  script_alias "/cgi-bin/" {
    path          = "cgi-bin"
    max_processes = 256
  }
}
EOF

if [ -n "$BASELINE" ]; then
    cp "$BASELINE" "$WORK/httpd-baseline"
    sed "s/127.0.0.1:$PORT_HTTPD/127.0.0.1:$PORT_BASELINE/; s/httpd-error.log/baseline-error.log/" \
        "$WORK/httpd.hcl" >"$WORK/baseline.hcl"
fi

cat >"$WORK/apache.conf" <<EOF
ServerRoot "$WORK"
ServerName localhost
Listen 127.0.0.1:$PORT_APACHE
PidFile "$WORK/run/apache.pid"
DefaultRuntimeDir "$WORK/run"
ErrorLog "$WORK/logs/apache-error.log"
LogLevel warn
User www-data
Group www-data
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
LoadModule cgid_module /usr/lib/apache2/modules/mod_cgid.so
ScriptSock "$WORK/run/cgid.sock"
DocumentRoot "$WORK/htdocs"
ScriptAlias /cgi-bin/ "$WORK/cgi-bin/"
<Directory "$WORK/cgi-bin">
    Require all granted
</Directory>
KeepAlive On
MaxKeepAliveRequests 0
StartServers 2
ServerLimit 16
ThreadsPerChild 25
MaxRequestWorkers 400
EOF

cat >"$WORK/lighttpd.conf" <<EOF
server.bind          = "127.0.0.1"
server.port          = $PORT_LIGHTTPD
server.document-root = "$WORK/htdocs"
server.errorlog      = "$WORK/logs/lighttpd-error.log"
server.pid-file      = "$WORK/run/lighttpd.pid"
server.modules       = ("mod_alias", "mod_cgi")
server.max-keep-alive-requests = 100000
alias.url            = ("/cgi-bin/" => "$WORK/cgi-bin/")
\$HTTP["url"] =~ "^/cgi-bin/" {
    cgi.assign = ("" => "")
}
EOF

wait_port() {
    for _ in $(seq 100); do
        if curl -fsS -o /dev/null "http://127.0.0.1:$1/cgi-bin/hello"; then
            return 0
        fi
        sleep 0.1
    done
    echo "server on port $1 did not answer" >&2
    return 1
}

(cd "$WORK" && exec taskset -c $SERVER_CPU "$WORK/httpd" -f "$WORK/httpd.hcl") >"$WORK/logs/httpd.out" 2>&1 &
PIDS+=($!)
taskset -c $SERVER_CPU /usr/sbin/apache2 -f "$WORK/apache.conf" -DFOREGROUND >"$WORK/logs/apache.out" 2>&1 &
PIDS+=($!)
taskset -c $SERVER_CPU /usr/sbin/lighttpd -D -f "$WORK/lighttpd.conf" >"$WORK/logs/lighttpd.out" 2>&1 &
PIDS+=($!)
ports=($PORT_HTTPD $PORT_APACHE $PORT_LIGHTTPD)
servers=(httpd:$PORT_HTTPD apache:$PORT_APACHE lighttpd:$PORT_LIGHTTPD)
if [ -n "$BASELINE" ]; then
    (cd "$WORK" && exec taskset -c $SERVER_CPU "$WORK/httpd-baseline" -f "$WORK/baseline.hcl") >"$WORK/logs/baseline.out" 2>&1 &
    PIDS+=($!)
    ports+=($PORT_BASELINE)
    servers+=(baseline:$PORT_BASELINE)
fi
for port in "${ports[@]}"; do
    wait_port "$port"
done

# foreign reports whether a benchmark this script did not start is
# running.
foreign() {
    pgrep -a -x wrk | grep -v " http://127.0.0.1:1808[0-9]/cgi-bin/" | grep -q . && return 0
    pgrep -x h2load >/dev/null
}

# quiet waits while a foreign benchmark is running, for at most
# QUIET_WAIT seconds (default 300) over the whole run: once they are
# spent it measures at once, and measure no longer repeats runs.
QUIET_LEFT=${QUIET_WAIT:-300}
quiet() {
    while foreign; do
        if [ "$QUIET_LEFT" -le 0 ]; then
            [ -e "$WORK/loaded" ] || echo "another benchmark keeps running; measuring alongside it" >&2
            touch "$WORK/loaded"
            return 0
        fi
        sleep 15
        QUIET_LEFT=$((QUIET_LEFT - 15))
    done
}

# measure runs a command once the machine is quiet, and again (up to
# three times in all) when a foreign benchmark ran alongside it.
measure() {
    local out
    for attempt in 1 2 3; do
        quiet
        rm -f "$WORK/disturbed"
        (while sleep 0.5; do foreign && { touch "$WORK/disturbed"; break; }; done) &
        local watcher=$!
        out=$("$@")
        kill "$watcher" 2>/dev/null || true
        wait "$watcher" 2>/dev/null || true
        [ -e "$WORK/disturbed" ] && [ ! -e "$WORK/loaded" ] || break
        echo "another benchmark ran alongside (attempt $attempt)" >&2
    done
    echo "$out"
}

for port in "${ports[@]}"; do
    for s in hello hello.sh; do
        body=$(curl -fsS "http://127.0.0.1:$port/cgi-bin/$s")
        [ "$body" = hello ] || { echo "port $port /cgi-bin/$s answered '$body'" >&2; exit 1; }
    done
done

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }

declare -A RESULTS
FE=()
echo "rounds=$ROUNDS seconds=$SECS connections=$CONNS server-cpu=$SERVER_CPU client-cpu=$CLIENT_CPU" >&2
for round in $(seq "$ROUNDS"); do
    for script in hello hello.sh; do
        for entry in "${servers[@]}"; do
            name=${entry%%:*}
            port=${entry##*:}
            for i in "${!PIDS[@]}"; do
                if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
                    echo "a server died (pid ${PIDS[$i]}); its logs:" >&2
                    tail -n 20 "$WORK"/logs/* >&2
                    exit 1
                fi
            done
            rps=$(measure taskset -c $CLIENT_CPU wrk -t1 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$port/cgi-bin/$script" |
                awk '/^Requests\/sec:/ {print $2}')
            echo "round $round $name $script: $rps req/s" >&2
            RESULTS[$name.$script]+="$rps "
        done
    done
    # The ceiling: spawn+read+wait of the C hello with as many workers as
    # wrk has connections, on the servers' CPU.
    fe=$(measure taskset -c $SERVER_CPU "$WORK/forkexec" "$WORK/cgi-bin/hello" $((CONNS * 500)) "$CONNS")
    echo "round $round fork+exec: $fe per s" >&2
    FE+=("$fe")
done

if [ -e "$WORK/loaded" ]; then
    echo "WARNING: measured while another benchmark was running"
fi
med() { echo "${RESULTS[$1]}" | tr ' ' '\n' | grep . | median; }
forkexec=$(printf '%s\n' "${FE[@]}" | median)
echo
printf '%-10s %12s %12s\n' server "C req/s" "sh req/s"
names=(httpd apache lighttpd)
[ -n "$BASELINE" ] && names+=(baseline)
for name in "${names[@]}"; do
    printf '%-10s %12s %12s\n' "$name" "$(med $name.hello)" "$(med $name.hello.sh)"
done
printf '%-10s %12s\n' fork+exec "$forkexec"
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
for s in hello hello.sh; do
    h=$(med httpd.$s)
    echo "$s: httpd/apache $(ratio "$h" "$(med apache.$s)")  httpd/lighttpd $(ratio "$h" "$(med lighttpd.$s)")"
done
echo "hello (C): httpd/fork+exec $(ratio "$(med httpd.hello)" "$forkexec")"
if [ -n "$BASELINE" ]; then
    echo "hello (C): baseline/fork+exec $(ratio "$(med baseline.hello)" "$forkexec")  httpd/baseline $(ratio "$(med httpd.hello)" "$(med baseline.hello)")"
    echo "hello.sh: httpd/baseline $(ratio "$(med httpd.hello.sh)" "$(med baseline.hello.sh)")"
fi
