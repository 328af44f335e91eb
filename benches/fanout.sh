#!/usr/bin/env bash
# Fan-out, side by side in one run: framechat vs nats-server (and the seed's Python server).
#
#   bash benches/fanout.sh [ROUNDS]          (default 5 rounds per configuration)
#
# Starts `framechat serve`, `nats-server` and the seed's server (tests/seed/seed_chat.py) on
# loopback, then for 50 clients at window 1 and 16, with 16 B and 1 KiB messages, runs
# `framechat bench` against each server in alternation, ROUNDS times, and prints the median
# deliveries/s, p99 latency and server CPU per delivery (user and system, `--server-pid`) of each
# and the framechat/NATS and framechat/seed ratios.
# Installs nats-server from Debian when it is missing. Every server listens on 127.0.0.1 only.
#
#   PROFILE=legacy    framechat's clients speak legacy instead of typed
#   BEFORE=path       also run the framechat binary at `path` (an older build, say), in the same
#                     alternation, as the target "framechat-before"
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
clients="${CLIENTS:-50}"

if ! command -v nats-server >/dev/null; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nats-server
fi
cargo build --release --quiet
bin=target/release/framechat

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
fc_port=$(free_port); nats_port=$(free_port); seed_port=$(free_port)
"$bin" serve --addr "127.0.0.1:$fc_port" --metrics-interval 0s --log-level warn >/dev/null 2>&1 &
fc_pid=$!
nats-server -a 127.0.0.1 -p "$nats_port" >/dev/null 2>&1 &
nats_pid=$!
python3 tests/seed/seed_chat.py server "$seed_port" 3600 >/dev/null 2>&1 &
seed_pid=$!
before_pid=
targets="framechat nats seed"
if [ -n "${BEFORE:-}" ]; then
  before_port=$(free_port)
  "$BEFORE" serve --addr "127.0.0.1:$before_port" --metrics-interval 0s --log-level warn >/dev/null 2>&1 &
  before_pid=$!
  targets="framechat-before framechat nats seed"
fi
trap 'kill $fc_pid $nats_pid $seed_pid $before_pid 2>/dev/null || true; rm -f "${results:-}"' EXIT
for port in "$fc_port" "$nats_port" "$seed_port" ${before_port:-}; do
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
done

results=$(mktemp)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nats-server --version)"
echo "clients $clients, rounds $rounds; each cell is the median of the rounds"
for window in 1 16; do
  for size in 16 1024; do
    # Fewer messages for the slow seed server and the large messages, so a round stays short.
    messages=$(( size > 100 ? 300 : 1000 ))
    for round in $(seq "$rounds"); do
      for target in $targets; do
        case $target in
          framechat)        args=(--addr "127.0.0.1:$fc_port" --server-pid "$fc_pid" --profile "${PROFILE:-typed}" --messages "$messages") ;;
          framechat-before) args=(--addr "127.0.0.1:$before_port" --server-pid "$before_pid" --profile "${PROFILE:-typed}" --messages "$messages") ;;
          nats)             args=(--addr "127.0.0.1:$nats_port" --server-pid "$nats_pid" --profile nats --messages "$messages") ;;
          seed)             args=(--addr "127.0.0.1:$seed_port" --server-pid "$seed_pid" --profile legacy --messages $(( messages / 5 ))) ;;
        esac
        # The seed server only runs the 16 B, window 1 configuration (its target row).
        if [ "$target" = seed ] && { [ "$window" != 1 ] || [ "$size" != 16 ]; }; then continue; fi
        if ! line=$("$bin" bench "${args[@]}" --clients "$clients" --window "$window" --size "$size" --json); then
          echo "the bench against $target failed (window $window, $size B, round $round): its error is above" >&2
          exit 1
        fi
        echo "$window $size $target $line" >> "$results"
      done
    done
  done
done

python3 - "$results" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    window, size, target, payload = line.split(' ', 3)
    d = json.loads(payload)
    rows.setdefault((int(window), int(size)), {}).setdefault(target, []).append(d)
print()
print("| window | size | server | deliveries/s (median) | p99 µs (median) | server CPU µs/delivery, user + system (median) | lost | vs NATS | vs seed |")
print("|---|---|---|---|---|---|---|---|---|")
for (window, size), targets in sorted(rows.items()):
    med = {t: statistics.median(r['deliveries_per_s'] for r in runs) for t, runs in targets.items()}
    for target, runs in targets.items():
        p99 = statistics.median(r['latency_us']['p99'] for r in runs)
        lost = sum(r['lost'] for r in runs)
        vs_nats = f"{med[target] / med['nats']:.2f}×" if 'nats' in med else ""
        vs_seed = f"{med[target] / med['seed']:.1f}×" if 'seed' in med else ""
        cpu = [r['server_cpu'] for r in runs if r.get('server_cpu')]
        cpu = (f"{statistics.median(c['user_us_per_delivery'] for c in cpu):.3f} + "
               f"{statistics.median(c['system_us_per_delivery'] for c in cpu):.3f}") if cpu else "n/a"
        print(f"| {window} | {size} B | {target} | {med[target]:,.0f} | {p99:,.0f} | {cpu} | {lost} | {vs_nats} | {vs_seed} |")
PY
