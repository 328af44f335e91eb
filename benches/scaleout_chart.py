#!/usr/bin/env python3
"""The scale-out table and chart from benches/scaleout.sh's results (issue 12).

    python3 benches/scaleout_chart.py RESULTS.jsonl [CHART.svg]

Prints the BENCHMARKS.md tables (medians over rounds) and writes an SVG chart: deliveries/s and
latency against the number of nodes, measured beside the notebook's formula.

The formula, filled in from measurements:
    avg_service_time  s1  = CPU seconds per delivery of one node with the bus (the 1-node run)
    rps_per_node          = share / s1   deliveries/s a node capped at `share` of a core can make
    utilization       u_N = CPU the N nodes used / (N × share × wall time), measured in each run
    cluster_rps(N)        = N × rps_per_node × u_N
Predicted over measured is then s_N / s1: it stays 1 while a delivery costs a node what it did
alone, and grows as every node also pays for every message of the room (bus in, decode, fan-out).
Uncapped runs (no cgroup) use one core as the share.

"Of which the bus path": a node's CPU beyond what its deliveries cost the node without NATS, per
node and per message of the room (publishing its own, receiving and decoding the others').
"""

import json
import math
import statistics
import sys


def load(path):
    runs, rtt = [], None
    with open(path) as f:
        for line in f:
            record = json.loads(line)
            if record["kind"] == "nats_rtt":
                rtt = record["bench"]
            else:
                runs.append(record)
    return runs, rtt


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def latency(bench, key, scope=None):
    """A latency percentile in µs: overall, or for 'local' / 'cross_node' deliveries if reported."""
    if scope is None:
        return bench["latency_us"][key]
    part = bench.get(f"latency_{scope}_us")
    return part.get(key) if part else None


def summarize(runs):
    """Per configuration ('solo', 1, 2, 3): medians over rounds."""
    groups = {}
    for run in runs:
        key = run["nodes"] if run["bus"] else "solo"
        groups.setdefault(key, []).append(run)
    rows = {}
    for key, group in groups.items():
        share = group[0]["share"] or 1.0
        rows[key] = {
            "nodes": group[0]["nodes"],
            "share": share,
            "capped": group[0]["share"] is not None,
            "rounds": len(group),
            "deliveries_per_s": median(r["bench"]["deliveries_per_s"] for r in group),
            "messages_per_s": median(r["bench"]["messages_sent"] / r["bench"]["elapsed_s"] for r in group),
            "p50": median(latency(r["bench"], "p50") for r in group),
            "p99": median(latency(r["bench"], "p99") for r in group),
            "local_p50": median(latency(r["bench"], "p50", "local") for r in group),
            "local_p99": median(latency(r["bench"], "p99", "local") for r in group),
            "cross_p50": median(latency(r["bench"], "p50", "cross_node") for r in group),
            "cross_p99": median(latency(r["bench"], "p99", "cross_node") for r in group),
            "lost": sum(r["bench"]["lost"] for r in group),
            "bus_lost": sum(sum(r["bus_lost"]) for r in group),
            # CPU seconds per delivery, all nodes together.
            "cpu_per_delivery": median(sum(r["node_cpu_s"]) / r["bench"]["deliveries"] for r in group),
            "cpu_per_message_per_node": median(
                sum(r["node_cpu_s"]) / len(r["node_cpu_s"]) / r["bench"]["messages_sent"] for r in group
            ),
            "utilization": median(
                sum(r["node_cpu_s"]) / (len(r["node_cpu_s"]) * share * r["wall_s"]) for r in group
            ),
            # Nodes ask not to get their own publications back (no_echo, §11.5): nats-server
            # delivers each one to the other nodes' subscriptions only.
            "nats_cpu_per_publication": median(
                r["nats_cpu_s"] / r["bench"]["messages_sent"] for r in group
            ) if group[0]["bus"] else None,
            "nats_cpu_per_delivery": median(
                r["nats_cpu_s"] / (r["bench"]["messages_sent"] * (r["nodes"] - 1)) for r in group
            ) if group[0]["bus"] and group[0]["nodes"] > 1 else None,
            "runs": group,
        }
    solo = rows.get("solo")
    if solo:
        # What the bus costs a node per message of the room: its CPU beyond what its deliveries
        # would have cost it alone (at the node without NATS's CPU per delivery), per node.
        for key, row in rows.items():
            if key != "solo":
                row["cluster_path_per_message"] = median(
                    (sum(r["node_cpu_s"]) - solo["cpu_per_delivery"] * r["bench"]["deliveries"])
                    / (r["nodes"] * r["bench"]["messages_sent"])
                    for r in row["runs"]
                )
    one = rows.get(1)
    if one:
        rps_per_node = one["share"] / one["cpu_per_delivery"]
        for key, row in rows.items():
            if key == "solo":
                continue
            row["predicted"] = row["nodes"] * rps_per_node * row["utilization"]
    return rows


