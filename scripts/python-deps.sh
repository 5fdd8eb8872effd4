#!/usr/bin/env bash
# The Python tools the tests drive, in one venv per machine
# (~/.cache/traceledger/venv, or $TRACELEDGER_VENV): schemathesis for
# scripts/api-fuzz.sh, and Confluent's own Kafka client with its
# schema-registry Avro serdes for crates/cli/tests/registry.rs; pytest and
# mypy for the Python SDK, and the OpenTelemetry SDK with its OTLP/HTTP
# and OTLP/gRPC exporters for the OTLP ingest tests (scripts/sdk-python.sh); the
# deployment files' validators (crates/cli/tests/deploy.rs). Installs
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
if ! "$venv/bin/python" -c 'import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http, opentelemetry.exporter.otlp.proto.grpc' 2>/dev/null; then
  echo "python-deps: installing the OpenTelemetry SDK and its OTLP/HTTP and OTLP/gRPC exporters into $venv (once per machine)…" >&2
  "$venv/bin/pip" install -q "opentelemetry-sdk>=1.30,<2" "opentelemetry-exporter-otlp-proto-http>=1.30,<2" "opentelemetry-exporter-otlp-proto-grpc>=1.30,<2"
fi
# The deployment files' offline checks (tests/deploy/check.py): the
# Kubernetes schemas, and the compose specification's schema, which is all
# that is used of docker-compose 1.29.2 (hence --no-deps).
if ! "$venv/bin/python" -c 'import kubernetes_validate, jsonschema, yaml' 2>/dev/null; then
  echo "python-deps: installing kubernetes-validate into $venv (once per machine)…" >&2
  "$venv/bin/pip" install -q "kubernetes-validate==1.37.0"
fi
if [[ ! -f "$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/compose/config/compose_spec.json" ]]; then
  echo "python-deps: installing the compose specification schema (docker-compose 1.29.2) into $venv (once per machine)…" >&2
  "$venv/bin/pip" install -q --no-deps "docker-compose==1.29.2"
fi
if ! "$venv/bin/python" -c 'import pytest, mypy, setuptools, wheel' 2>/dev/null; then
  echo "python-deps: installing pytest, mypy, setuptools and wheel into $venv (once per machine)…" >&2
  "$venv/bin/pip" install -q "pytest>=8,<10" "mypy>=1.10,<2" "setuptools>=61" wheel
fi
