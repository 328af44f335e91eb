#!/usr/bin/env bash
# Scale-out (issue 12): one room served by 1, 2 and 3 framechat nodes joined by one nats-server,
# beside one node without NATS, with the same clients spread round-robin over the nodes.
#
#   bash benches/scaleout.sh [ROUNDS]          (default 3 rounds; the report takes medians)
#
# Each node runs in a cgroup (v1 `cpu` controller) capped at SHARE of a core, so that every node
# gets the same CPU and "utilization" has a denominator: the CPU a node used over the CPU it was
# allowed (SHARE × wall time). The bench's clients and nats-server are not capped.
# Without a writable cgroup the nodes run uncapped and the report says so.
#
#   CLIENTS=48 MESSAGES=400 WINDOW=1 SIZE=16 SHARE=0.5 OUT=benches/scaleout
#
# Writes $OUT/results.jsonl (one line per bench run, with the bench's own `--json` report, the CPU
# each node and nats-server used, and the nodes' bus counters), then runs benches/scaleout_chart.py,
# which prints the BENCHMARKS.md table and writes $OUT/scaleout.svg.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
clients="${CLIENTS:-48}"
messages="${MESSAGES:-400}"
window="${WINDOW:-1}"
size="${SIZE:-16}"
share="${SHARE:-0.5}"
out="${OUT:-benches/scaleout}"
mkdir -p "$out"
results="$out/results.jsonl"
: > "$results"

if ! command -v nats-server >/dev/null; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nats-server
fi
cargo build --release --quiet --features cluster
bin=target/release/framechat

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 400); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  echo "nothing accepts on port $1 after 20 s" >&2; return 1
}
# utime + stime of a process, all its threads, in seconds.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="framechat_$2" '$1 == m { print $2 }'; }

cgroot=/sys/fs/cgroup/cpu
capped=false
if [ -w "$cgroot" ] && mkdir -p "$cgroot/framechat-scaleout-probe" 2>/dev/null; then
  rmdir "$cgroot/framechat-scaleout-probe"
  capped=true
else
  echo "no writable cgroup v1 cpu controller at $cgroot: nodes run uncapped" >&2
fi

nats_port=$(free_port)
nats-server -a 127.0.0.1 -p "$nats_port" >/dev/null 2>&1 &
nats_pid=$!
node_pids=()
cleanup() {
  kill "${node_pids[@]}" "$nats_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  for g in "$cgroot"/framechat-scaleout-*; do [ -d "$g" ] && rmdir "$g" 2>/dev/null; done
  true
}
trap cleanup EXIT
wait_port "$nats_port"

# Starts $1 nodes (0: one node without NATS) and fills addrs, metrics ports and node_pids.
start_nodes() {
  local count=$1 with_bus=true
  if [ "$count" = 0 ]; then count=1; with_bus=false; fi
  addrs=(); metric_ports=(); node_pids=()
  for k in $(seq "$count"); do
    local port mport
    port=$(free_port); mport=$(free_port)
    local args=(serve --addr "127.0.0.1:$port" --metrics-addr "127.0.0.1:$mport" --metrics-interval 0s --log-level warn)
    if $with_bus; then args+=(--cluster "nats://127.0.0.1:$nats_port" --cluster-name scaleout); fi
    "$bin" "${args[@]}" >/dev/null 2>&1 &
    local pid=$!
    if $capped; then
      local group="$cgroot/framechat-scaleout-$k"
      mkdir -p "$group"
      # A short period: a node that used up its share waits at most this long (100 ms by default
      # would add up to 70 ms to a 0.3 share's latency).
      echo 10000 > "$group/cpu.cfs_period_us"
      awk -v share="$share" 'BEGIN { printf "%d\n", share * 10000 }' > "$group/cpu.cfs_quota_us"
      # Every thread, the ones started later included, follows the process into the group.
      echo "$pid" > "$group/cgroup.procs"
    fi
    addrs+=("127.0.0.1:$port"); metric_ports+=("$mport"); node_pids+=("$pid")
  done
  for k in "${!addrs[@]}"; do wait_port "${addrs[$k]#*:}"; wait_port "${metric_ports[$k]}"; done
  if $with_bus; then
    # Ready when every node is on the bus and hears every other one (heartbeats every 1 s).
    local want=$(( count - 1 ))
    for _ in $(seq 300); do
      local ready=true
      for mport in "${metric_ports[@]}"; do
        [ "$(metric "$mport" bus_connected)" = 1 ] && [ "$(metric "$mport" cluster_nodes_alive)" = "$want" ] || ready=false
      done
      $ready && return 0
      sleep 0.1
    done
    echo "the $count nodes did not all see each other on the bus within 30 s" >&2; return 1
  fi
}

