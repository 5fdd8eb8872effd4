#!/usr/bin/env bash
# Runs every cargo-fuzz target for FUZZ_SECONDS seconds each, starting from
# the committed seeds (fuzz/seeds/<target>). Installs cargo-fuzz if missing.
# A crash fails the run and leaves the input under fuzz/artifacts/.
# The targets are built once, then run FUZZ_JOBS at a time (default: one
# per core; each libFuzzer run is one process on one core).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-$(nproc)}

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

targets=$(cargo "${tc[@]}" fuzz list)
cargo "${tc[@]}" fuzz build

# One target: its run's log in fuzz/<target>.log, its last lines on failure.
run_one() {
  local t=$1 log="fuzz/$1.log"
  mkdir -p "fuzz/corpus/$t"
  if ! cargo "${tc[@]}" fuzz run "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=512 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz: $t FAILED (full log: $log)" >&2
    return 1
  fi
  echo "fuzz: $t ran ${secs}s: $(grep -E '^stat::number_of_executed_units' "$log" | tr -s ' ' | cut -d' ' -f2) runs, peak $(grep -E '^stat::peak_rss_mb' "$log" | tr -s ' ' | cut -d' ' -f2) MB"
}
export -f run_one
export secs
export tc_flag="${tc[*]:-}"

# xargs exits non-zero if any run failed.
printf '%s\n' $targets | xargs -P "$jobs" -I{} bash -c 'tc=(${tc_flag}); run_one "$1"' _ {}
echo "fuzz: all $(printf '%s\n' $targets | wc -l) targets ran without a crash"
