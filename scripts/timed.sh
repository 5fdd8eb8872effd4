#!/usr/bin/env bash
# Times the phases of `make test` and prints them at the end:
#
#   scripts/timed.sh --reset            start a new record
#   scripts/timed.sh NAME CMD [ARG…]     run CMD as phase NAME, record its time
#   scripts/timed.sh --summary          print every phase with its minutes
#
# A phase that fails prints the record so far, so a red run also says
# where its time went. The record is $TRACELEDGER_PHASES (default under
# ~/.cache/traceledger).
set -uo pipefail
file="${TRACELEDGER_PHASES:-$HOME/.cache/traceledger/phases}"
mkdir -p "$(dirname "$file")"

summary() {
  [[ -f $file ]] || return 0
  echo "── make test: phases ─────────────────────────"
  awk '{ t += $2; printf "  %-12s %6.1f min%s\n", $1, $2 / 60, ($3 == 0 ? "" : "  FAILED (exit " $3 ")") }
       END { printf "  %-12s %6.1f min\n", "total", t / 60 }' "$file"
}

case "${1:-}" in
  --reset) : >"$file"; exit 0 ;;
  --summary) summary; exit 0 ;;
  "") echo "usage: scripts/timed.sh NAME CMD [ARG…] | --reset | --summary" >&2; exit 2 ;;
esac

name=$1
shift
start=$(date +%s)
"$@"
rc=$?
echo "$name $(($(date +%s) - start)) $rc" >>"$file"
((rc == 0)) || summary >&2
exit "$rc"
