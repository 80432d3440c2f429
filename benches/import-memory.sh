#!/usr/bin/env bash
# Peak memory of an import: `POST /v1/import` (a chunked upload, as curl
# sends a file with Transfer-Encoding: chunked) and `claimtrail import`, each
# into a fresh SQLite database.
#
#   bash benches/import-memory.sh FILE.ndjson [BINARY ...]
#
# For each binary (default target/release/claimtrail): the server's peak
# resident set (VmHWM) just after it starts and after the import, and the
# CLI's (`/usr/bin/time -v`). Make a file with e.g.
#   claimtrail --database-url /tmp/gen.db generate --claims 130000
#   claimtrail --database-url /tmp/gen.db export --output /tmp/import.ndjson
set -euo pipefail
FILE=$(realpath -- "${1:?usage: import-memory.sh FILE.ndjson [BINARY ...]}")
shift
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BINARIES=("$@")
[[ ${#BINARIES[@]} -gt 0 ]] || BINARIES=(target/release/claimtrail)
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

DIR=$(mktemp -d -t claimtrail-import-mem.XXXXXX)
SERVER=
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    [[ -n $SERVER ]] && kill -9 "$SERVER" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT

hwm() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

printf 'file: %s (%.0f MiB)\n' "$FILE" "$(($(stat -c %s "$FILE") / 1048576))"
printf '%-45s %12s %14s %10s %14s %8s\n' binary "server start" "after import" "http s" "CLI import" "CLI s"
for bin in "${BINARIES[@]}"; do
    rm -f "$DIR"/*.db*
    "$bin" --database-url "$DIR/http.db" migrate >/dev/null
    key=$("$bin" --database-url "$DIR/http.db" keys create --name bench --scope admin 2>/dev/null | tail -n1)
    p=$(port)
    "$bin" --database-url "$DIR/http.db" --bind "127.0.0.1:$p" --no-seed --log warn \
        --max-import-bytes 1073741824 serve >"$DIR/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 200); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.05; done
    start=$(hwm "$SERVER")
    t0=$(date +%s.%N)
    status=$(curl -s -o "$DIR/report.json" -w '%{http_code}' -X POST -T "$FILE" \
        -H "Transfer-Encoding: chunked" -H "Authorization: Bearer $key" \
        -H 'Content-Type: application/x-ndjson' "http://127.0.0.1:$p/v1/import")
    t1=$(date +%s.%N)
    [[ $status == 200 ]] || { echo "import answered $status: $(head -c 400 "$DIR/report.json")" >&2; exit 1; }
    after=$(hwm "$SERVER")
    kill -9 "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
    "$bin" --database-url "$DIR/cli.db" migrate >/dev/null
    /usr/bin/time -v -o "$DIR/time.txt" "$bin" --database-url "$DIR/cli.db" import "$FILE" >/dev/null 2>"$DIR/cli.log"
    cli=$(awk -F: '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$DIR/time.txt")
    cli_s=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$DIR/time.txt")
    printf '%-45s %9s MiB %11s MiB %10.1f %11s MiB %8s\n' "$bin" "$start" "$after" "$(echo "$t1 - $t0" | bc)" "$cli" "$cli_s"
done
