#!/usr/bin/env bash
# Seeds the fuzz corpora: fuzz/corpus/decode and fuzz/corpus/roundtrip (or the folder given as $1).
#
#  1. the encoder's output for typical streams, plus hand-made violations (tests/fuzz/seeds.rs,
#     written by `cargo run --example seed_corpus`), each cut into chunks in several ways;
#  2. every hex `input` field of spec/vectors/*.json, for each of the 5 receivers (client or server,
#     legacy or typed, and a detecting server), whole and in 1-byte chunks; skipped when there is
#     no vector file;
#  3. the roundtrip target gets a copy of the decode seeds: any bytes spell some structured case.
#
# Each decode seed follows the decode target's layout (fuzz_targets/decode.rs): config byte,
# u16 limit offset, n, n chunk lengths, then the stream. Seeding is idempotent (named files).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
corpus=${1:-$here/corpus}
mkdir -p "$corpus/decode" "$corpus/roundtrip"

# Plain `cargo` picks nightly from fuzz/rust-toolchain.toml; any toolchain builds this example.
(cd "$here" && cargo run --quiet --example seed_corpus -- "$corpus/decode")

python3 - "$here/../spec/vectors" "$corpus/decode" <<'PY'
import json, pathlib, sys

vectors, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
files = sorted(vectors.glob("*.json")) if vectors.is_dir() else []
if not files:
    print(f"no vector files in {vectors}: vector seeds skipped")
    sys.exit(0)

def inputs(node):
    """Every string field named `input` anywhere in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "input" and isinstance(value, str):
                yield value
            else:
                yield from inputs(value)
    elif isinstance(node, list):
        for item in node:
            yield from inputs(item)

# (role bit, mode bits): client legacy, client typed, server legacy, server typed, server detect.
RECEIVERS = [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)]
count = 0
for path in files:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        print(f"skipping {path.name}: {err}")
        continue
    for i, hexed in enumerate(inputs(document)):
        try:
            stream = bytes.fromhex("".join(hexed.split()))
        except ValueError:
            print(f"skipping {path.name} input {i}: not hex")
            continue
        for role, mode in RECEIVERS:
            for cut, lens in (("whole", b""), ("bytes", bytes([1] * min(len(stream), 255)))):
                # limit bits 2: the default 1 MiB limit
                config = bytes([role | mode << 1 | 2 << 3, 0, 0, len(lens)])
                name = f"vector-{path.stem}-{i}-r{role}m{mode}-{cut}"
                (out / name).write_bytes(config + lens + stream)
                count += 1
print(f"{count} vector seeds in {out}")
PY

cp -f "$corpus/decode/"* "$corpus/roundtrip/"
echo "decode: $(ls "$corpus/decode" | wc -l) files, roundtrip: $(ls "$corpus/roundtrip" | wc -l) files"
