#!/usr/bin/env bash
# The cost of the read side's forwarding hop (docs/deploy.md, "Read
# instances"): a sequencer and two sharded `project --http` instances on the
# test broker; one tenant's GET /v1/sessions/{id} and /v1/whoami, 3,000 each,
# straight to the instance that serves the tenant (the baseline) and through
# the other one, alternating on kept-alive connections; p50/p99 and the ratio.
#   scripts/with-broker.sh scripts/bench-forwarding.sh
# Uses the release build (make build) unless TRACELEDGER_BIN names another.
set -euo pipefail
B=${TRACELEDGER_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/traceledger/target}/release/traceledger}
D=$(mktemp -d); P="fwd$$."
mkdir -p $D/seq
$B keys create --data $D/seq --tenant acme --role owner --json > $D/key.json
KEY=$(python3 -c "import json;print(json.load(open('$D/key.json'))['secret'])")
$B sequencer --kafka $TRACELEDGER_TEST_BROKER --topic-prefix $P --data $D/seq --partitions 4 --http 127.0.0.1:0 > $D/seq.out 2>&1 &
S=$!
for i in $(seq 100); do grep -q "listening on" $D/seq.out && break; sleep 0.1; done
ING=$(grep -o 'http://[0-9.:]*' $D/seq.out | head -1)
P0=$(python3 -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])")
P1=$(python3 -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])")
PEERS="http://127.0.0.1:$P0,http://127.0.0.1:$P1"
for i in 0 1; do
  port=$([ $i = 0 ] && echo $P0 || echo $P1)
  $B project --kafka $TRACELEDGER_TEST_BROKER --topic-prefix $P --data $D/r$i --http 127.0.0.1:$port --signing-key $D/seq/keys/ledger.key --instances 2 --instance-index $i --peers $PEERS --rate-limit 1000000 --rate-burst 1000000 > $D/r$i.out 2>&1 &
done
for i in $(seq 200); do grep -q "listening on" $D/r0.out && grep -q "listening on" $D/r1.out && break; sleep 0.1; done
python3 - "$ING" "$KEY" "$P0" "$P1" <<'PY'
import http.client, json, sys, time, statistics
ing, key, p0, p1 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
h = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
host, port = ing.replace("http://", "").split(":")
evs = [{"event_id": f"00000000-0000-4000-8000-{i:012x}", "agent_id": "a", "session_id": f"s-{i//10}", "step_index": i % 10,
        "kind": "llm_call", "timestamp": "2026-12-05T00:00:00Z", "input": "q", "output": "a"} for i in range(200)]
c = http.client.HTTPConnection(host, int(port)); c.request("POST", "/v1/events", json.dumps(evs), h); assert c.getresponse().status == 202
conns = {p: http.client.HTTPConnection("127.0.0.1", p) for p in (p0, p1)}
def get(p, path):
    c = conns[p]; t = time.perf_counter(); c.request("GET", path, headers=h); r = c.getresponse(); r.read(); return r.status, time.perf_counter() - t
deadline = time.time() + 60
while True:
    st = [get(p, "/v1/sessions/s-19")[0] for p in (p0, p1)]
    if st == [200, 200]: break
    assert time.time() < deadline, st
    time.sleep(0.2)
# Which instance serves acme: the one whose health shows its records.
def applied(p):
    c = http.client.HTTPConnection("127.0.0.1", p); c.request("GET", "/v1/health"); return json.loads(c.getresponse().read())["projections"]["sessions"]["applied"]
owner, other = (p0, p1) if applied(p0) >= 200 else (p1, p0)
for path in ["/v1/sessions/s-7", "/v1/whoami"]:
    direct, fwd = [], []
    for i in range(3000):
        for p, acc in ((owner, direct), (other, fwd)):
            s, dt = get(p, path); assert s == 200, s; acc.append(dt * 1000)
    q = lambda v, x: statistics.quantiles(v, n=100)[x - 1]
    print(f"{path:20} direct (baseline) p50 {statistics.median(direct):.3f} ms p99 {q(direct,99):.3f} ms | "
          f"forwarded p50 {statistics.median(fwd):.3f} ms p99 {q(fwd,99):.3f} ms | ratio p50 {statistics.median(fwd)/statistics.median(direct):.2f}")
PY
kill $S $(jobs -p) 2>/dev/null || true
wait 2>/dev/null || true
rm -rf $D
