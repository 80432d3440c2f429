#!/usr/bin/env bash
# What keeping every revision costs in disk: each build generates CLAIMS
# claims into a fresh SQLite database, serves it, and every claim is then
# patched twice over HTTP (4 clients); the database's size is reported after
# a checkpoint, with the patches' throughput and latency. Give the binaries
# of two commits, alternating (A B A B), to compare them in one run.
#
#   bash benches/revision-cost.sh BINARY [BINARY ...]
#
# Settings (environment): CLAIMS (default 100000), WORK (scratch directory).
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 BINARY [BINARY ...]" >&2; exit 2; }
CLAIMS=${CLAIMS:-100000}
WORK=${WORK:-$(mktemp -d -t claimtrail-revisions.XXXXXX)}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
printf '%-40s %10s %10s %8s %8s %13s\n' binary "size MiB" "patches/s" "p50 ms" "p99 ms" "size/claim B"
for binary in "$@"; do
    db=$WORK/$(basename "$binary").db
    rm -f "$db" "$db-wal" "$db-shm"
    "$binary" --database-url "$db" --no-seed generate --claims "$CLAIMS" --seed 1 >/dev/null 2>&1
    key=$("$binary" --database-url "$db" keys create --name bench --scope write 2>/dev/null | tail -1)
    port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    "$binary" --database-url "$db" --bind "127.0.0.1:$port" --no-seed --log error serve &
    server=$!
    trap 'kill $server 2>/dev/null || true' EXIT
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
    read -r rate p50 p99 < <(python3 "$here/patch_all.py" "$db" "http://127.0.0.1:$port" "$key")
    kill "$server"; wait "$server" 2>/dev/null || true
    trap - EXIT
    python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('PRAGMA wal_checkpoint(TRUNCATE)'); c.close()" "$db"
    bytes=$(( $(stat -c %s "$db") + $( [[ -f $db-wal ]] && stat -c %s "$db-wal" || echo 0) ))
    printf '%-40s %10.1f %10s %8s %8s %13d\n' "$binary" "$(python3 -c "print($bytes/1048576)")" "$rate" "$p50" "$p99" \
        $((bytes / CLAIMS))
done
