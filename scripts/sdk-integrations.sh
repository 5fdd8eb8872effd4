#!/usr/bin/env bash
# The Python SDK's framework integrations (sdk/python/src/traceledger/
# integrations): each framework from PyPI in its own venv (CrewAI pins an
# openai the OpenAI Agents SDK refuses), the SDK pip-installed into it,
# mypy --strict over its module, and its pytest suite against real
# `traceledger up` nodes, the framework driven by its offline fake model.
#
#   scripts/sdk-integrations.sh          (make test runs it)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked -q -p traceledger-cli
export TRACELEDGER_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/traceledger"
# Nothing phones home: CrewAI's telemetry and tracing are off, and so is
# the OpenTelemetry SDK it would export them with.
export CREWAI_DISABLE_TELEMETRY=true CREWAI_TRACING_ENABLED=false OTEL_SDK_DISABLED=true
export OPENAI_AGENTS_DISABLE_TRACING=0 OPENAI_API_KEY=sk-offline-never-used

here=sdk/python/tests/integrations
run() { # run NAME MODULES TESTS
  local name=$1 modules=$2 tests=$3
  local venv="${TRACELEDGER_VENV_ROOT:-$HOME/.cache/traceledger}/venv-$name"
  local reqs="$here/requirements-$name.txt"
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
  if ! cmp -s "$reqs" "$venv/.installed-requirements.txt"; then
    echo "sdk-integrations: installing $reqs into $venv (once per change of it)…" >&2
    "$venv/bin/pip" install -q -r "$reqs"
    cp "$reqs" "$venv/.installed-requirements.txt"
  fi
  "$venv/bin/pip" install -q --no-build-isolation --no-deps --force-reinstall ./sdk/python
  for m in $modules; do
    "$venv/bin/python" -m mypy --strict --follow-imports=silent --ignore-missing-imports "sdk/python/src/traceledger/integrations/$m.py"
  done
  # From the tests' directory, so `import traceledger` is the installed package.
  (cd sdk/python/tests && "$venv/bin/python" -m pytest -q -p no:cacheprovider $tests)
}
run agents "langchain openai_agents" "integrations/test_langchain.py integrations/test_openai_agents.py"
run crewai "crewai" "integrations/test_crewai.py"
