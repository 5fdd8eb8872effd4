#!/usr/bin/env bash
# The TypeScript SDK (sdk/typescript): its pinned dev dependencies from the
# npm registry (`npm ci`, from package-lock.json), compiled with tsc
# --strict, and tested with `node --test` against real `traceledger up`
# nodes on loopback; one test packs it with `npm pack` and installs the
# tarball offline into a fresh project.
#
#   scripts/sdk-typescript.sh          (make test runs it)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked -q -p traceledger-cli
export TRACELEDGER_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/traceledger"

cd sdk/typescript
npm ci --no-audit --no-fund --loglevel=error >/dev/null
npx --no-install tsc -p tsconfig.json
node --test --test-reporter=spec test/*.test.mjs
