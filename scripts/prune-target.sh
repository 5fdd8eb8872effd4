#!/usr/bin/env bash
# Keeps the shared target directory (CARGO_TARGET_DIR, outside the clone)
# from filling the disk. Every clean clone CI makes has its own path, and
# cargo hashes a workspace crate's path into its artifact names, so each
# clone adds a full set of test binaries (~0.5 GB each with debug info, ~16
# GB a run); they are never reused once that clone is gone. This keeps the
# two newest of each executable in debug/deps (this run's and one other
# checkout's) and drops the rest, with their .d files. Libraries are left
# alone: dependencies' are shared by every clone.
set -euo pipefail
deps="${CARGO_TARGET_DIR:-$HOME/.cache/traceledger/target}/debug/deps"
[ -d "$deps" ] || exit 0
before=$(du -sm "$deps" | cut -f1)
find "$deps" -maxdepth 1 -type f -perm -u+x ! -name '*.*' -printf '%T@ %f\n' |
  sort -rn |
  awk '{ n = $2; sub(/-[0-9a-f]+$/, "", n); if (++seen[n] > 2) print $2 }' |
  while read -r f; do rm -f "$deps/$f" "$deps/$f.d"; done
after=$(du -sm "$deps" | cut -f1)
echo "prune-target: debug/deps $before MB → $after MB"
