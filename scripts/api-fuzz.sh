#!/usr/bin/env bash
# Property-based fuzzing of the query API from its own OpenAPI document with
# schemathesis (PyPI): a real `traceledger up` on loopback, an Owner key,
# every operation driven with generated inputs (coverage, fuzzing and
# stateful phases). Fails on any 5xx answer.
#
#   scripts/api-fuzz.sh            (make test runs it; API_FUZZ_EXAMPLES, default 25)
#
# schemathesis is installed once per machine into ~/.cache/traceledger/venv.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

venv="${TRACELEDGER_VENV:-$HOME/.cache/traceledger/venv}"
if [[ ! -x "$venv/bin/st" ]]; then
  echo "api-fuzz: installing schemathesis into $venv (once per machine)…" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis>=4,<5"
fi

cargo build --locked -q -p traceledger-cli
bin="${CARGO_TARGET_DIR:-target}/debug/traceledger"
dir=$(mktemp -d -t traceledger-api-fuzz.XXXXXX)
port=$(free_port)
key=$("$bin" keys create --data "$dir/data" --tenant acme --role owner --env test --json |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])')
"$bin" up --data "$dir/data" --http "127.0.0.1:$port" --rate-limit 100000 --rate-burst 100000 >"$dir/up.log" 2>&1 &
pid=$!
stop() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap stop EXIT

wait_listening "api-fuzz: traceledger up" "$pid" "$port" "$dir/up.log"

echo "api-fuzz: schemathesis against 127.0.0.1:$port"
"$venv/bin/st" run "http://127.0.0.1:$port/v1/openapi.json" \
  -H "Authorization: Bearer $key" \
  --checks not_a_server_error \
  -n "${API_FUZZ_EXAMPLES:-25}" \
  --seed 1 >"$dir/st.log" 2>&1 || {
  cat "$dir/st.log" >&2
  echo "api-fuzz: FAILED (a 5xx answer, or schemathesis could not run)" >&2
  exit 1
}
grep -E "generated|passed|failed" "$dir/st.log" | tail -n 3
echo "api-fuzz: no 5xx"
