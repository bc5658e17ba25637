# bench/lib.sh: helpers shared by bench/run.sh and the gateway benchmarks.

# to_ms converts a wrk latency (like 1.23ms, 850.00us, 1.02s) to ms.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else print v }'
}

# median prints the median of the numbers it reads (separated by spaces
# or newlines); nothing read, nothing printed.
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (!NR) exit; if (NR % 2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# build_rate DIR builds bench/rate, the constant-rate load generator, as
# DIR/rate.
build_rate() {
	(cd "$repo" && go build -o "$1/rate" ./bench/rate)
}

# fixed_rate RATE_BIN URL RATE CONNECTIONS DURATION CPU offers RATE req/s
# to URL over CONNECTIONS keep-alive connections for DURATION from CPU,
# and prints "p50 p99 max" in ms, counted from when each request was due
# (see bench/rate). It prints "- - -" when requests failed.
fixed_rate() {
	local out
	if ! out=$(taskset -c "$6" "$1" -url "$2" -rate "$3" -c "$4" -d "$5" 2>&1); then
		echo "  fixed_rate $2 at $3 req/s: $(awk '$1 == "errors" {print $2}' <<<"$out") errors" >&2
		echo "- - -"
		return 0
	fi
	awk '$1 == "p50" {a=$2} $1 == "p99" {b=$2} $1 == "max" {c=$2} END {print a, b, c}' <<<"$out"
}

# slower_max APP PEER prints the first-round max req/s of the slower of
# httpd and PEER (the pair a latency target compares), or of every server
# in SERVERS when one of the two is not run, from the caller's RPS array
# (keys "APP,SERVER", values the rounds' req/s); it says which on stderr.
slower_max() {
	local app=$1 peer=$2 s r slowest=0 pair=""
	for s in httpd "$peer"; do [[ " $SERVERS " == *" $s "* ]] && pair+="$s "; done
	[[ $pair != "httpd $peer " ]] && pair=$SERVERS
	for s in $pair; do
		r=${RPS[$app,$s]%% *}
		if [[ $slowest == 0 ]] || awk -v a="$r" -v b="$slowest" 'BEGIN {exit !(a < b)}'; then
			slowest=$r
		fi
	done
	echo "  $app: fixed rates from the max of the slower of ${pair% }: $slowest req/s" >&2
	echo "$slowest"
}
