#!/usr/bin/env bash
# The first relevance searches after a server restarts, side by side:
# builds in turn, several rounds interleaved, on one SQLite database. Per
# round and build: start a server, search each pair twice, wait, search it
# once more (so that a server that keeps posting lists has read them), stop
# it; start it again, wait, and time each pair's first search (curl); then
# the server's VmRSS and, from its log, how long reading the lists at start
# took (`posting lists read`, at debug).
#
#   DB=/path/to/g1m.db bash benches/restart-searches.sh BINARY [BINARY ...]
#
# Settings (environment): DB (required; e.g. made by `claimtrail
# --database-url g1m.db --no-seed generate --claims 1000000 --seed 1`),
# ROUNDS (default 3), PORT (default 8093), QUERIES (default four pairs),
# WAIT (seconds after the restart, default 6). The file of terms a server
# writes beside the database (`DB.posting-lists.json`) is removed before
# each build's first start.
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: DB=... $0 BINARY [BINARY ...]" >&2; exit 2; }
: "${DB:?set DB to a SQLite database}"
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-8093}
WAIT=${WAIT:-6}
QUERIES=${QUERIES:-"the%20since mali%20the security%20officials army%20attack"}
work=$(mktemp -d -t claimtrail-restart.XXXXXX)
base="http://127.0.0.1:$PORT"
start() {
    CLAIMTRAIL_LOG=claimtrail=debug "$1" --database-url "$DB" --no-seed --bind "127.0.0.1:$PORT" serve >"$work/server.log" 2>&1 &
    echo $! >"$work/pid"
    for _ in $(seq 1 200); do curl -sf -o /dev/null "$base/healthz" && return; sleep 0.1; done
    echo "the server did not start: $(tail -3 "$work/server.log")" >&2
    exit 1
}
stop() {
    local pid; pid=$(cat "$work/pid")
    kill "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}
search() { curl -s -o /dev/null -w '%{time_total}' "$base/v1/claims?q=$1&sort=relevance"; }
echo "first search after a restart (s), $ROUNDS rounds interleaved, $DB"
for round in $(seq 1 "$ROUNDS"); do
    for binary in "$@"; do
        rm -f "$DB.posting-lists.json"
        start "$binary"
        for q in $QUERIES; do search "$q" >/dev/null; search "$q" >/dev/null; sleep 2; search "$q" >/dev/null; done
        stop
        start "$binary"
        sleep "$WAIT"
        line="round $round  $binary "
        for q in $QUERIES; do line+=" ${q//%20/ }=$(search "$q")"; done
        rss=$(awk '/^VmRSS/ {print $2}' "/proc/$(cat "$work/pid")/status")
        read_at_start=$(grep -o 'posting lists read.*' "$work/server.log" | grep -o 'seconds=[0-9.]*' | head -1 || true)
        echo "$line  VmRSS ${rss} kB  ${read_at_start:-no lists read at start}"
        stop
    done
done
rm -rf "$work"
