#!/usr/bin/env bash
# What TLS costs, side by side in one run: the same `framechat serve` process, its plain listener
# against its TLS listener (§10.1).
#
#   bash benches/tls.sh [ROUNDS]          (default 5 rounds per configuration)
#
# 1. Fan-out: 50 typed clients, 16 B messages, window 1 and 16; plain and TLS in alternation,
#    ROUNDS times; the median deliveries/s and p99 of each, and TLS's share of plain.
# 2. Connection setup: `bench --handshakes N` (connect, the TLS handshake, WELCOME) over each.
# 3. Hostile handshakes (benches/hostile_tls.py): stalled and non-TLS connections to the TLS port,
#    the server's memory and how long they are held.
# Needs openssl for the test certificate. Every server listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"
clients="${CLIENTS:-50}"
handshakes="${HANDSHAKES:-2000}"

cargo build --release --quiet --features tls
bin=target/release/framechat
work=$(mktemp -d)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -addext basicConstraints=critical,CA:FALSE \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
plain_port=$(free_port); tls_port=$(free_port)
"$bin" serve --addr "127.0.0.1:$plain_port" --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" \
  --tls-addr "127.0.0.1:$tls_port" --metrics-interval 0s --log-level warn >/dev/null 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for port in "$plain_port" "$tls_port"; do
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
done
plain=(--addr "127.0.0.1:$plain_port")
tls=(--addr "127.0.0.1:$tls_port" --tls --ca "$work/cert.pem" --server-name localhost)

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "clients $clients, rounds $rounds; each cell is the median of the rounds"
results="$work/results"
for window in 1 16; do
  for round in $(seq "$rounds"); do
    for transport in plain tls; do
      declare -n args=$transport
      line=$("$bin" bench "${args[@]}" --profile typed --clients "$clients" --window "$window" \
        --size 16 --messages 1000 --json)
      echo "fanout $window $transport $line" >> "$results"
    done
  done
done
for round in $(seq "$rounds"); do
  for transport in plain tls; do
    declare -n args=$transport
    line=$("$bin" bench "${args[@]}" --profile typed --handshakes "$handshakes" --json)
    echo "handshakes 0 $transport $line" >> "$results"
  done
done

python3 - "$results" <<'PY'
import json, statistics, sys
fanout, setup = {}, {}
for line in open(sys.argv[1]):
    kind, window, transport, payload = line.split(' ', 3)
    table = fanout if kind == 'fanout' else setup
    table.setdefault(int(window), {}).setdefault(transport, []).append(json.loads(payload))
print()
print("| window | transport | deliveries/s (median) | p99 µs (median) | lost | TLS / plain |")
print("|---|---|---|---|---|---|")
for window, runs in sorted(fanout.items()):
    med = {t: statistics.median(r['deliveries_per_s'] for r in rs) for t, rs in runs.items()}
    for transport, rs in runs.items():
        p99 = statistics.median(r['latency_us']['p99'] for r in rs)
        lost = sum(r['lost'] for r in rs)
        print(f"| {window} | {transport} | {med[transport]:,.0f} | {p99:,.0f} | {lost} | {med[transport] / med['plain']:.2f} |")
print()
print("| transport | connections/s (median) | setup p50 µs | setup p99 µs | TLS / plain |")
print("|---|---|---|---|---|")
runs = setup[0]
med = {t: statistics.median(r['connections_per_s'] for r in rs) for t, rs in runs.items()}
for transport, rs in runs.items():
    p50 = statistics.median(r['setup_us']['p50'] for r in rs)
    p99 = statistics.median(r['setup_us']['p99'] for r in rs)
    print(f"| {transport} | {med[transport]:,.0f} | {p50:,.0f} | {p99:,.0f} | {med[transport] / med['plain']:.2f} |")
PY

echo
python3 benches/hostile_tls.py "$bin" "$work/cert.pem" "$work/key.pem"
