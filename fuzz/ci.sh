#!/usr/bin/env bash
# What CI runs for fuzzing. From anywhere:  bash fuzz/ci.sh
#
#   FUZZ_SECONDS   seconds per target (default 60), passed as libFuzzer's -max_total_time
#   FUZZ_TARGETS   targets to run (default: "decode roundtrip")
#
# Installs cargo-fuzz if missing, seeds the corpora (seed-corpus.sh), runs each target, prints its
# executions count, and exits non-zero if any target crashed (the input is in fuzz/artifacts/<target>/
# and printed in hex; replay it with `cargo fuzz run <target> <file>`, then add it under
# tests/fuzz/regressions/<target>/ so tests/fuzz_regressions.rs replays it on stable).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
seconds=${FUZZ_SECONDS:-60}
read -r -a targets <<< "${FUZZ_TARGETS:-decode roundtrip}"
cd "$here" # fuzz/rust-toolchain.toml selects nightly from here on

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

./seed-corpus.sh

failed=()
for target in "${targets[@]}"; do
    log=$(mktemp "${TMPDIR:-/tmp}/fuzz-$target.XXXXXX")
    echo "== fuzz $target for ${seconds}s"
    set +e
    # --sanitizer none: the crate's only unsafe code (src/codec/utf8.rs) converts text that `is_ascii`
    # and `from_utf8` have just checked, which no sanitizer would look into either; the targets compare every decoded text
    # with the reference decoder's `from_utf8`, and the overflow checks and assertions of
    # Cargo.toml's release profile catch the rest. Without a sanitizer it runs about 3× faster.
    cargo fuzz run --sanitizer none "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1
    status=$?
    set -e
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    echo "$target: ${runs:-unknown} executions (limit ${seconds}s, exit $status)"
    grep -E '^Done [0-9]+ runs' "$log" || true
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        tail -n 60 "$log"
        for artifact in $(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log"); do
            echo "crashing input $artifact (hex):"
            python3 -c 'import sys; print(open(sys.argv[1], "rb").read().hex())' "$artifact"
        done
    fi
    rm -f "$log"
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzzing FAILED: ${failed[*]}"
    exit 1
fi
echo "fuzzing passed: ${targets[*]}"
