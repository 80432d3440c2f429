#!/usr/bin/env bash
# Contract check: runs schemathesis (4.x) against a freshly started claimtrail
# server and the committed spec, openapi/openapi.json.
#
#   bash scripts/schemathesis.sh [path/to/claimtrail]   # default target/debug/claimtrail
#
# The server gets a fresh SQLite database and an admin API key in a temp dir;
# everything (database, server log, schemathesis reports) stays in that dir.
# It is removed on success and kept on failure for inspection.
set -euo pipefail
# A binary path given relative to the caller's directory still works after the cd.
BIN=$(realpath -m -- "${1:-$(dirname "${BASH_SOURCE[0]}")/../target/debug/claimtrail}")
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

SPEC=openapi/openapi.json
[[ -x $BIN ]] || { echo "error: server binary $BIN not found (run cargo build)" >&2; exit 1; }
[[ -f $SPEC ]] || { echo "error: $SPEC not found" >&2; exit 1; }

# Use schemathesis through the same python3 that pip installs it into.
if ! python3 -c 'import sys, schemathesis; sys.exit(schemathesis.__version__.split(".")[0] != "4")' 2>/dev/null; then
    echo "==> installing schemathesis 4.x from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check 'schemathesis>=4,<5' </dev/null
fi
echo "==> schemathesis $(python3 -c 'import schemathesis; print(schemathesis.__version__)')"

DIR=$(mktemp -d -t claimtrail-st.XXXXXX)
SERVER_PID=
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local status=$?
    if [[ -n $SERVER_PID ]]; then
        # SIGINT stops actix at once (SIGTERM would drain for up to 30 s).
        kill -INT "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ $status -eq 0 ]]; then
        rm -rf "$DIR"
    else
        echo "schemathesis.sh failed; database, server log and report kept in $DIR" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Only loopback is involved: keep any CI proxy settings out of the way.
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

DB=$DIR/st.db
# `keys create` prints the new key as the last line of stdout.
KEY=$("$BIN" --database-url "$DB" keys create --name schemathesis --scope admin </dev/null | tail -n1)
[[ -n $KEY ]] || { echo "error: keys create printed no key" >&2; exit 1; }

PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
"$BIN" --database-url "$DB" serve --bind "127.0.0.1:$PORT" --no-seed </dev/null >"$DIR/server.log" 2>&1 &
SERVER_PID=$!

echo "==> waiting for $BASE/readyz"
ready=
for _ in $(seq 60); do
    if curl -fsS --noproxy '*' --max-time 2 -o /dev/null "$BASE/readyz" 2>/dev/null; then
        ready=1
        break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break # the server died: no point waiting
    sleep 0.5
done
if [[ -z $ready ]]; then
    echo "error: server exited or /readyz was not 200 within 30 s; server log tail:" >&2
    tail -n 40 "$DIR/server.log" >&2 || true
    exit 1
fi

# schemathesis writes its crash cache to ./.schemathesis and Hypothesis to
# ./.hypothesis, so run it from the temp dir; a committed schemathesis.toml
# would then not be found by itself, hence --config-file.
ST_CONFIG=()
if [[ -f schemathesis.toml ]]; then
    ST_CONFIG=(--config-file "$ROOT/schemathesis.toml")
fi
# Hooks teach schemathesis the media types it has no serializer for
# (application/x-ndjson, the body of POST /v1/import).
export SCHEMATHESIS_HOOKS="$ROOT/scripts/schemathesis_hooks.py"

# -n 30 examples per operation and per phase keeps the run under a minute.
# No --checks: schemathesis 4 runs every check by default, and naming them
# all (`--checks all`) enables each one explicitly, over the operations'
# settings in schemathesis.toml (in 4.32 the use-after-free check then ran
# on the revisions of a deleted resource, which are kept by design).
# No --max-time: in schemathesis 4 it makes fuzzing and stateful testing
# repeat until the whole budget is spent. One worker: with two threads,
# Python 3.11's `ast` sometimes fails inside Hypothesis ("SystemError: AST
# constructor recursion depth mismatch", CPython gh-106905), which
# schemathesis reports as an error of the operation under test.
echo "==> schemathesis run $SPEC against $BASE"
status=0
(cd "$DIR" && exec python3 -m schemathesis.cli "${ST_CONFIG[@]}" run "$ROOT/$SPEC" \
    --url "$BASE" \
    -H "Authorization: Bearer $KEY" \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples 30 \
    --workers 1 \
    --request-timeout 5 \
    --generation-database none \
    --report junit --report-dir "$DIR/report" \
    </dev/null) || status=$?
exit "$status"
