#!/usr/bin/env bash
# The Python SDK (sdk/python): installed with pip from its directory into
# the project's venv, type-checked (mypy --strict), and tested with pytest
# against real `traceledger up` nodes on loopback.
#
#   scripts/sdk-python.sh          (make test runs it)
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${TRACELEDGER_VENV:-$HOME/.cache/traceledger/venv}"
scripts/python-deps.sh

cargo build --locked -q -p traceledger-cli
export TRACELEDGER_BIN="${CARGO_TARGET_DIR:-target}/debug/traceledger"

# `pip install ./sdk/python`, as a user would (the venv's setuptools builds it).
"$venv/bin/pip" install -q --no-build-isolation --no-deps --force-reinstall ./sdk/python
"$venv/bin/python" -m mypy --strict --exclude "traceledger/integrations/" sdk/python/src
# From the tests' directory, so `import traceledger` is the installed package.
cd sdk/python/tests
"$venv/bin/python" -m pytest -q -p no:cacheprovider --ignore=integrations .
