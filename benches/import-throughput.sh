#!/usr/bin/env bash
# Import throughput of claimtrail builds, side by side: one export of
# generated claims, imported into a fresh SQLite database by each build in
# turn, several rounds interleaved; records/s and peak RSS (the memory-mapped
# database pages included) per round, and the median rate.
#
#   bash benches/import-throughput.sh BINARY [BINARY ...]
#
# Settings (environment): CLAIMS (default 100000), ROUNDS (default 3),
# WORK (a scratch directory; default a new temp dir), PG_URL (a PostgreSQL
# superuser URL, e.g. postgres://postgres@127.0.0.1:5432/postgres: then
# each round imports into a new database on that server instead of a
# SQLite file, and drops it after). The export is made by the first binary
# (`generate --seed 1`, then `export --without-history` when it knows the
# flag) and read by all, so every build imports the same records.
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 BINARY [BINARY ...]" >&2; exit 2; }
CLAIMS=${CLAIMS:-100000}
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
backend=SQLite; [[ -n ${PG_URL:-} ]] && backend=PostgreSQL
echo "import of $records records ($CLAIMS generated claims), $backend, $ROUNDS rounds interleaved"
declare -A rates
for round in $(seq 1 "$ROUNDS"); do
    for binary in "$@"; do
        if [[ -n ${PG_URL:-} ]]; then
            psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS claimtrail_import_bench" -c "CREATE DATABASE claimtrail_import_bench"
            db=${PG_URL%/*}/claimtrail_import_bench
        else
            db=$WORK/target.db
            rm -f "$db" "$db-wal" "$db-shm"
        fi
        "$binary" --database-url "$db" migrate >/dev/null 2>&1
        start=$(date +%s.%N)
        /usr/bin/time -f %M -o "$WORK/peak" "$binary" --database-url "$db" import "$file" >/dev/null
        end=$(date +%s.%N)
        rate=$(python3 -c "print(round($records / ($end - $start)))")
        rates[$binary]+="$rate "
        printf 'round %d  %-40s %8.1f s  %8d records/s  peak RSS %5d MiB\n' "$round" "$binary" \
            "$(python3 -c "print($end - $start)")" "$rate" "$(( $(tail -n1 "$WORK/peak") / 1024 ))"
    done
done
if [[ -n ${PG_URL:-} ]]; then
    psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS claimtrail_import_bench"
fi
echo
for binary in "$@"; do
    median=$(python3 -c "import statistics,sys; print(round(statistics.median(map(int, sys.argv[1:]))))" ${rates[$binary]})
    printf 'median  %-40s %8d records/s\n' "$binary" "$median"
done
