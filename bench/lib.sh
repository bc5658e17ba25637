# bench/lib.sh: helpers shared by bench/run.sh and the gateway benchmarks.

# to_ms converts a wrk latency (like 1.23ms, 850.00us, 1.02s) to ms.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else print v }'
}
