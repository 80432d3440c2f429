#!/usr/bin/env bash
# Runs benches/backends.rs, the same read and write benchmark on SQLite and
# PostgreSQL, and prints the figures side by side.
#
#   bash benches/backends.sh
#
# With CLAIMTRAIL_BENCH_PG_URL set (a URL that may CREATE DATABASE), it runs
# `cargo bench --bench backends` against that server. Otherwise it borrows
# scripts/test.sh's throwaway PostgreSQL 15 cluster: test.sh starts it, sets
# CLAIMTRAIL_TEST_PG_URL (which the bench reads too), runs `cargo test` with
# the arguments given, and stops the cluster even on failure; `cargo test
# --release --bench backends` builds the bench with the same optimised
# profile as `cargo bench` and runs it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ -n "${CLAIMTRAIL_BENCH_PG_URL:-}" ]]; then
    exec cargo bench --bench backends
fi
exec bash scripts/test.sh --release --bench backends
