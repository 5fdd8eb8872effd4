#!/usr/bin/env bash
# Runs every cargo-fuzz target for FUZZ_SECONDS seconds each, starting from
# the committed seeds (fuzz/seeds/<target>). Installs cargo-fuzz if missing.
# A crash fails the run and leaves the input under fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

# cargo fuzz needs nightly features (sanitizers). Use a nightly toolchain if
# the machine has one, else let the stable compiler accept them.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  tc=(+nightly)
else
  tc=()
  export RUSTC_BOOTSTRAP=1
fi
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/traceledger/fuzz-target}"

for t in $(cargo "${tc[@]}" fuzz list); do
  mkdir -p "fuzz/corpus/$t"
  echo "fuzz: $t for ${secs}s"
  log="fuzz/$t.log"
  if ! cargo "${tc[@]}" fuzz run "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=512 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz: $t FAILED (full log: $log)" >&2
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
done
echo "fuzz: all targets ran without a crash"
