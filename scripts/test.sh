#!/usr/bin/env bash
# Runs the test suite against a throwaway PostgreSQL 15 cluster.
#
#   bash scripts/test.sh            # all tests
#   bash scripts/test.sh claims     # extra args go to `cargo test`
#
# The tests read CLAIMTRAIL_TEST_PG_URL (a superuser URL; every test creates its
# own database from it). If it is already set, no cluster is started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ -n "${CLAIMTRAIL_TEST_PG_URL:-}" ]]; then
    echo "==> using existing PostgreSQL at CLAIMTRAIL_TEST_PG_URL"
    exec cargo test "$@"
fi

# Use Debian's binaries explicitly: /usr/local/bin may hold other copies.
PG_BIN=/usr/lib/postgresql/15/bin

have_pg() { [[ -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl && -x $PG_BIN/postgres ]]; }

if ! have_pg; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "error: PostgreSQL 15 server binaries not found in $PG_BIN." >&2
        echo "       Install them as root: apt-get update && apt-get install -y postgresql-15" >&2
        echo "       (or set CLAIMTRAIL_TEST_PG_URL to a superuser URL of a running server)." >&2
        exit 1
    fi
    echo "==> installing postgresql-15 from Debian"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 </dev/null
    have_pg || { echo "error: $PG_BIN still lacks initdb/pg_ctl/postgres" >&2; exit 1; }
fi

# initdb and postgres refuse to run as root: as root, run them as an
# unprivileged user (Debian's `postgres` if present, else a dedicated one).
if [[ $(id -u) -eq 0 ]]; then
    if id -u postgres >/dev/null 2>&1; then
        PG_USER=postgres
    else
        PG_USER=claimtrail-test
        id -u "$PG_USER" >/dev/null 2>&1 ||
            useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
    fi
fi

# Everything lives in one temp dir owned by the server's user: data dir, log,
# and the unix socket (-k), so nothing touches /var/run/postgresql.
TMP=$(mktemp -d -t claimtrail-pg.XXXXXX)
PGDATA_DIR=$TMP/data
PG_LOG=$TMP/postgres.log
if [[ -n "${PG_USER:-}" ]]; then
    chown "$PG_USER" "$TMP"
fi

# Run a PostgreSQL binary as the server's user, from a directory it can enter.
as_pg() {
    if [[ -n "${PG_USER:-}" ]]; then
        (cd "$TMP" && runuser -u "$PG_USER" -- "$@")
    else
        (cd "$TMP" && "$@")
    fi
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    if [[ -f $PGDATA_DIR/postmaster.pid ]]; then
        as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w stop >/dev/null 2>&1 || true
        # Belt and braces: if pg_ctl could not stop it, kill the postmaster.
        if [[ -f $PGDATA_DIR/postmaster.pid ]]; then
            kill -9 "$(head -n1 "$PGDATA_DIR/postmaster.pid")" 2>/dev/null || true
        fi
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
# Turn signals into a normal exit so the EXIT trap still cleans up.
trap 'exit 130' INT
trap 'exit 143' TERM

# C.UTF-8 is built into Debian's glibc; fall back to C where it is missing.
if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
    PG_LOCALE=C.UTF-8
else
    PG_LOCALE=C
fi

echo "==> initdb ($PG_LOCALE) in $PGDATA_DIR"
if ! as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -A trust -U claimtrail \
    --encoding=UTF8 --locale="$PG_LOCALE" --no-sync --no-instructions \
    >"$TMP/initdb.log" 2>&1; then
    cat "$TMP/initdb.log" >&2
    echo "error: initdb failed" >&2
    exit 1
fi

free_port() {
    # Ask the kernel for a free port; without python3, guess (the retry below
    # covers a clash).
    python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 30000))
}

# Another process could grab the free port before postgres binds it: retry.
started=
for _attempt in 1 2 3; do
    PG_PORT=$(free_port)
    # Durability is pointless for a throwaway cluster; the per-test databases
    # need plenty of connections.
    if as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -w -t 60 start -o \
        "-c listen_addresses=127.0.0.1 -p $PG_PORT -k '$TMP' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        >/dev/null; then
        started=1
        break
    fi
done
if [[ -z $started ]]; then
    echo "error: PostgreSQL did not start; server log tail:" >&2
    tail -n 50 "$PG_LOG" >&2 || true
    exit 1
fi

export CLAIMTRAIL_TEST_PG_URL="postgres://claimtrail@127.0.0.1:$PG_PORT/postgres"
# Tests that stop and start a PostgreSQL of their own (the fail-fast test)
# run these binaries, as this user when run as root.
export CLAIMTRAIL_TEST_PG_BIN=$PG_BIN
export CLAIMTRAIL_TEST_PG_USER=${PG_USER:-}
echo "==> PostgreSQL 15 ready: $CLAIMTRAIL_TEST_PG_URL"

# Every response the API tests see is checked against openapi/openapi.json
# as it comes (tests/api/spec_truth.rs); each test process also notes what
# it saw here, and after a whole run one more test reads the notes: every
# operation exercised, no optional response field always present.
export CLAIMTRAIL_SPEC_OBSERVATIONS=$TMP/spec-observations
# A failing test's message, not 40 lines of backtrace, ends its report:
# CI shows the tail of the output (CLAIMTRAIL_TEST_BACKTRACE=1 to see them).
export RUST_BACKTRACE=${CLAIMTRAIL_TEST_BACKTRACE:-0}
status=0
cargo test "$@" || status=$?
if [[ $status -eq 0 && $# -eq 0 ]]; then
    echo "==> checking what the whole suite observed against the OpenAPI document"
    cargo test --test api -- --ignored --exact --nocapture \
        spec_truth::every_operation_is_exercised_and_no_optional_response_field_is_always_present || status=$?
fi
exit "$status"
