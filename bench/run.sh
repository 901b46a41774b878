#!/usr/bin/env bash
# The load benchmark of BENCHMARKS.md: every configuration side by side in one run, the server
# pinned to core 0 and the load generator to core 1. Results: bench/results.jsonl (one JSON line
# per run) and bench/chart.svg.
#   bash bench/run.sh [seconds] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${1:-8}"
ROUNDS="${2:-2}"
cargo build --release -p stripe-pulsora-bench
( cd bench/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null )
B=target/release
OUT=bench/results.jsonl
: > "$OUT"
REDIS_DIR="$(mktemp -d)"
redis-server --port 6399 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --dir "$REDIS_DIR" --pidfile "$REDIS_DIR/pid" >/dev/null
trap 'kill "$(cat "$REDIS_DIR/pid")" 2>/dev/null || true; pkill -f bench_server || true; pkill -f "node server.js" || true' EXIT

run() { # label, then the server command
    local label="$1"; shift
    taskset -c 0 "$@" > /dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 1 50); do (echo > /dev/tcp/127.0.0.1/4000) 2>/dev/null && break; sleep 0.1; done
    taskset -c 1 "$B/bench_load" --url http://127.0.0.1:4000/wh --connections 32 \
        --seconds "$SECONDS_PER_RUN" --label "$label" --pid "$pid" | tee -a "$OUT"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    sleep 0.5
}

for round in $(seq 1 "$ROUNDS"); do
    run "bare axum (Bytes)" "$B/bench_server" --mode bare --bind 127.0.0.1:4000
    run "axum + layer (memory)" "$B/bench_server" --mode axum --bind 127.0.0.1:4000
    run "actix-web + middleware (memory)" "$B/bench_server" --mode actix --bind 127.0.0.1:4000
    run "axum + layer (SQLite)" "$B/bench_server" --mode axum --store "sqlite:$REDIS_DIR/replay.sqlite3" --bind 127.0.0.1:4000
    run "axum + layer (Redis)" "$B/bench_server" --mode axum --store redis://127.0.0.1:6399/ --bind 127.0.0.1:4000
    (cd bench/node && PORT=4000 taskset -c 0 node server.js > /dev/null 2>&1) &
    NODE_PID=$!
    for _ in $(seq 1 50); do (echo > /dev/tcp/127.0.0.1/4000) 2>/dev/null && break; sleep 0.1; done
    taskset -c 1 "$B/bench_load" --url http://127.0.0.1:4000/wh --connections 32 \
        --seconds "$SECONDS_PER_RUN" --label "Node: Express + stripe + express-rate-limit" \
        --pid "$(pgrep -f 'node server.js' | head -1)" | tee -a "$OUT"
    pkill -f "node server.js" || true; wait "$NODE_PID" 2>/dev/null || true
    sleep 0.5
done
"$B/bench_chart" "$OUT" bench/chart.svg
