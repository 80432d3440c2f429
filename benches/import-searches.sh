#!/usr/bin/env bash
# The first relevance searches after an import through the server, side by
# side: builds in turn, several rounds interleaved. Per round and build: a
# copy of the database BASE, a server on it, each pair searched until its
# posting lists are kept (twice, a pause, once more), each timed once
# more; then `POST /v1/import` of FILE (records new to BASE), a pause, and
# each pair's first search after it, timed with curl; and, from the
# server's log, how long a read of lists that came after the import and
# before those searches took (`posting lists read`, at debug).
#
#   BASE=base.db FILE=more.ndjson bash benches/import-searches.sh BINARY [BINARY ...]
#
# An import that refreshes at least half of the claims fills `claim_terms`
# again whole, which the change log cannot describe. For instance BASE
# imported from `claimtrail generate --claims 100000 --seed 1`'s export,
# FILE the export of another `generate --claims 100000 --seed 2`
# (`export --without-history`). Settings: ROUNDS (default 2), PORT (default
# 8094), QUERIES (default three pairs), WORK (scratch dir, default a new
# temp dir; the copy of BASE goes there).
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: BASE=... FILE=... $0 BINARY [BINARY ...]" >&2; exit 2; }
: "${BASE:?set BASE to a SQLite database}" "${FILE:?set FILE to an export to import}"
ROUNDS=${ROUNDS:-2}
PORT=${PORT:-8094}
QUERIES=${QUERIES:-"the%20since mali%20the security%20officials"}
if [[ -z ${WORK:-} ]]; then
    WORK=$(mktemp -d -t claimtrail-import-searches.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
fi
base="http://127.0.0.1:$PORT"
db=$WORK/copy.db
search() { curl -s -o /dev/null -w '%{time_total}' "$base/v1/claims?q=$1&sort=relevance"; }
echo "first search after an import through the server (s), $ROUNDS rounds interleaved"
for round in $(seq 1 "$ROUNDS"); do
    for binary in "$@"; do
        rm -f "$db" "$db-wal" "$db-shm" "$db.posting-lists.json"
        cp "$BASE" "$db"
        admin=$("$binary" --database-url "$db" keys create --name bench --scope admin 2>/dev/null | tail -1)
        CLAIMTRAIL_LOG=claimtrail=debug "$binary" --database-url "$db" --no-seed --bind "127.0.0.1:$PORT" serve \
            >"$WORK/server.log" 2>&1 &
        pid=$!
        for _ in $(seq 1 200); do curl -sf -o /dev/null "$base/healthz" && break; sleep 0.1; done
        curl -sf -o /dev/null "$base/healthz" || { echo "the server did not start: $(tail -3 "$WORK/server.log")" >&2; exit 1; }
        for q in $QUERIES; do search "$q" >/dev/null; search "$q" >/dev/null; sleep 1; search "$q" >/dev/null; done
        kept=""
        for q in $QUERIES; do kept+=" $(search "$q")"; done
        reads_before=$(grep -c 'posting lists read' "$WORK/server.log" || true)
        import=$(curl -s -o /dev/null -w '%{http_code} in %{time_total} s' -H "Authorization: Bearer $admin" \
            -H 'Content-Type: application/x-ndjson' --data-binary "@$FILE" "$base/v1/import")
        sleep 3
        reads_after=$(grep -c 'posting lists read' "$WORK/server.log" || true)
        last_read=""
        if (( reads_after > reads_before )); then
            last_read=$(grep -o 'posting lists read.*' "$WORK/server.log" | tail -1 | grep -o 'seconds=[0-9.]*' || true)
        fi
        line="round $round  $binary  import $import  kept before:$kept  first after:"
        for q in $QUERIES; do line+=" ${q//%20/ }=$(search "$q")"; done
        echo "$line  lists read after the import, before a search: ${last_read:-none}"
        kill "$pid"
        wait "$pid" 2>/dev/null || true
    done
done
