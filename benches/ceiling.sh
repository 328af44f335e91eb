#!/usr/bin/env bash
# framechat against the async-std ceiling relay and nats-server, in one alternation (issue 13).
#
#   bash benches/ceiling.sh [ROUNDS]          (default 3 rounds)
#
# Starts on loopback `framechat serve` twice (async-std's default executor threads, and
# ASYNC_STD_THREAD_COUNT=1), the ceiling relay (benches/relay/ceiling.rs: async-std with no hub,
# codec, limits or metrics) and nats-server; then, for issue 13's three workloads (50 legacy
# clients: 400 messages of 16 B at window 1 and 16, 100 of 1 KiB at window 16), runs
# `framechat bench --server-pid` against each in turn, ROUNDS times, and prints each target's
# median deliveries/s, p99, server CPU per delivery and its ratio to the ceiling and to NATS.
# Then one more run per workload and target under `perf stat` on the server (syscall
# tracepoints and context switches), for the syscalls per delivery. `uptime` is printed with
# every round: the machine is shared. Installs nats-server from Debian when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
clients=50

if ! command -v nats-server >/dev/null; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nats-server
fi
cargo build --release --quiet
cargo build --release --quiet --manifest-path benches/Cargo.toml --bin ceiling-relay
bin=target/release/framechat
relay="${CARGO_TARGET_DIR:-benches/target}/release/ceiling-relay"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
declare -A port pid
for target in framechat framechat-1thread ceiling nats; do port[$target]=$(free_port); done
"$bin" serve --addr "127.0.0.1:${port[framechat]}" --metrics-interval 0s --log-level warn >/dev/null 2>&1 &
pid[framechat]=$!
ASYNC_STD_THREAD_COUNT=1 "$bin" serve --addr "127.0.0.1:${port[framechat-1thread]}" \
  --metrics-interval 0s --log-level warn >/dev/null 2>&1 &
pid[framechat-1thread]=$!
"$relay" "127.0.0.1:${port[ceiling]}" >/dev/null &
pid[ceiling]=$!
nats-server -a 127.0.0.1 -p "${port[nats]}" >/dev/null 2>&1 &
pid[nats]=$!
targets="framechat framechat-1thread ceiling nats"
trap 'kill ${pid[*]} 2>/dev/null || true; rm -rf "${scratch:-}"' EXIT
for target in $targets; do
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/${port[$target]}") 2>/dev/null && break; sleep 0.05; done
done

scratch=$(mktemp -d)
workloads=("1 16 400" "16 16 400" "16 1024 100")
bench() { # TARGET WINDOW SIZE MESSAGES
  local profile=legacy
  [ "$1" = nats ] && profile=nats
  "$bin" bench --addr "127.0.0.1:${port[$1]}" --server-pid "${pid[$1]}" --profile "$profile" \
    --clients "$clients" --window "$2" --size "$3" --messages "$4" --json
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nats-server --version)"
for round in $(seq "$rounds"); do
  echo "round $round: $(uptime)"
  for workload in "${workloads[@]}"; do
    read -r window size messages <<<"$workload"
    for target in $targets; do
      if ! line=$(bench "$target" "$window" "$size" "$messages"); then
        echo "the bench against $target failed (window $window, $size B): its error is above" >&2
        exit 1
      fi
      echo "$window $size $target $line" >> "$scratch/runs"
    done
  done
done

# perf's tracepoints cost little per event, but are still kept out of the timed rounds.
echo "perf stat runs: $(uptime)"
for workload in "${workloads[@]}"; do
  read -r window size messages <<<"$workload"
  for target in $targets; do
    out="$scratch/perf.$window.$size.$target"
    perf stat -x, -o "$out" -e 'syscalls:sys_enter_*' -e context-switches -p "${pid[$target]}" &
    perf_pid=$!
    sleep 1 # perf opens a few thousand events before it counts
    line=$(bench "$target" "$window" "$size" "$messages")
    kill -INT "$perf_pid"; wait "$perf_pid" || true
    echo "$window $size $target $line" >> "$scratch/perf-runs"
  done
done

python3 - "$scratch" <<'PY'
import json, os, statistics, sys
scratch = sys.argv[1]
def load(name):
    rows = {}
    for line in open(os.path.join(scratch, name)):
        window, size, target, payload = line.split(' ', 3)
        rows.setdefault((int(window), int(size)), {}).setdefault(target, []).append(json.loads(payload))
    return rows
rows, perf_rows = load('runs'), load('perf-runs')
print()
print("| window | size | server | deliveries/s | p99 ms | CPU µs/delivery, user + system | ÷ ceiling | ÷ NATS | syscalls/delivery | top syscalls per message | context switches/delivery |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for (window, size), targets in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    med = {t: statistics.median(r['deliveries_per_s'] for r in runs) for t, runs in targets.items()}
    for target, runs in targets.items():
        p99 = statistics.median(r['latency_us']['p99'] for r in runs) / 1000
        user = statistics.median(r['server_cpu']['user_us_per_delivery'] for r in runs)
        system = statistics.median(r['server_cpu']['system_us_per_delivery'] for r in runs)
        counted = perf_rows[(window, size)][target][0]
        deliveries = counted['deliveries'] or 1
        messages = counted['messages_sent'] or 1
        calls, switches = {}, 0
        for line in open(os.path.join(scratch, f"perf.{window}.{size}.{target}")):
            fields = line.strip().split(',')
            if len(fields) < 3 or not fields[0].isdigit():
                continue
            if fields[2].startswith('syscalls:sys_enter_'):
                calls[fields[2].removeprefix('syscalls:sys_enter_')] = int(fields[0])
            elif fields[2] == 'context-switches':
                switches = int(fields[0])
        top = ", ".join(f"{n / messages:.2f} {name}" for name, n in
                        sorted(calls.items(), key=lambda kv: -kv[1])[:5] if n / messages >= 0.01)
        print(f"| {window} | {size} B | {target} | {med[target] / 1e6:.2f} M | {p99:.1f} | "
              f"{user:.3f} + {system:.3f} | {med[target] / med['ceiling']:.2f} | "
              f"{med[target] / med['nats']:.2f} | {sum(calls.values()) / deliveries:.3f} | {top} | "
              f"{switches / deliveries:.4f} |")
PY
