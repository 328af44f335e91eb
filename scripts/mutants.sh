#!/usr/bin/env bash
# Mutation testing of the codec and the hub: how many of cargo-mutants' mutants their own tests
# catch, and whether every one they miss is a known equivalent listed in tests/mutants-survivors.txt.
#
#   scripts/mutants.sh [codec|hub|all]      (default: all)
#
# Output: target/mutants/<area>/mutants.out/ (caught.txt, missed.txt, timeout.txt, unviable.txt).
# Fails when the share caught falls under 95% of viable mutants, or when a missed mutant is not in
# the survivors file (a new survivor is a test not yet written, or an equivalent to explain there).
# Slow (tens of minutes on 2 cores): it is not part of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
areas=("${1:-all}")
[ "${areas[0]}" = all ] && areas=(codec hub)
survivors=tests/mutants-survivors.txt

if ! command -v cargo-mutants >/dev/null; then
  cargo install cargo-mutants --locked
fi
# Debug info is not needed to tell caught from missed, and leaving it out halves the link time.
export CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_TEST_DEBUG=0

run_area() {
  local area=$1 out=target/mutants/$1 status=0
  mkdir -p "$out"
  case $area in
    codec)
      # The codec's own tests: its unit tests, the vectors, the properties, the memory bounds and
      # the observers. The features are the fewest that build them.
      cargo mutants -f 'src/codec/**/*.rs' --no-default-features --features std -j 1 -o "$out" \
        -- --lib --test vectors --test properties --test quickcheck_properties --test memory \
        --test codec_observers || status=$? ;;
    hub)
      cargo mutants -f 'src/hub/*.rs' --no-default-features --features hub -j 1 -o "$out" \
        -- --lib --test hub || status=$? ;;
    *) echo "unknown area $area (codec, hub or all)" >&2; exit 2 ;;
  esac
  # cargo-mutants exits 2 when some mutants were missed and 3 when some timed out: measured
  # either way. Anything else (the baseline failing, a bad option) measured nothing.
  case $status in
    0|2|3) summarize "$area" "$out/mutants.out" ;;
    *) echo "$area: cargo mutants failed (exit $status): nothing was measured"; failed=1 ;;
  esac
}

# Lines of a cargo-mutants outcome file without the `:line:col` that moves with every edit.
descriptions() { sed -E 's/^([^:]+):[0-9]+:[0-9]+: /\1: /' "$1" 2>/dev/null || true; }

summarize() {
  local area=$1 dir=$2 caught missed timeout unviable viable
  caught=$(descriptions "$dir/caught.txt" | grep -c . || true)
  missed=$(descriptions "$dir/missed.txt" | grep -c . || true)
  timeout=$(descriptions "$dir/timeout.txt" | grep -c . || true)
  unviable=$(descriptions "$dir/unviable.txt" | grep -c . || true)
  viable=$((caught + missed + timeout))
  if [ "$viable" -eq 0 ]; then echo "$area: no viable mutant was tested"; failed=1; return; fi
  # A timeout is a mutant the tests stopped (an endless loop): caught, as cargo-mutants counts it.
  local share=$(( 100 * (caught + timeout) / viable ))
  echo "$area: $((caught + timeout)) of $viable viable mutants caught ($share%), $missed missed," \
    "$timeout by timeout; $unviable unviable"
  local unexplained
  unexplained=$(descriptions "$dir/missed.txt" | while IFS= read -r line; do
    grep -qxF -- "$line" <(grep -v '^#' "$survivors" | sed -E 's/ +# .*$//') || echo "$line"
  done)
  if [ -n "$unexplained" ]; then
    echo "missed and not explained in $survivors:"; echo "$unexplained"; failed=1
  fi
  if [ "$share" -lt 95 ]; then echo "$area: under 95%"; failed=1; fi
}

failed=0
for area in "${areas[@]}"; do run_area "$area"; done
exit $failed
