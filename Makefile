# traceledger — the two commands: `make up` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# One target directory per machine, outside the clone, so CI on a fresh clone
# reuses what earlier runs built (RocksDB takes ~15 min to compile here).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/traceledger/target
export CARGO_TERM_COLOR ?= never
CARGO ?= cargo
# cc-rs runs C/C++ through a known wrapper named first in CC/CXX: RocksDB's
# C++ is then compiled once and served from the cache to every other build
# of librocksdb-sys (clippy, debug, test, fuzz share the same flags).
# (deps installs sccache; `make test` re-reads this file after deps.)
ifneq ($(shell command -v sccache 2>/dev/null),)
ifeq ($(origin CC),default)
export CC := sccache cc
endif
ifeq ($(origin CXX),default)
export CXX := sccache c++
endif
endif
BIN := $(CARGO_TARGET_DIR)/release/traceledger
# Each phase of `make test` is timed; the times are printed at the end.
TIMED := scripts/timed.sh

.PHONY: help deps up build test test-all lint unit console fuzz-smoke fuzz api-fuzz sdk-python sdk-integrations sdk-typescript bench clean

help:
	@echo "make up          install what is missing, then run traceledger on the embedded default with a demo fleet (Ctrl-C stops)"
	@echo "make test        install what is missing, then lint and run every test (what CI runs)"
	@echo "make bench       run the benchmarks (figures go in BENCHMARKS.md)"
	@echo "make fuzz        fuzz every parser of outside input for FUZZ_SECONDS each (default 60)"

deps:
	@scripts/deps.sh

build: deps
	$(CARGO) build --release --locked -p traceledger-cli

# Content is encrypted at rest under a master key kept beside the data
# directory, not in it (docs/encryption.md).
up: build
	@test -f .master.key || $(BIN) vault new-master-key --out .master.key
	$(BIN) up --demo --otlp-grpc --data $${TRACELEDGER_DATA:-.data} --master-key .master.key

lint: deps
	$(TIMED) fmt $(CARGO) fmt --all --check
	$(TIMED) clippy $(CARGO) clippy --locked --workspace --all-targets -- -D warnings

# Tests run against a real Kafka-API broker (tansu on 127.0.0.1), started
# for the run and stopped after; scripts/with-broker.sh installs tansu if missing.
unit: deps
	$(TIMED) python-deps scripts/python-deps.sh
	$(TIMED) unit scripts/with-broker.sh scripts/unit.sh

# Fuzz first, so that the test runner's summary closes the output.
# deps first, then a fresh make, so that what deps installed (sccache) is
# seen when this file is read.
test:
	@$(TIMED) --reset
	@$(TIMED) deps scripts/deps.sh
	@$(TIMED) prune scripts/prune-target.sh
	@$(MAKE) --no-print-directory test-all
	@$(TIMED) --summary

test-all: lint fuzz-smoke api-fuzz console sdk-python sdk-integrations sdk-typescript unit

# The web console's in-browser verifier against the public vectors (the
# end-to-end Chromium run is a cargo test: crates/cli/tests/console.rs).
console: deps
	cd tests/console && ../../$(TIMED) console node --test verify.test.mjs

# The Python SDK: pip-installed, mypy --strict, pytest against real nodes.
sdk-python: deps
	$(TIMED) sdk-python scripts/sdk-python.sh

# The Python SDK's LangChain, OpenAI Agents and CrewAI integrations, each
# framework from PyPI run on its offline fake model against real nodes.
sdk-integrations: deps
	$(TIMED) sdk-integrations scripts/sdk-integrations.sh

# The TypeScript SDK: npm ci, tsc --strict, node --test against real nodes.
sdk-typescript: deps
	$(TIMED) sdk-typescript scripts/sdk-typescript.sh

# The query API driven from its OpenAPI document by schemathesis: no 5xx.
api-fuzz: deps
	$(TIMED) api-fuzz scripts/api-fuzz.sh

# Each fuzz target runs briefly on every test run; `make fuzz` runs longer.
FUZZ_SECONDS ?= 60
fuzz-smoke: deps
	@FUZZ_SECONDS=15 $(TIMED) fuzz-smoke scripts/fuzz.sh

fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

# The ledger core's criterion benches, then `traceledger bench` with every
# figure (embedded, a tansu broker started for the run, latency, memory).
bench: build
	$(CARGO) bench --locked -p traceledger-core --bench ledger
	scripts/with-broker.sh bash -c '$(BIN) bench --kafka "$$TRACELEDGER_TEST_BROKER"' 

clean:
	$(CARGO) clean
