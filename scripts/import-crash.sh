#!/usr/bin/env bash
# kill -9 of `claimtrail import` at chosen moments, then a check that the
# next start rolled the import back: no claims, the file whole, WAL mode.
# The command-line import writes a file it has alone with a rollback
# journal (see `FileUse::Sole`); this is the check that a large one, whose
# pages reach the file before its commit, is all or nothing when cut off.
#
#   bash scripts/import-crash.sh BINARY EXPORT_FILE SECONDS [SECONDS ...]
#
# Each SECONDS is one cycle: a fresh database, the import started, killed
# that long after. Exits 1 if a cycle finds anything imported or damaged.
set -euo pipefail
[[ $# -ge 3 ]] || { echo "usage: $0 BINARY EXPORT_FILE SECONDS [SECONDS ...]" >&2; exit 2; }
bin=$1 file=$2; shift 2
work=$(mktemp -d -t claimtrail-import-crash.XXXXXX)
trap 'rm -rf "$work"' EXIT
status=0
for after in "$@"; do
    db=$work/target.db
    rm -f "$db" "$db-wal" "$db-shm" "$db-journal"
    "$bin" --database-url "$db" migrate >/dev/null 2>&1
    "$bin" --database-url "$db" import "$file" >/dev/null 2>&1 &
    pid=$!
    sleep "$after"
    if kill -9 "$pid" 2>/dev/null; then killed=killed; else killed="had ended"; fi
    wait "$pid" 2>/dev/null || true
    size=$(stat -c %s "$db")
    journal=$([[ -e $db-journal ]] && stat -c %s "$db-journal" || echo none)
    # Opening the file (export) rolls a journal left behind back.
    claims=$("$bin" --database-url "$db" export 2>/dev/null | grep -c '"type":"claim"' || true)
    checks=$(python3 - "$db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("PRAGMA journal_mode").fetchone()[0], c.execute("PRAGMA integrity_check").fetchone()[0])
PY
)
    printf 'after %5s s: %-9s file %6d MiB, journal left %s bytes; then %s claims, %s\n' \
        "$after" "$killed" $((size / 1048576)) "$journal" "$claims" "$checks"
    if [[ $killed == killed && $claims != 0 ]] || [[ $checks != "wal ok" ]]; then status=1; fi
done
exit $status
