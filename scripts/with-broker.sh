#!/usr/bin/env bash
# Runs a command with a real Kafka-API broker (tansu) on 127.0.0.1, then
# stops the broker, whatever the command's outcome:
#
#   scripts/with-broker.sh cargo test --workspace
#
# The broker's address is exported as TRACELEDGER_TEST_BROKER. Storage is
# SQLite in a fresh temporary directory. Installs tansu if it is missing
# (`cargo install tansu --locked --features libsql`, 8-15 minutes once per machine).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if ! command -v tansu >/dev/null; then
  echo "broker: installing tansu (once per machine)…" >&2
  cargo install tansu --locked --features libsql
fi

dir=$(mktemp -d -t traceledger-broker.XXXXXX)
port=$(free_port)
log="$dir/tansu.log"

# tansu reads `sqlite://PATH` as relative to its working directory, so it
# runs inside the temporary directory.
(cd "$dir" && exec tansu broker \
  --listener-url "tcp://127.0.0.1:$port" \
  --advertised-listener-url "tcp://127.0.0.1:$port" \
  --storage-engine "sqlite://tansu.db") >"$log" 2>&1 &
pid=$!

stop_at_exit "$pid" "$dir"

wait_listening "broker: tansu" "$pid" "$port" "$log"

echo "broker: tansu on 127.0.0.1:$port (log $log)" >&2
export TRACELEDGER_TEST_BROKER="127.0.0.1:$port"
set +e
"$@"
status=$?
set -e
if [[ $status -ne 0 ]]; then
  echo "broker: last lines of the tansu log:" >&2
  tail -n 30 "$log" >&2 || true
fi
exit $status
