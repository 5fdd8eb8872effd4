#!/usr/bin/env bash
# The Python tools the tests drive, in one venv per machine
# (~/.cache/traceledger/venv, or $TRACELEDGER_VENV): schemathesis for
# scripts/api-fuzz.sh, and Confluent's own Kafka client with its
# schema-registry Avro serdes for crates/cli/tests/registry.rs; pytest and
# mypy for the Python SDK, and the OpenTelemetry SDK with its OTLP/HTTP
# exporter for the OTLP ingest tests (scripts/sdk-python.sh). Installs
# what is missing; quiet when nothing is.
set -euo pipefail
venv="${TRACELEDGER_VENV:-$HOME/.cache/traceledger/venv}"
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
if ! "$venv/bin/python" -c 'import schemathesis' 2>/dev/null; then
  echo "python-deps: installing schemathesis into $venv (once per machine)…" >&2
  "$venv/bin/pip" install -q "schemathesis>=4,<5"
fi
if ! "$venv/bin/python" -c 'import confluent_kafka.schema_registry.avro, fastavro' 2>/dev/null; then
  echo "python-deps: installing confluent-kafka[avro] into $venv (once per machine)…" >&2
  "$venv/bin/pip" install -q "confluent-kafka[avro]>=2.6,<3"
fi
if ! "$venv/bin/python" -c 'import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http' 2>/dev/null; then
  echo "python-deps: installing the OpenTelemetry SDK and OTLP/HTTP exporter into $venv (once per machine)…" >&2
  "$venv/bin/pip" install -q "opentelemetry-sdk>=1.30,<2" "opentelemetry-exporter-otlp-proto-http>=1.30,<2"
fi
if ! "$venv/bin/python" -c 'import pytest, mypy, setuptools, wheel' 2>/dev/null; then
  echo "python-deps: installing pytest, mypy, setuptools and wheel into $venv (once per machine)…" >&2
  "$venv/bin/pip" install -q "pytest>=8,<10" "mypy>=1.10,<2" "setuptools>=61" wheel
fi