def scaled(seconds):
    """Seconds to µs, keeping None."""
    return None if seconds is None else seconds * 1e6


def fmt(value, spec=",.0f", unit=""):
    return "—" if value is None else f"{value:{spec}}{unit}"


def table(rows, rtt):
    order = [k for k in ["solo", 1, 2, 3] if k in rows]
    print("| nodes | deliveries/s | predicted (formula) | measured / predicted | p50 µs | p99 µs "
          "| utilization | node CPU µs/delivery | lost (clients) | lost (bus counters) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key in order:
        row = rows[key]
        label = "1, no NATS" if key == "solo" else str(key)
        predicted = row.get("predicted")
        ratio = row["deliveries_per_s"] / predicted if predicted else None
        print(f"| {label} | {fmt(row['deliveries_per_s'])} | {fmt(predicted)} | {fmt(ratio, '.2f')} "
              f"| {fmt(row['p50'])} | {fmt(row['p99'])} | {fmt(row['utilization'], '.2f')} "
              f"| {fmt(row['cpu_per_delivery'] * 1e6, '.3f')} | {row['lost']} | {row['bus_lost']} |")
    print()
    print("| nodes | local p50 / p99 µs | cross-node p50 / p99 µs | cross − local p50 µs "
          "| node CPU µs per message, per node | of which the bus path | nats-server CPU µs per publication "
          "| nats-server CPU µs per delivery |")
    print("|---|---|---|---|---|---|---|---|")
    for key in order:
        row = rows[key]
        if key == "solo":
            continue
        extra = (row["cross_p50"] - row["local_p50"]) if row["cross_p50"] is not None and row["local_p50"] is not None else None
        nats = row["nats_cpu_per_delivery"]
        print(f"| {key} | {fmt(row['local_p50'])} / {fmt(row['local_p99'])} "
              f"| {fmt(row['cross_p50'])} / {fmt(row['cross_p99'])} | {fmt(extra)} "
              f"| {fmt(row['cpu_per_message_per_node'] * 1e6, '.2f')} "
              f"| {fmt(scaled(row.get('cluster_path_per_message')), '.2f')} "
              f"| {fmt(scaled(row['nats_cpu_per_publication']), '.2f')} "
              f"| {fmt(scaled(nats), '.2f')} |")
    if rtt:
        print()
        print(f"NATS round trip (one client, window 1, publish then receive it back): "
              f"p50 {rtt['latency_us']['p50']} µs, p99 {rtt['latency_us']['p99']} µs")


def nice_max(value):
    """The smallest 4 × step at or above `value`, step one of 1, 2, 2.5, 5 times a power of 10, so
    that the axis's five ticks fall on round numbers."""
    step = value / 4
    power = 10 ** math.floor(math.log10(step))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= step:
            return 4 * factor * power
    return value


def svg(rows, path):
    """Two panels: deliveries/s (measured, predicted, the node without NATS) and p50/p99 latency."""
    keys = [k for k in [1, 2, 3] if k in rows]
    if not keys:
        return
    width, height, pad = 860, 380, 60
    panel = (width - 3 * pad) / 2
    top, bottom = 50, height - 50
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             '<rect width="100%" height="100%" fill="white"/>']

    def axes(x0, title, ymax, unit):
        parts.append(f'<text x="{x0 + panel / 2}" y="24" text-anchor="middle" font-size="14">{title}</text>')
        parts.append(f'<line x1="{x0}" y1="{bottom}" x2="{x0 + panel}" y2="{bottom}" stroke="black"/>')
        parts.append(f'<line x1="{x0}" y1="{top}" x2="{x0}" y2="{bottom}" stroke="black"/>')
        for i in range(5):
            value = ymax * i / 4
            y = bottom - (bottom - top) * i / 4
            parts.append(f'<line x1="{x0}" y1="{y}" x2="{x0 + panel}" y2="{y}" stroke="#ddd"/>')
            parts.append(f'<text x="{x0 - 6}" y="{y + 4}" text-anchor="end">{value:,.6g}</text>')
        parts.append(f'<text x="{x0 - 45}" y="{(top + bottom) / 2}" transform="rotate(-90 {x0 - 45} {(top + bottom) / 2})" '
                     f'text-anchor="middle">{unit}</text>')
        for n in [1, 2, 3]:
            parts.append(f'<text x="{xpos(x0, n)}" y="{bottom + 18}" text-anchor="middle">{n}</text>')
        parts.append(f'<text x="{x0 + panel / 2}" y="{bottom + 36}" text-anchor="middle">nodes</text>')

    def xpos(x0, n):
        return x0 + panel * (n - 0.5) / 3

    def ypos(value, ymax):
        return bottom - (bottom - top) * value / ymax

    def line(x0, points, ymax, colour, dashed=False, label=None, legend_row=0):
        pts = [(xpos(x0, n), ypos(v, ymax)) for n, v in points if v is not None]
        if not pts:
            return
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="'
                     + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
        for x, y in pts:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>')
        if label:
            ly = top + 4 + 16 * legend_row
            parts.append(f'<line x1="{x0 + 10}" y1="{ly}" x2="{x0 + 34}" y2="{ly}" stroke="{colour}" stroke-width="2"{dash}/>')
            parts.append(f'<text x="{x0 + 40}" y="{ly + 4}">{label}</text>')

    measured = [(n, rows[n]["deliveries_per_s"] / 1e6) for n in keys]
    predicted = [(n, rows[n].get("predicted", 0) / 1e6) for n in keys]
    solo = rows.get("solo")
    ymax = nice_max(max([v for _, v in measured + predicted] + ([solo["deliveries_per_s"] / 1e6] if solo else [])) * 1.1)
    x0 = pad
    axes(x0, "Deliveries per second, one room", ymax, "million deliveries/s")
    line(x0, predicted, ymax, "#999", dashed=True, label="predicted: N × rps_per_node × utilization", legend_row=1)
    line(x0, measured, ymax, "#1f77b4", label="measured, nodes over nats-server", legend_row=0)
    if solo:
        x, y = xpos(x0, 1), ypos(solo["deliveries_per_s"] / 1e6, ymax)
        parts.append(f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" fill="none" stroke="#d62728" stroke-width="2"/>')
        ly = top + 4 + 32
        parts.append(f'<rect x="{x0 + 17}" y="{ly - 5}" width="10" height="10" fill="none" stroke="#d62728" stroke-width="2"/>')
        parts.append(f'<text x="{x0 + 40}" y="{ly + 4}">one node, no NATS</text>')

    p99 = [(n, rows[n]["p99"] / 1e3) for n in keys]
    p50 = [(n, rows[n]["p50"] / 1e3) for n in keys]
    lmax = nice_max(max(v for _, v in p99) * 1.1)
    x0 = 2 * pad + panel
    axes(x0, "Latency, sender to every receiver", lmax, "ms")
    line(x0, p99, lmax, "#ff7f0e", label="p99", legend_row=0)
    line(x0, p50, lmax, "#2ca02c", label="p50", legend_row=1)
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    runs, rtt = load(sys.argv[1])
    rows = summarize(runs)
    table(rows, rtt)
    if len(sys.argv) > 2:
        svg(rows, sys.argv[2])
        print(f"\nchart: {sys.argv[2]}")


if __name__ == "__main__":
    main()
