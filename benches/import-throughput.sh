#!/usr/bin/env bash
# Import throughput of claimtrail builds, side by side: one export of
# generated claims, imported into a fresh SQLite database by each build in
# turn, several rounds interleaved; records/s and peak RSS (the memory-mapped
# database pages included) per round, and the median rate.
#
#   bash benches/import-throughput.sh BINARY [BINARY ...]
#
# Settings (environment): CLAIMS (default 100000), ROUNDS (default 3),
# WORK (a scratch directory; default a new temp dir), VIA (`cli`, the
# default: `claimtrail import FILE`; `http`: a server on a loopback port is
# sent the file by `POST /v1/import` with an admin key, and the peak RSS is
# the server's, from its `VmHWM`, upload and temporary file included). The export is made by
# the first binary (`generate --seed 1`, then `export --without-history`
# when it knows the flag) and read by all, so every build imports the same
# records.
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 BINARY [BINARY ...]" >&2; exit 2; }
CLAIMS=${CLAIMS:-100000}
VIA=${VIA:-cli}
[[ $VIA == cli || $VIA == http ]] || { echo "VIA is cli or http, not $VIA" >&2; exit 2; }
PORT=${PORT:-18089}
ROUNDS=${ROUNDS:-3}
WORK=${WORK:-$(mktemp -d -t claimtrail-import.XXXXXX)}
first=$1
file=$WORK/export.ndjson
if [[ ! -s $file ]]; then
    "$first" --database-url "$WORK/source.db" --no-seed generate --claims "$CLAIMS" --seed 1 >&2
    if "$first" export --help 2>/dev/null | grep -q -- --without-history; then
        "$first" --database-url "$WORK/source.db" export --without-history --output "$file" 2>&1 | tail -1 >&2
    else
        "$first" --database-url "$WORK/source.db" export --output "$file" 2>&1 | tail -1 >&2
    fi
fi
records=$(( $(wc -l <"$file") - 2 ))
echo "import of $records records ($CLAIMS generated claims), SQLite, $ROUNDS rounds interleaved, by $VIA"

# Imports the file into a new database through a server, timing the
# request alone (start, end); writes the server's peak RSS in KiB to
# $WORK/peak once it has answered.
import_over_http() {
    local binary=$1 db=$2 key server status
    key=$("$binary" --database-url "$db" keys create --name bench --scope admin 2>/dev/null)
    "$binary" --database-url "$db" --no-seed --bind "127.0.0.1:$PORT" serve >"$WORK/server.log" 2>&1 &
    server=$!
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    start=$(date +%s.%N)
    status=$(curl -s -o "$WORK/response" -w '%{http_code}' -H "Authorization: Bearer $key" \
        -H 'Content-Type: application/x-ndjson' --data-binary @"$file" "http://127.0.0.1:$PORT/v1/import")
    end=$(date +%s.%N)
    awk '/^VmHWM/ {print $2}' "/proc/$server/status" >"$WORK/peak"
    kill "$server"
    wait "$server" 2>/dev/null || true
    [[ $status == 200 ]] || { echo "the import answered $status: $(head -c 500 "$WORK/response")" >&2; exit 1; }
}
declare -A rates
for round in $(seq 1 "$ROUNDS"); do
    for binary in "$@"; do
        db=$WORK/target.db
        rm -f "$db" "$db-wal" "$db-shm"
        "$binary" --database-url "$db" migrate >/dev/null 2>&1
        if [[ $VIA == http ]]; then
            import_over_http "$binary" "$db"
        else
            start=$(date +%s.%N)
            /usr/bin/time -f %M -o "$WORK/peak" "$binary" --database-url "$db" import "$file" >/dev/null
            end=$(date +%s.%N)
        fi
        rate=$(python3 -c "print(round($records / ($end - $start)))")
        rates[$binary]+="$rate "
        printf 'round %d  %-40s %8.1f s  %8d records/s  peak RSS %5d MiB\n' "$round" "$binary" \
            "$(python3 -c "print($end - $start)")" "$rate" "$(( $(tail -n1 "$WORK/peak") / 1024 ))"
    done
done
echo
for binary in "$@"; do
    median=$(python3 -c "import statistics,sys; print(round(statistics.median(map(int, sys.argv[1:]))))" ${rates[$binary]})
    printf 'median  %-40s %8d records/s\n' "$binary" "$median"
done
