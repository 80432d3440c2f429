#!/usr/bin/env bash
# Reads of two builds side by side: each serves its own database (one
# worker, both pinned to core 0), and one client on core 1 alternates the
# same GETs between them (benches/read_ab.py): medians and p90 per path.
#
#   bash benches/read-ab.sh BINARY_A DB_A BINARY_B DB_B CLAIM_ID
#
# The databases of benches/revision-cost.sh (WORK=…) fit: the same
# generated claims, so CLAIM_ID is in both. N (default 200) rounds per path.
set -euo pipefail
[[ $# -eq 5 ]] || { echo "usage: $0 BINARY_A DB_A BINARY_B DB_B CLAIM_ID" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
pa=$(free_port); pb=$(free_port)
CLAIMTRAIL_WORKERS=1 taskset -c 0 "$1" --database-url "$2" --bind "127.0.0.1:$pa" --no-seed --log error serve &
a=$!
CLAIMTRAIL_WORKERS=1 taskset -c 0 "$3" --database-url "$4" --bind "127.0.0.1:$pb" --no-seed --log error serve &
b=$!
trap 'kill $a $b 2>/dev/null || true' EXIT
for port in "$pa" "$pb"; do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
done
taskset -c 1 python3 "$here/read_ab.py" "$pa" "$pb" "${N:-200}" /healthz "/v1/claims/$5" "/v1/claims?limit=50" \
    "/v1/claims?q=security&limit=50" "/v1/claims?q=bubika&limit=50" "/v1/agents?limit=50" "/v1/sources?limit=50"
