#!/usr/bin/env bash
# Relevance searches right after a commit, two or more builds side by side,
# several rounds interleaved, on one SQLite database. Per round and build:
# remove the file of terms beside the database, start the server (request
# log at warn), wait until /healthz answers and then WAIT seconds more (its
# lists read at start), search QUERY BEFORE times, create one claim through
# the API (a commit), and search QUERY AFTER times, each timed with curl
# (time_total, 0.3 s apart); stop the server (SIGTERM). At the end, per build,
# the median over rounds of each search after the commit.
#
#   DB=/dev/shm/g/g1m.db bash benches/commit-searches.sh BINARY...
#
# Each round adds a claim to DB (text "The toll since the attack rose, the
# army said."): use a copy, or a database whose growth does not matter.
# The key that writes them is made once, by the first binary's `keys create`
# (scope write, named commit-searches), and kept in DB.
#
# Settings (environment): DB (required), ROUNDS (default 5), QUERY (default
# "the since"), BEFORE (default 6), AFTER (default 4), WAIT (default 8),
# PORT (default 18097).
set -euo pipefail
export LC_ALL=C
[[ $# -ge 1 ]] || { echo "usage: DB=... [ROUNDS=5] [QUERY='the since'] $0 BINARY..." >&2; exit 2; }
: "${DB:?set DB to a SQLite database}"
[[ -f $DB ]] || { echo "no database at $DB" >&2; exit 2; }
for binary in "$@"; do [[ -x $binary ]] || { echo "not an executable: $binary" >&2; exit 2; }; done
ROUNDS=${ROUNDS:-5}
QUERY=${QUERY:-the since}
BEFORE=${BEFORE:-6}
AFTER=${AFTER:-4}
WAIT=${WAIT:-8}
PORT=${PORT:-18097}
for n in "$ROUNDS" "$BEFORE" "$AFTER" "$WAIT"; do
    [[ $n =~ ^[0-9]+$ ]] || { echo "ROUNDS, BEFORE, AFTER and WAIT are numbers, not '$n'" >&2; exit 2; }
done
base="http://127.0.0.1:$PORT"
if curl -s -o /dev/null --max-time 2 "$base/healthz"; then
    echo "something already answers on port $PORT: set PORT to a free one" >&2
    exit 1
fi
key=$("$1" --database-url "$DB" --no-seed keys create --name commit-searches --scope write | tail -1)
[[ -n $key ]] || { echo "no key was made" >&2; exit 1; }

pid=""
cleanup() {
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
search() {
    curl -s -o /dev/null -w '%{time_total}' -G --data-urlencode "q=$QUERY" --data sort=relevance "$base/v1/claims" \
        | awk '{ printf "%.1f", $1 * 1000 }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.1f", v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A after
echo "'$QUERY' by relevance: $BEFORE searches, a commit (one claim created), $AFTER searches (ms); $ROUNDS rounds, $DB"
for round in $(seq 1 "$ROUNDS"); do
    for b in $(seq 1 $#); do
        binary=${!b}
        rm -f "$DB.posting-lists.json"
        "$binary" --database-url "$DB" --no-seed --bind "127.0.0.1:$PORT" --log warn serve >/dev/null 2>&1 &
        pid=$!
        for _ in $(seq 1 300); do
            curl -sf -o /dev/null "$base/healthz" && break
            kill -0 "$pid" 2>/dev/null || { echo "the server stopped: $binary" >&2; exit 1; }
            sleep 0.1
        done
        sleep "$WAIT"
        line="round $round  build $b  before:"
        for _ in $(seq 1 "$BEFORE"); do line+=" $(search)"; sleep 0.3; done
        status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" \
            -H 'Content-Type: application/json' "$base/v1/claims" \
            -d '{"text": "The toll since the attack rose, the army said."}')
        [[ $status == 201 ]] || { echo "creating the claim answered HTTP $status" >&2; exit 1; }
        sleep 0.3
        line+="  after the commit:"
        for i in $(seq 1 "$AFTER"); do
            t=$(search)
            after[$b,$round,$i]=$t
            line+=" $t"
            sleep 0.3
        done
        echo "$line"
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        pid=""
    done
done
echo "median over rounds of each search after the commit (ms):"
for b in $(seq 1 $#); do
    line="build $b (${!b}):"
    for i in $(seq 1 "$AFTER"); do
        values=()
        for round in $(seq 1 "$ROUNDS"); do values+=("${after[$b,$round,$i]}"); done
        line+="  #$i $(median "${values[@]}")"
    done
    echo "$line"
done
