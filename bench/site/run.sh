#!/usr/bin/env bash
# bench/site/run.sh: the site directives under load: compression against
# nginx (gzip on, gzip_static) and Caddy (encode zstd gzip), basic_auth
# against the same file without it, and a typical site's pipeline (header,
# compress, access, rewrite, error_pages) against the bare config, gzip
# with compress's cache of encoded files off (gzip-100k-nocache: every
# answer compressed, as nginx does), and the
# metrics module's cost: the bare config plus metrics against the bare config.
#
# Every server is pinned to CPU 0 and wrk to CPU 1, one worker each
# (nginx worker_processes 1, GOMAXPROCS=1). Rounds alternate between the
# servers; the report gives the median requests/s, the bytes of one
# response on the wire, and each scenario's ratio httpd/baseline.
#
# The 100 KiB page is HTML made of the GPL's text (compresses like prose,
# about 3:1 with gzip), not random bytes, so the compressors do real work.
# The gzip level is the same for httpd and nginx (GZIP_LEVEL, default 6,
# nginx's usual gzip_comp_level in distributions' recommended configs).
#
# Usage: bench/site/run.sh         (from anywhere, as root)
# Environment: DURATION (5s), ROUNDS (3), CONNECTIONS (50), SCENARIOS
#   (all), GZIP_LEVEL (6), HTTPD (a prebuilt binary), NO_INSTALL=1.
set -euo pipefail

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-50}
GZIP_LEVEL=${GZIP_LEVEL:-6}
SCENARIOS=${SCENARIOS:-"gzip-100k gzip-100k-nocache gzip-static zstd-100k br-100k auth-1k typical-1k metrics-1k"}
SERVER_CPU=0
CLIENT_CPU=1

repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/site-bench.XXXXXX)
chmod 755 "$work"
declare -A PIDS=()

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
cleanup() {
	for name in "${!PIDS[@]}"; do stop_server "$name"; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z ${NO_INSTALL:-} ]]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		nginx caddy wrk apache2-utils curl >/dev/null
fi
export PATH=$PATH:/usr/sbin

httpd=${HTTPD:-}
if [[ -z $httpd ]]; then
	httpd=$work/bin-httpd
	(cd "$repo" && go build -o "$httpd" ./cmd/httpd)
fi
for m in compress basic_auth header access rewrite metrics; do
	if ! "$httpd" -l | grep -qw "$m"; then
		echo "run.sh: $httpd has no $m module" >&2
		exit 1
	fi
done

# ---- fixtures ---------------------------------------------------------------

docs=$work/htdocs
mkdir -p "$docs/auth" "$docs/pre" "$docs/errors"
head -c 1024 /dev/zero | tr '\0' 'a' >"$docs/1k.html"
cp "$docs/1k.html" "$docs/auth/1k.html"
{
	echo '<!doctype html><html><head><title>GPL</title></head><body>'
	# The GPL is ~35 KiB: three copies and a cut make the 100 KiB.
	for _ in 1 2 3 4; do
		sed 's/^/<p>/; s/$/<\/p>/' /usr/share/common-licenses/GPL-3
	done | head -c 102000
	echo '</body></html>'
} >"$docs/100k.html" || true
truncate -s 102400 "$docs/100k.html"
cp "$docs/100k.html" "$docs/pre/100k.html"
gzip -"$GZIP_LEVEL" -k -n "$docs/pre/100k.html"
touch -r "$docs/pre/100k.html" "$docs/pre/100k.html.gz"
echo '<h1>not here</h1>' >"$docs/errors/404.html"
chmod -R a+rX "$docs"
htpasswd -B -b -c "$work/htpasswd" bench secret 2>/dev/null
chmod 644 "$work/htpasswd"
auth=$(printf 'bench:secret' | base64)

# ---- servers ----------------------------------------------------------------

declare -A PORT=([httpd-bare]=18201 [httpd-site]=18202 [nginx]=18203 [caddy]=18204 [httpd-metrics]=18205 [httpd-nocache]=18206)

