#!/usr/bin/env bash
# Builds of claimtrail side by side under wrk, on one database: each binary
# in turn serves DB alone (one worker, pinned to core 0, request log at
# `warn`, nothing throttled), `wrk -t1 -c8` on core 1 gives it 2 s of
# warm-up and then SECONDS of load; rounds interleave the binaries. Prints,
# per round and binary, requests per second and the server's CPU time per
# request (user + system time of all its threads, from /proc).
#
#   bash benches/wrk-ab.sh DB ROUNDS SECONDS TARGET BINARY...
#
# TARGET is a path (`/healthz`, `/v1/claims?limit=50`) or a wrk Lua script
# (`*.lua`) that makes the requests, e.g. one card after another:
#
#   local ids = {}
#   for line in io.lines("/tmp/ids.txt") do ids[#ids + 1] = line end
#   local i = 0
#   request = function()
#     i = i % #ids + 1
#     return wrk.format("GET", "/v1/claims/" .. ids[i])
#   end
#
# with /tmp/ids.txt from `sqlite3 DB "SELECT id FROM claims ORDER BY
# random() LIMIT 1000"`. Needs wrk, curl, python3, taskset. The server
# listens on 127.0.0.1:PORT (default 18095).
set -euo pipefail
(($# >= 5)) || { sed -n '2,23p' "$0"; exit 2; }
DB=$1; ROUNDS=$2; SECS=$3; TARGET=$4; shift 4
PORT=${PORT:-18095}
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
if [[ $TARGET == *.lua ]]; then args=(-s "$TARGET" "http://127.0.0.1:$PORT"); else args=("http://127.0.0.1:$PORT$TARGET"); fi
for round in $(seq 1 "$ROUNDS"); do
    for bin in "$@"; do
        CLAIMTRAIL_WORKERS=1 CLAIMTRAIL_LOG=warn taskset -c 0 "$bin" --database-url "$DB" --no-seed \
            --rate-limit off --concurrency-limit off serve --bind "127.0.0.1:$PORT" >/dev/null 2>&1 &
        pid=$!
        for _ in $(seq 100); do curl -sf "127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
        taskset -c 1 wrk -t1 -c8 -d2s "${args[@]}" >/dev/null
        before=$(cpu "$pid")
        out=$(taskset -c 1 wrk -t1 -c8 -d"${SECS}"s "${args[@]}")
        after=$(cpu "$pid")
        rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
        n=$(awk '/requests in/ {print $1}' <<<"$out")
        us=$(python3 -c "print(round(($after - $before) / $tck / $n * 1e6, 1))")
        echo "round $round  $bin  req/s $rps  cpu_us/req $us"
        kill "$pid"
        wait "$pid" 2>/dev/null || true
    done
done
