#!/usr/bin/env python3
"""Prints BENCHMARKS.md's codec tables from criterion's estimates of one run.

    python3 benches/tables.py [CRITERION_DIR] [BASELINE]

CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion (else benches/target/criterion); BASELINE to
"new", the latest run (or a name given to `cargo bench ... -- --save-baseline NAME`).
Times are criterion's median per iteration; frames/s = frames per iteration / median.
MiB/s counts the legacy stream's bytes (4-byte header + payload per frame) for every contender,
so a row compares the same frames (asynchronous-codec's own stream is 4 bytes longer per frame).
"""

import json
import os
import sys

SIZES = [("16B", 16, "16 B"), ("1KiB", 1024, "1 KiB"), ("64KiB", 65536, "64 KiB")]
FEEDINGS = [("whole", "one buffer"), ("seg1500", "1500-byte segments"), ("bytewise", "1 byte at a time")]
DECODERS = ["memcpy", "utf8-floor", "framechat", "framechat-owned", "framechat-read", "tokio", "tokio-utf8", "asynchronous-codec"]
OFF_ASCII = [("decode-utf8", "mixed-script text (UTF-8 check off its ASCII fast path)"), ("decode-late", "English ending in an emoji")]
ENCODERS = ["memcpy", "framechat", "tokio", "asynchronous-codec"]


def default_dir():
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        return os.path.join(target, "criterion")
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "target", "criterion")


CRITERION = sys.argv[1] if len(sys.argv) > 1 else default_dir()
BASELINE = sys.argv[2] if len(sys.argv) > 2 else "new"


def measure(group, bench):
    """(frames per iteration, median ns per iteration)"""
    base = os.path.join(CRITERION, group, bench, BASELINE)
    with open(os.path.join(base, "benchmark.json")) as f:
        frames = json.load(f)["throughput"]["Elements"]
    with open(os.path.join(base, "estimates.json")) as f:
        median = json.load(f)["median"]["point_estimate"]
    return frames, median


def fps(group, bench):
    """frames/s, or None for a contender the group does not have (utf8-floor when fed in pieces)"""
    if not os.path.exists(os.path.join(CRITERION, group, bench, BASELINE)):
        return None
    frames, ns = measure(group, bench)
    return frames / ns * 1e9


def floor_ratio(group, ours):
    floor = fps(group, "utf8-floor")
    return "—" if floor is None else f"{floor / ours:.2f}"


def human(rate):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if rate >= scale:
            return f"{rate / scale:.3g} {unit}"
    return f"{rate:.3g}"


def mib(rate, payload):
    return rate * (4 + payload) / (1 << 20)


def table(groups, benches):
    header = "| contender | " + " | ".join(f"{label} frames/s | {label} MiB/s" for _, _, label in SIZES) + " |"
    print(header)
    print("|---" * (1 + 2 * len(SIZES)) + "|")
    for bench in benches:
        cells = []
        for (key, payload, _), group in zip(SIZES, groups):
            rate = fps(group, bench)
            if rate is None:
                cells.append("— | —")
                continue
            cells.append(f"{human(rate)} | {mib(rate, payload):,.0f}")
        print(f"| {bench} | " + " | ".join(cells) + " |")
    print()


def main():
    print(f"<!-- from {CRITERION}, baseline '{BASELINE}' -->\n")
    for feeding, title in FEEDINGS:
        print(f"Decode, {title}:\n")
        table([f"decode_{size}_{feeding}" for size, _, _ in SIZES], DECODERS)
    for kind, title in OFF_ASCII:
        print(f"Decode, {title}, one buffer:\n")
        table([f"{kind}_{size}_whole" for size, _, _ in SIZES], ["memcpy", "utf8-floor", "framechat", "tokio", "tokio-utf8"])
    print("Encode:\n")
    table([f"encode_{size}" for size, _, _ in SIZES], ENCODERS)

    print("Ratios (framechat's frames/s ÷ the other's; for memcpy, framechat's time ÷ memcpy's):\n")
    print("| feeding | size | ÷ tokio (target ≥ 1.5 at 16 B, ≥ 1 everywhere) | ÷ tokio-utf8 | ÷ asynchronous-codec | time ÷ memcpy (target ≤ 1.25 at 64 KiB) | time ÷ utf8-floor | framechat-read ÷ tokio |")
    print("|---|---|---|---|---|---|---|---|")
    for feeding, title in FEEDINGS:
        for size, _, label in SIZES:
            group = f"decode_{size}_{feeding}"
            ours = fps(group, "framechat")
            print(
                f"| {title} | {label} | {ours / fps(group, 'tokio'):.2f} | {ours / fps(group, 'tokio-utf8'):.2f}"
                f" | {ours / fps(group, 'asynchronous-codec'):.2f} | {fps(group, 'memcpy') / ours:.2f}"
                f" | {floor_ratio(group, ours)} | {fps(group, 'framechat-read') / fps(group, 'tokio'):.2f} |"
            )
    print()
    print("Texts off the ASCII fast path, one buffer:\n")
    print("| text | size | ÷ tokio | ÷ tokio-utf8 | time ÷ utf8-floor |")
    print("|---|---|---|---|---|")
    for kind, title in OFF_ASCII:
        for size, _, label in SIZES:
            group = f"{kind}_{size}_whole"
            ours = fps(group, "framechat")
            print(f"| {title} | {label} | {ours / fps(group, 'tokio'):.2f} | {ours / fps(group, 'tokio-utf8'):.2f} | {floor_ratio(group, ours)} |")
    print()
    print("| encode | ÷ tokio | ÷ asynchronous-codec | time ÷ memcpy |")
    print("|---|---|---|---|")
    for size, _, label in SIZES:
        group = f"encode_{size}"
        ours = fps(group, "framechat")
        print(
            f"| {label} | {ours / fps(group, 'tokio'):.2f} | {ours / fps(group, 'asynchronous-codec'):.2f}"
            f" | {fps(group, 'memcpy') / ours:.2f} |"
        )


main()
