#!/usr/bin/env bash
# The outbox measurements of BENCHMARKS.md ("Outbox"): the `stripe-pulsora serve` binary on a
# fresh store, bench_load sending unique paid Checkout Sessions (each a new revenue event on its
# own customer), and pulsora_sink as Pulsora, either answering 202 at once or hanging.
#   bash bench/outbox.sh [seconds] [connections] [store: sqlite | postgres://…]
# Prints one JSON line per run: bench_load's line plus what reached Pulsora and when.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-10}"
CONNS="${2:-8}"
STORE_KIND="${3:-sqlite}"
cargo build --release -p stripe-pulsora-cli -p stripe-pulsora-bench \
    --bin stripe-pulsora --bin bench_load --bin pulsora_sink
B=target/release
DIR="$(mktemp -d)"
SECRET=whsec_benchmark_secret_0123456789abcdef0123456789abcdef
SINK=""
BRIDGE=""
stop() { for pid in $BRIDGE $SINK; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; BRIDGE=""; SINK=""; }
trap 'stop; rm -rf "$DIR"' EXIT
wait_port() { for _ in $(seq 1 100); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }
now_ms() { date +%s%3N; }

run() { # label, pulsora mode (accept|hang), delivery (outbox|inline)
    local label="$1" mode="$2" delivery="$3" store
    if [ "$STORE_KIND" = sqlite ]; then store="sqlite:$DIR/$RANDOM.sqlite3"; else store="$STORE_KIND"; fi
    taskset -c 1 "$B/pulsora_sink" --mode "$mode" --bind 127.0.0.1:4100 & SINK=$!
    wait_port 4100
    env -i PATH="$PATH" STRIPE_WEBHOOK_SECRET="$SECRET" PULSORA_API_TOKEN=sec_bench \
        PULSORA_ENDPOINT=http://127.0.0.1:4100/api/ingest STRIPE_PULSORA_REPLAY_STORE="$store" \
        STRIPE_PULSORA_DELIVERY="$delivery" STRIPE_PULSORA_LIVEMODE=any \
        STRIPE_PULSORA_RATE_LIMIT=off STRIPE_PULSORA_MAX_CONNECTIONS_PER_CLIENT=off \
        BIND=127.0.0.1:4000 RUST_LOG=error taskset -c 0 "$B/stripe-pulsora" serve & BRIDGE=$!
    wait_port 4000
    local started line ok count
    started=$(now_ms)
    line=$(taskset -c 1 "$B/bench_load" --url http://127.0.0.1:4000/api/webhooks/stripe \
        --connections "$CONNS" --seconds "$SECS" --unique-payments --label "$label" --pid "$BRIDGE")
    ok=$(python3 -c "import json,sys; l=json.loads(sys.argv[1]); print(l['requests']-l['non_200'])" "$line")
    # Acknowledged first: wait (up to 60 s) until Pulsora has every acknowledged payment.
    if [ "$mode" = accept ]; then
        for _ in $(seq 1 600); do
            count=$(curl -s http://127.0.0.1:4100/count)
            python3 -c "import json,sys; sys.exit(0 if json.loads(sys.argv[1])['distinct'] >= int(sys.argv[2]) else 1)" "$count" "$ok" && break
            sleep 0.1
        done
    fi
    count=$(curl -s http://127.0.0.1:4100/count)
    python3 - "$line" "$count" "$started" "$ok" <<'PY'
import json, sys
line, count, started, ok = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
line["acknowledged"] = ok
line["delivered"] = count["distinct"]
line["pulsora_requests"] = count["accepted"]
if count["distinct"]:
    span = (count["last_ms"] - started) / 1000
    line["end_to_end_seconds"] = round(span, 2)
    line["end_to_end_per_s"] = round(count["distinct"] / span)
print(json.dumps(line))
PY
    stop
    sleep 0.5
}

run "outbox, Pulsora answering" accept outbox
run "outbox, Pulsora hanging" hang outbox
run "inline, Pulsora answering" accept inline
