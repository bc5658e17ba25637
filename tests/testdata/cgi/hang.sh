#!/bin/sh
# Records its pid and a background child's in $OUT/pids, prints a line
# (unless the query is "quiet"), then waits for the child: only the
# server can end it.
sleep 300 &
echo $$ $! > "$OUT/pids.tmp"
mv "$OUT/pids.tmp" "$OUT/pids"
if [ "$QUERY_STRING" != quiet ]; then
    printf 'Content-Type: text/plain\n\nstarted\n'
fi
wait
