#!/usr/bin/env bash
# The first relevance search of pairs of common words on a freshly started
# server (no search made on it before), two builds side by side, several
# rounds interleaved (A then B in odd rounds, B then A in even ones), on one
# SQLite database. Per round and build: remove the file of terms beside the
# database (`DB.posting-lists.json`), so that the server reads no lists it
# kept before; start the server (metrics on a loopback listener of their
# own) and wait until /healthz answers; wait until its start-up job that
# stores posting lists has ended (the line `posting lists stored`, at info,
# up to 300 s; a build that has printed neither that nor `storing posting
# lists` 8 s after /healthz answered has no such job, and the searches then
# begin); then wait for the lists a server reads at start to be read and
# indexed (the line `posting lists read before a search asks`, at info; a
# build that has not printed it 8 s after the job ended reads none, and
# the searches begin); search each pair once, timed with curl (time_total), which must
# answer 200; print `claimtrail_posting_lists_total` and
# `claimtrail_stored_posting_lists_total` from /metrics and the server's
# VmRSS; stop it (SIGTERM). At the end, per pair and build, each round's
# time and the median; the total of the first searches (median over
# rounds); VmRSS and the wait for the start-up job, per round.
#
#   DB=/dev/shm/g/g1m.db bash benches/first-searches.sh BINARY_A BINARY_B
#
# Settings (environment): DB (required; e.g. made by `claimtrail
# --database-url g1m.db --no-seed generate --claims 1000000 --seed 1`),
# ROUNDS (default 3), PAIRS (pairs of words separated by `;`, e.g.
# PAIRS="the since;mali the;security officials"), PORT (default 8095),
# METRICS_PORT (default 9095), SETTLE (seconds to wait after that before
# the searches, default 0), LOG (the servers' log filter, default info:
# the line waited for is at info), WORK (a directory for the servers' logs,
# kept; default a new temporary one, removed at the end).
#
# The default pairs: words each in 50,000 claims or more of that database
# (`claim_term_docs`; the FTS5 tokens, claims holding each):
#   the since           830,190 / 750,610
#   mali the            560,780 / 830,190
#   security officials  128,603 / 156,414
#   army attack         129,891 / 123,661
#   stations near        92,635 /  71,946
#   fuel convoys        114,503 /  84,921
#   border crossing     105,933 /  84,862
#   displaced people     79,666 / 107,660
#   mali gold           560,780 / 149,835
#   local schools       196,963 / 120,911
set -euo pipefail
export LC_ALL=C
[[ $# -eq 2 ]] || { echo "usage: DB=... [ROUNDS=3] [PAIRS='the since;mali the'] $0 BINARY_A BINARY_B" >&2; exit 2; }
: "${DB:?set DB to a SQLite database}"
[[ -f $DB ]] || { echo "no database at $DB" >&2; exit 2; }
for binary in "$@"; do [[ -x $binary ]] || { echo "not an executable: $binary" >&2; exit 2; }; done
ROUNDS=${ROUNDS:-3}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a number of rounds, not '$ROUNDS'" >&2; exit 2; }
SETTLE=${SETTLE:-0}
[[ $SETTLE =~ ^[0-9]+$ ]] || { echo "SETTLE must be a number of seconds, not '$SETTLE'" >&2; exit 2; }
PORT=${PORT:-8095}
METRICS_PORT=${METRICS_PORT:-9095}
LOG=${LOG:-info}
PAIRS=${PAIRS:-"the since;mali the;security officials;army attack;stations near;fuel convoys;border crossing;displaced people;mali gold;local schools"}
stored_within=300 # s after /healthz: the longest wait for `posting lists stored`
job_begun_within=8 # s after /healthz: a build with no `storing posting lists` by then has no such job
preload_within=8 # s after the job: a build with no `posting lists read before a search asks` by then reads none

pairs=()
IFS=';' read -r -a listed <<<"$PAIRS"
for pair in "${listed[@]}"; do
    read -r -a words <<<"$pair"
    [[ ${#words[@]} -eq 0 ]] || pairs+=("${words[*]}")
done
[[ ${#pairs[@]} -gt 0 ]] || { echo "PAIRS names no pair: '$PAIRS'" >&2; exit 2; }

if [[ -z ${WORK:-} ]]; then
    WORK=$(mktemp -d -t claimtrail-first-searches.XXXXXX)
    remove_work=1
fi
mkdir -p "$WORK"
pid=""
cleanup() {
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    [[ -z ${remove_work:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

base="http://127.0.0.1:$PORT"
metrics="http://127.0.0.1:$METRICS_PORT/metrics"
declare -A binaries=([A]=$1 [B]=$2)
now_us() { local t=$EPOCHREALTIME; echo $((10#${t/[.,]/})); }
seconds_since() { awk -v a="$1" -v b="$(now_us)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }

# start BINARY LOG: a server on DB, in the background (its id in $pid),
# once /healthz answers.
start() {
    if curl -s -o /dev/null --max-time 2 "$base/healthz"; then
        echo "something already answers on port $PORT: set PORT to a free one" >&2
        exit 1
    fi
    if curl -s -o /dev/null --max-time 2 "$metrics"; then
        echo "something already answers on port $METRICS_PORT: set METRICS_PORT to a free one" >&2
        exit 1
    fi
    "$1" --database-url "$DB" --no-seed --bind "127.0.0.1:$PORT" \
        --metrics-bind "127.0.0.1:$METRICS_PORT" --log "$LOG" serve >"$2" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
        curl -sf -o /dev/null "$base/healthz" && return
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "the server did not start ($1): $(tail -3 "$2")" >&2
    exit 1
}
stop() {
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
}
# wait_for_job LOG: until the start-up job that stores posting lists has
# ended, or it is clear there is none, then until the lists read at start
# are (or none are); sets `job` and `waited` (s).
wait_for_job() {
    local t0 elapsed line
    t0=$(now_us)
    while :; do
        if line=$(grep -m1 'posting lists stored' "$1"); then
            line=${line#*posting lists stored}
            job="stored${line:+:$line}"
            break
        fi
        kill -0 "$pid" 2>/dev/null || { echo "the server stopped: $(tail -3 "$1")" >&2; exit 1; }
        elapsed=$(( ($(now_us) - t0) / 1000000 ))
        if (( elapsed >= job_begun_within )) && ! grep -q 'storing posting lists' "$1"; then
            job="none (no 'storing posting lists' within ${job_begun_within} s: an older build)"
            break
        fi
        if (( elapsed >= stored_within )); then
            job="not ended within ${stored_within} s"
            echo "warning: ${binaries[$b]}: 'storing posting lists' but no 'posting lists stored' within ${stored_within} s; searching anyway" >&2
            break
        fi
        sleep 0.1
    done
    local t1
    t1=$(now_us)
    until grep -q 'posting lists read before a search asks' "$1"; do
        kill -0 "$pid" 2>/dev/null || { echo "the server stopped: $(tail -3 "$1")" >&2; exit 1; }
        if (( ($(now_us) - t1) / 1000000 >= preload_within )); then
            job+="; no lists read at start"
            break
        fi
        sleep 0.1
    done
    waited=$(seconds_since "$t0")
}
# search PAIR: prints the HTTP status and the time in ms.
search() {
    local out
    out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -G --data-urlencode "q=$1" \
        --data sort=relevance "$base/v1/claims" || true)
    awk -v out="${out:-000 0}" 'BEGIN { split(out, f, " "); printf "%s %.1f", f[1], f[2] * 1000 }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.1f", v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
sum() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.1f", s }'; }

declare -A ms bad rss wait_s
failures=0
echo "first relevance search of each pair on a freshly started server (ms), $ROUNDS rounds interleaved, $DB"
echo "A: $1"
echo "B: $2"
printf 'pairs:'; printf ' "%s"' "${pairs[@]}"; printf '\n'
for round in $(seq 1 "$ROUNDS"); do
    if (( round % 2 )); then order=(A B); else order=(B A); fi
    for b in "${order[@]}"; do
        log="$WORK/round$round-$b.log"
        rm -f "$DB.posting-lists.json"
        t_start=$(now_us)
        start "${binaries[$b]}" "$log"
        up=$(seconds_since "$t_start")
        wait_for_job "$log"
        sleep "$SETTLE"
        wait_s[$b,$round]=$waited
        echo "round $round  $b  up in $up s; start-up job: $job; waited $waited s"
        line="  first searches (ms):"
        for i in "${!pairs[@]}"; do
            read -r code t <<<"$(search "${pairs[$i]}")"
            ms[$b,$round,$i]=$t
            line+="  ${pairs[$i]}=$t"
            if [[ $code != 200 ]]; then
                bad[$b,$round,$i]=$code
                failures=$((failures + 1))
                line+=" (HTTP $code!)"
                echo "warning: ${binaries[$b]}: '${pairs[$i]}' answered HTTP $code" >&2
            fi
        done
        echo "$line"
        scraped=$(curl -s --max-time 10 "$metrics" || true)
        counts=$(grep -E '^claimtrail_(stored_)?posting_lists_total' <<<"$scraped" || true)
        if [[ -n $counts ]]; then
            while IFS= read -r metric; do echo "  $metric"; done <<<"$counts"
        else
            echo "  (no claimtrail_posting_lists_total in $metrics)"
        fi
        kb=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
        rss[$b,$round]=$(awk -v kb="$kb" 'BEGIN { printf "%.1f", kb / 1024 }')
        echo "  VmRSS ${rss[$b,$round]} MiB"
        stop
    done
done

# The table: per build, a column per round and the median.
width=20
for pair in "${pairs[@]}"; do (( ${#pair} + 2 <= width )) || width=$(( ${#pair} + 2 )); done
cell=10
row() { # LABEL then, per build, ROUNDS values and a median
    local label=$1; shift
    printf "%-${width}s" "$label"
    local k=0 v
    for v in "$@"; do
        (( k == 0 || k % (ROUNDS + 1) )) || printf "   "
        printf "%${cell}s" "$v"
        k=$((k + 1))
    done
    printf '\n'
}
echo
echo "first search (ms): each round, and the median over rounds"
heads=()
for b in A B; do
    for round in $(seq 1 "$ROUNDS"); do heads+=("$b r$round"); done
    heads+=("$b median")
done
row "" "${heads[@]}"
for i in "${!pairs[@]}"; do
    values=()
    for b in A B; do
        times=()
        for round in $(seq 1 "$ROUNDS"); do
            times+=("${ms[$b,$round,$i]}")
            values+=("${ms[$b,$round,$i]}${bad[$b,$round,$i]:+!}")
        done
        values+=("$(median "${times[@]}")")
    done
    row "${pairs[$i]}" "${values[@]}"
done
values=()
for b in A B; do
    totals=()
    for round in $(seq 1 "$ROUNDS"); do
        times=()
        for i in "${!pairs[@]}"; do times+=("${ms[$b,$round,$i]}"); done
        totals+=("$(sum "${times[@]}")")
    done
    values+=("${totals[@]}" "$(median "${totals[@]}")")
done
row "total" "${values[@]}"
for what in rss wait_s; do
    values=()
    for b in A B; do
        each=()
        for round in $(seq 1 "$ROUNDS"); do
            if [[ $what == rss ]]; then each+=("${rss[$b,$round]}"); else each+=("${wait_s[$b,$round]}"); fi
        done
        values+=("${each[@]}" "$(median "${each[@]}")")
    done
    if [[ $what == rss ]]; then row "VmRSS (MiB)" "${values[@]}"; else row "start-up wait (s)" "${values[@]}"; fi
done
echo "A: $1"
echo "B: $2"
if (( failures )); then
    echo "$failures searches did not answer 200 (marked !); their times are in the medians" >&2
    exit 1
fi
