#!/usr/bin/env bash
# Property-based fuzzing of the query API from its own OpenAPI document with
# schemathesis (PyPI): a real `traceledger up` on loopback, an Owner key,
# every operation driven with generated inputs (coverage, fuzzing and
# stateful phases), on a node holding a small fleet of the key's tenant.
# Fails on any 5xx answer, or an answer that does not match the document.
#
#   scripts/api-fuzz.sh            (make test runs it; API_FUZZ_EXAMPLES, default 25)
#
# schemathesis is installed once per machine into ~/.cache/traceledger/venv.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

venv="${TRACELEDGER_VENV:-$HOME/.cache/traceledger/venv}"
scripts/python-deps.sh

cargo build --locked -q -p traceledger-cli
bin="${CARGO_TARGET_DIR:-target}/debug/traceledger"
dir=$(mktemp -d -t traceledger-api-fuzz.XXXXXX)
port=$(free_port)
key=$("$bin" keys create --data "$dir/data" --tenant acme --role owner --env test --json |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])')
"$bin" up --data "$dir/data" --http "127.0.0.1:$port" --rate-limit 100000 --rate-burst 100000 --publish-projections \
  --auth-failures-per-second 100000 --auth-failure-burst 100000 >"$dir/up.log" 2>&1 &
pid=$!
stop_at_exit "$pid" "$dir"

wait_listening "api-fuzz: traceledger up" "$pid" "$port" "$dir/up.log"

# Real data for the responses to be checked against the document: a small
# fleet of the key's tenant, posted and projected before the run.
"$bin" fleet --tenants 1 --agents 2 --sessions 4 --seed 3 --out "$dir/fleet.jsonl"
python3 - "$dir/fleet.jsonl" "$port" "$key" <<'PY'
import json, sys, time, urllib.request
path, port, key = sys.argv[1], sys.argv[2], sys.argv[3]
events = [json.loads(line) for line in open(path)]
req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/events", data=json.dumps(events).encode(),
                             headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
assert urllib.request.urlopen(req).status == 202
deadline = time.time() + 120
while time.time() < deadline:
    h = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health"))
    if h["lag"] == 0 and all(p.get("lag", 0) == 0 for p in h["projections"].values()):
        break
    time.sleep(0.1)
else:
    sys.exit("api-fuzz: the fleet was not projected in time")
print(f"api-fuzz: {len(events)} events of the key's tenant ingested and projected")
PY

echo "api-fuzz: schemathesis against 127.0.0.1:$port"
"$venv/bin/st" run "http://127.0.0.1:$port/v1/openapi.json" \
  -H "Authorization: Bearer $key" \
  --checks not_a_server_error,response_schema_conformance \
  -n "${API_FUZZ_EXAMPLES:-25}" \
  --seed 1 >"$dir/st.log" 2>&1 || {
  cat "$dir/st.log" >&2
  echo "api-fuzz: FAILED (a 5xx answer, an answer that does not match the document, or schemathesis could not run)" >&2
  exit 1
}
grep -E "generated|passed|failed" "$dir/st.log" | tail -n 3
echo "api-fuzz: no 5xx; every answer matches the document"