# httpd_conf dir port body: an httpd config serving $docs on port, with
# body inside the vhost block, and the command that runs it.
httpd_conf() {
	cat >"$1/httpd.hcl" <<-EOF
		server { listen = ["127.0.0.1:$2"] }
		log {
		  access = "off"
		  level  = "warn"
		}
		vhost "localhost" {
		  document_root = "$docs"
		  $3
		}
	EOF
	cmd=(env GOMAXPROCS=1 "$httpd" -f "$1/httpd.hcl")
}

start_server() { # name
	local name=$1 port=${PORT[$1]} d=$work/$1
	mkdir -p "$d"
	chmod 755 "$d"
	local -a cmd
	case $name in
	httpd-bare)
		httpd_conf "$d" "$port" ""
		;;
	httpd-nocache)
		# compress without its cache of encoded files: every answer is
		# compressed as it goes out, as nginx does.
		httpd_conf "$d" "$port" "
			  compress {
			    level      = { gzip = $GZIP_LEVEL }
			    cache_size = 0
			  }"
		;;
	httpd-metrics)
		# The bare config with Prometheus metrics: every request is
		# counted and timed, as in production.
		httpd_conf "$d" "$port" '
			  metrics "/metrics" { allow = ["127.0.0.1/32"] }'
		;;
	httpd-site)
		# A typical site: every site directive configured, the pages
		# served as before.
		httpd_conf "$d" "$port" "
			  compress {
			    encodings = [\"zstd\", \"br\", \"gzip\"]
			    level     = { gzip = $GZIP_LEVEL }
			  }
			  header \"/\" {
			    set    = { \"Strict-Transport-Security\" = \"max-age=31536000\", \"X-Content-Type-Options\" = \"nosniff\" }
			    remove = [\"X-Powered-By\"]
			  }
			  access \"/\" { allow = [\"127.0.0.0/8\", \"::1\"] }
			  rewrite \"^/old/(.*)\$\" {
			    to     = \"/\$1\"
			    status = 301
			  }
			  basic_auth \"/auth/\" {
			    realm    = \"bench\"
			    htpasswd = \"$work/htpasswd\"
			  }
			  error_pages = { \"404\" = \"/errors/404.html\" }"
		;;
	nginx)
		cat >"$d/nginx.conf" <<-EOF
			daemon off;
			worker_processes 1;
			pid $d/nginx.pid;
			error_log $d/error.log warn;
			events { worker_connections 4096; }
			http {
			  include /etc/nginx/mime.types;
			  access_log off;
			  sendfile on;
			  tcp_nopush on;
			  keepalive_requests 10000000;
			  client_body_temp_path $d/body;
			  proxy_temp_path $d/proxy;
			  fastcgi_temp_path $d/fastcgi;
			  uwsgi_temp_path $d/uwsgi;
			  scgi_temp_path $d/scgi;
			  gzip on;
			  gzip_comp_level $GZIP_LEVEL;
			  gzip_types text/plain text/css application/json application/javascript;
			  gzip_vary on;
			  server {
			    listen 127.0.0.1:$port;
			    root $docs;
			    location /pre/ { gzip_static on; }
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
			  root * $docs
			  encode zstd gzip
			  file_server
			}
		EOF
		cmd=(env GOMAXPROCS=1 HOME="$d" XDG_DATA_HOME="$d/data" XDG_CONFIG_HOME="$d/config" caddy run --adapter caddyfile --config "$d/Caddyfile")
		;;
	esac
	taskset -c $SERVER_CPU "${cmd[@]}" >"$d/out.log" 2>&1 &
	PIDS[$name]=$!
	for _ in $(seq 1 150); do
		if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/1k.html")" = 200 ]; then
			return 0
		fi
		kill -0 "${PIDS[$name]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "run.sh: $name did not start; log:" >&2
	cat "$d/out.log" "$d/error.log" >&2 2>/dev/null || true
	return 1
}

# ---- scenarios --------------------------------------------------------------

