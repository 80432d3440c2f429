#!/usr/bin/env bash
# The checks a client author relies on, against the committed
# openapi/openapi.json and a freshly seeded server:
#   1. lint: Redocly (recommended rules) and Spectral (spectral:oas), no error, no warning;
#   2. the TypeScript types (clients/typescript/src/schema.d.ts) are what
#      openapi-typescript generates from the document;
#   3. the example program type-checks (tsc --strict --noEmit), holds no
#      `any` and no casts, and runs end to end against the server;
#   4. Swagger UI at /docs/ executes getClaim and listClaims with the
#      document's examples and renders a 200 (headless Debian Chromium).
#
#   bash scripts/clients.sh [path/to/claimtrail]   # default target/debug/claimtrail
#
# npm packages are pinned in clients/typescript/package.json and
# package-lock.json and installed with `npm ci` when missing; Chromium comes
# from Debian (installed as root when missing; never downloaded by npm).
set -euo pipefail
BIN=$(realpath -m -- "${1:-$(dirname "${BASH_SOURCE[0]}")/../target/debug/claimtrail}")
cd "$(dirname "${BASH_SOURCE[0]}")/../clients/typescript"
[[ -x $BIN ]] || { echo "error: server binary $BIN not found (run cargo build)" >&2; exit 1; }

# No telemetry, update checks or browser downloads from the tools.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
export PUPPETEER_SKIP_DOWNLOAD=1 NO_UPDATE_NOTIFIER=1 npm_config_update_notifier=false
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
export CHROMIUM

timings=()
timed() {
    local name=$1
    shift
    local start=$SECONDS
    echo "==> $name"
    "$@"
    timings+=("$(printf '%4ds  %s' $((SECONDS - start)) "$name")")
}

install_packages() {
    # node_modules/.package-lock.json is npm's record of what it installed.
    if [[ -f node_modules/.package-lock.json && ! package-lock.json -nt node_modules/.package-lock.json ]]; then
        echo "npm packages already installed"
    else
        npm ci --no-audit --no-fund --ignore-scripts </dev/null
    fi
}

install_chromium() {
    if [[ -x $CHROMIUM ]]; then
        "$CHROMIUM" --version 2>/dev/null || true
        return
    fi
    if [[ $(id -u) -ne 0 ]]; then
        echo "error: $CHROMIUM not found; install Debian's chromium (apt-get install chromium) or set CHROMIUM" >&2
        exit 1
    fi
    apt-get update -qq </dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium </dev/null >/dev/null
}

lint_redocly() { npx --no-install redocly lint --config redocly.yaml --format=stylish ../../openapi/openapi.json; }
lint_spectral() { npx --no-install spectral lint --ruleset .spectral.yaml --fail-severity=hint ../../openapi/openapi.json; }

types_are_generated() {
    local generated
    generated=$(mktemp -t claimtrail-schema.XXXXXX.d.ts)
    npx --no-install openapi-typescript ../../openapi/openapi.json --redocly redocly.yaml -o "$generated" >/dev/null
    if ! diff -u src/schema.d.ts "$generated" >/dev/null; then
        diff -u src/schema.d.ts "$generated" | head -n 40 >&2
        rm -f "$generated"
        echo "error: clients/typescript/src/schema.d.ts is not what openapi-typescript generates from" \
            "openapi/openapi.json; regenerate it with (cd clients/typescript && npm run generate)" >&2
        return 1
    fi
    rm -f "$generated"
}

typecheck() {
    npx --no-install tsc -p . --strict --noEmit
    node checks/no-casts.mjs
}

build() { rm -rf dist && npx --no-install tsc -p .; }

DIR=$(mktemp -d -t claimtrail-clients.XXXXXX)
SERVER_PID=
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local status=$?
    if [[ -n $SERVER_PID ]]; then
        kill -INT "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ $status -eq 0 ]]; then
        rm -rf "$DIR"
    else
        echo "clients.sh failed; database and server log kept in $DIR" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_server() {
    local db=$DIR/clients.db port
    # A fresh database, migrated and seeded as a first start does; then a key.
    "$BIN" --database-url "$db" seed </dev/null >/dev/null
    KEY=$("$BIN" --database-url "$db" keys create --name example --scope write </dev/null 2>/dev/null | tail -n1)
    port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    BASE=http://127.0.0.1:$port
    "$BIN" --database-url "$db" serve --bind "127.0.0.1:$port" </dev/null >"$DIR/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 60); do
        if curl -fsS --max-time 2 -o /dev/null "$BASE/readyz" 2>/dev/null; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.5
    done
    echo "error: the server did not answer /readyz; log tail:" >&2
    tail -n 40 "$DIR/server.log" >&2 || true
    return 1
}

run_example() { CLAIMTRAIL_URL=$BASE CLAIMTRAIL_KEY=$KEY node dist/example.js; }
run_swagger_ui() { CLAIMTRAIL_URL=$BASE node checks/swagger-ui.mjs; }

timed "npm packages (npm ci when missing)" install_packages
timed "Chromium from Debian (when missing)" install_chromium
timed "redocly lint (recommended)" lint_redocly
timed "spectral lint (spectral:oas)" lint_spectral
timed "TypeScript types are generated from the committed document" types_are_generated
timed "tsc --strict --noEmit, no any, no casts" typecheck
timed "tsc build of the example" build
timed "start a seeded server" start_server
timed "example program against the server" run_example
timed "Swagger UI in headless Chromium" run_swagger_ui

echo "==> client checks passed; seconds per step:"
printf '%s\n' "${timings[@]}"
