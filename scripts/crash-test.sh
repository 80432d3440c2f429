#!/usr/bin/env bash
# Crash test: N cycles of kill -9 under concurrent writers, on SQLite or
# PostgreSQL; every acknowledged write must survive, and the database must
# pass its integrity checks (scripts/crash_test.py does the cycles).
#
#   bash scripts/crash-test.sh [--backend sqlite|postgres] [--cycles N] [--writers W]
#                              [--binary PATH] [--durability normal|full] [--seed S]
#
# Without --binary it builds and uses the release binary. For PostgreSQL it
# starts a cluster of its own in a temp dir (Debian's postgresql-15, installed
# if missing), with fsync on, and crashes it too each cycle
# (`pg_ctl stop -m immediate`). Everything stays on loopback; the temp dir is
# removed on success and kept on failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BACKEND=sqlite CYCLES=3 WRITERS=8 BIN= DURABILITY=normal SEED=1
while [[ $# -gt 0 ]]; do
    case $1 in
    --backend) BACKEND=$2; shift 2 ;;
    --cycles) CYCLES=$2; shift 2 ;;
    --writers) WRITERS=$2; shift 2 ;;
    --binary) BIN=$(realpath -m -- "$2"); shift 2 ;;
    --durability) DURABILITY=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
if [[ -z $BIN ]]; then
    cargo build --release
    BIN=$PWD/target/release/claimtrail
fi
[[ -x $BIN ]] || { echo "error: no binary at $BIN" >&2; exit 1; }
export CLAIMTRAIL_DURABILITY=$DURABILITY
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

DIR=$(mktemp -d -t claimtrail-crash.XXXXXX)
PG_BIN=/usr/lib/postgresql/15/bin
PG_USER=
as_pg() {
    if [[ -n $PG_USER ]]; then (cd "$DIR" && runuser -u "$PG_USER" -- "$@"); else (cd "$DIR" && "$@"); fi
}
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local status=$?
    if [[ -f $DIR/pg/postmaster.pid ]]; then
        as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [[ $status -eq 0 ]]; then rm -rf "$DIR"; else echo "crash test failed; files kept in $DIR" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PORT=$(free_port)
PG_ARGS=()
case $BACKEND in
sqlite)
    DATABASE_URL=$DIR/crash.db
    ;;
postgres)
    if [[ ! -x $PG_BIN/initdb ]]; then
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 </dev/null
    fi
    if [[ $(id -u) -eq 0 ]]; then
        PG_USER=postgres
        id -u "$PG_USER" >/dev/null 2>&1 || { PG_USER=claimtrail-test; id -u "$PG_USER" >/dev/null 2>&1 ||
            useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"; }
        chown "$PG_USER" "$DIR"
    fi
    as_pg "$PG_BIN/initdb" -D "$DIR/pg" -A trust -U claimtrail --encoding=UTF8 --locale=C --no-instructions >"$DIR/initdb.log"
    PG_PORT=$(free_port)
    # fsync and synchronous_commit stay on: this is about durability.
    PG_OPTIONS="-c listen_addresses=127.0.0.1 -p $PG_PORT -k $DIR -c max_connections=50"
    as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg" -l "$DIR/postgres.log" -w -o "$PG_OPTIONS" start >/dev/null
    as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U claimtrail claimtrail
    DATABASE_URL=postgres://claimtrail@127.0.0.1:$PG_PORT/claimtrail
    PG_CTL="$PG_BIN/pg_ctl -D $DIR/pg -l $DIR/postgres.log"
    [[ -n $PG_USER ]] && PG_CTL="runuser -u $PG_USER -- $PG_CTL"
    PG_ARGS=(--pg-ctl "$PG_CTL" --pg-start-options "$PG_OPTIONS"
        --amcheck "$PG_BIN/pg_amcheck -h 127.0.0.1 -p $PG_PORT -U claimtrail")
    ;;
*) echo "--backend is sqlite or postgres" >&2; exit 2 ;;
esac

"$BIN" --database-url "$DATABASE_URL" migrate >/dev/null
KEY=$("$BIN" --database-url "$DATABASE_URL" keys create --name crash-test --scope write </dev/null | tail -n1)
echo "==> crash test: $BACKEND, $CYCLES cycles, $WRITERS writers, durability $DURABILITY, $BIN"
python3 scripts/crash_test.py --backend "$BACKEND" --binary "$BIN" --database-url "$DATABASE_URL" \
    --workdir "$DIR" --port "$PORT" --key "$KEY" --cycles "$CYCLES" --writers "$WRITERS" --seed "$SEED" \
    "${PG_ARGS[@]}"