# Each scenario is "server path header" rows; the first row is httpd, the
# second the baseline its ratio is taken against.
declare -A ROWS=(
	[gzip-100k]="httpd-site /100k.html gzip|nginx /100k.html gzip"
	[gzip-100k-nocache]="httpd-nocache /100k.html gzip|nginx /100k.html gzip"
	[gzip-static]="httpd-site /pre/100k.html gzip|nginx /pre/100k.html gzip"
	[zstd-100k]="httpd-site /100k.html zstd|caddy /100k.html zstd"
	[br-100k]="httpd-site /100k.html br,gzip|caddy /100k.html br,gzip"
	[auth-1k]="httpd-site /auth/1k.html auth|httpd-site /1k.html -"
	[typical-1k]="httpd-site /1k.html -|httpd-bare /1k.html -"
	[metrics-1k]="httpd-metrics /1k.html -|httpd-bare /1k.html -"
)


# request_args header: curl/wrk header arguments for a row's header.
header_args() {
	case $1 in
	-) ;;
	auth) echo "Authorization: Basic $auth" ;;
	*) echo "Accept-Encoding: $1" ;;
	esac
}

for s in httpd-bare httpd-site httpd-metrics httpd-nocache nginx caddy; do start_server "$s"; done

declare -A RPS=() BYTES=() ENC=()
for sc in $SCENARIOS; do
	IFS='|' read -r -a rows <<<"${ROWS[$sc]}"
	for row in "${rows[@]}"; do
		read -r s path hdr <<<"$row"
		url="http://127.0.0.1:${PORT[$s]}$path"
		h=$(header_args "$hdr")
		args=()
		[[ -n $h ]] && args=(-H "$h")
		code=$(curl -s -o "$work/body" -D "$work/head" -w '%{http_code}' "${args[@]}" "$url")
		if [[ $code != 200 ]]; then
			echo "run.sh: $sc: $s $path answered $code" >&2
			exit 1
		fi
		BYTES[$sc,$s,$path]=$(stat -c %s "$work/body")
		ENC[$sc,$s,$path]=$(awk 'tolower($1) == "content-encoding:" {print $2}' "$work/head" | tr -d '\r')
		# Warm up: caches, pools, the CPU's frequency.
		taskset -c $CLIENT_CPU wrk -t1 -c"$CONNECTIONS" -d1s "${args[@]}" "$url" >/dev/null
	done
	for round in $(seq 1 "$ROUNDS"); do
		for row in "${rows[@]}"; do
			read -r s path hdr <<<"$row"
			url="http://127.0.0.1:${PORT[$s]}$path"
			h=$(header_args "$hdr")
			args=()
			[[ -n $h ]] && args=(-H "$h")
			out=$(taskset -c $CLIENT_CPU wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "${args[@]}" "$url")
			rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
			errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
			[[ -n $errors ]] && echo "  $sc $s round $round: $errors" >&2
			RPS[$sc,$s,$path]+="$rps "
			printf '  %-12s %-11s %-16s round %d: %10s req/s\n' "$sc" "$s" "$path" "$round" "$rps" >&2
		done
	done
done

echo
echo "connections=$CONNECTIONS duration=$DURATION rounds=$ROUNDS gzip level=$GZIP_LEVEL, server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU"
printf '%-12s %-24s %12s %10s %-9s %-24s %12s %10s %-9s %8s\n' scenario httpd "req/s" bytes enc baseline "req/s" bytes enc ratio
for sc in $SCENARIOS; do
	IFS='|' read -r -a rows <<<"${ROWS[$sc]}"
	read -r s1 p1 _ <<<"${rows[0]}"
	read -r s2 p2 _ <<<"${rows[1]}"
	r1=$(median <<<"${RPS[$sc,$s1,$p1]}")
	r2=$(median <<<"${RPS[$sc,$s2,$p2]}")
	printf '%-12s %-24s %12s %10s %-9s %-24s %12s %10s %-9s %8s\n' "$sc" "$s1 $p1" "$r1" "${BYTES[$sc,$s1,$p1]}" "${ENC[$sc,$s1,$p1]:--}" \
		"$s2 $p2" "$r2" "${BYTES[$sc,$s2,$p2]}" "${ENC[$sc,$s2,$p2]:--}" \
		"$(awk -v a="$r1" -v b="$r2" 'BEGIN {printf "%.2fx", b ? a/b : 0}')"
done