stop_nodes() {
  kill "${node_pids[@]}" 2>/dev/null || true
  for pid in "${node_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  node_pids=()
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nats-server --version)"
echo "clients $clients, $messages messages each, window $window, $size B; each node capped at $share core (capped: $capped); $rounds rounds"

# NATS's own round trip (publish, then receive the same message back), one client, nothing else in flight.
rtt=$("$bin" bench --addr "127.0.0.1:$nats_port" --profile nats --clients 1 --window 1 --messages 2000 --json)
python3 -c 'import json,sys; print(json.dumps({"kind": "nats_rtt", "bench": json.loads(sys.argv[1])}))' "$rtt" >> "$results"

# Each round runs every configuration once, one after the other, so that load hits all alike.
for round in $(seq "$rounds"); do
  for nodes in 0 1 2 3; do
    start_nodes "$nodes"
    addr_list=$(IFS=,; echo "${addrs[*]}")
    before=(); for pid in "${node_pids[@]}"; do before+=("$(cpu_s "$pid")"); done
    nats_before=$(cpu_s "$nats_pid")
    t0=$(date +%s.%N)
    line=$("$bin" bench --addr "$addr_list" --profile typed --clients "$clients" --messages "$messages" \
      --window "$window" --size "$size" --json)
    t1=$(date +%s.%N)
    node_cpu=(); for k in "${!node_pids[@]}"; do
      node_cpu+=("$(python3 -c "print($(cpu_s "${node_pids[$k]}") - ${before[$k]})")")
    done
    nats_cpu=$(python3 -c "print($(cpu_s "$nats_pid") - $nats_before)")
    lost=(); for mport in "${metric_ports[@]}"; do lost+=("$(metric "$mport" bus_lost_total || true)"); done
    stop_nodes
    python3 - "$line" "$nodes" "$round" "$t0" "$t1" "$nats_cpu" "$share" "$capped" "${node_cpu[*]}" "${lost[*]}" >> "$results" <<'PY'
import json, sys
bench, nodes, rnd, t0, t1, nats_cpu, share, capped, node_cpu, lost = sys.argv[1:]
print(json.dumps({
    "kind": "run",
    "nodes": int(nodes) or 1,
    "bus": nodes != "0",
    "round": int(rnd),
    "wall_s": float(t1) - float(t0),
    "node_cpu_s": [float(x) for x in node_cpu.split()],
    "nats_cpu_s": float(nats_cpu) if nodes != "0" else 0.0,
    "share": float(share) if capped == "true" else None,
    "bus_lost": [int(x) for x in lost.split() if x != ""],
    "bench": json.loads(bench),
}))
PY
    echo "round $round, $([ "$nodes" = 0 ] && echo '1 node, no NATS' || echo "$nodes node(s)"): $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%d deliveries/s, p99 %d µs, lost %d" % (d["deliveries_per_s"], d["latency_us"]["p99"], d["lost"]))' "$line")"
  done
done

python3 benches/scaleout_chart.py "$results" "$out/scaleout.svg"
