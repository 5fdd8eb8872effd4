#!/usr/bin/env bash
# Installs what a fresh machine lacks for building and testing traceledger.
# Idempotent: each step checks before it installs.
set -euo pipefail

need_apt=()
has_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
command -v cc >/dev/null || need_apt+=(build-essential)
command -v c++ >/dev/null || need_apt+=(g++)
command -v make >/dev/null || need_apt+=(make)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v python3 >/dev/null || need_apt+=(python3)
# The API fuzz run (scripts/api-fuzz.sh) installs schemathesis in a venv.
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
# rocksdb's bindings are generated with bindgen, which needs libclang.
has_pkg libclang-dev || need_apt+=(libclang-dev)
# The web console's tests: its verifier under node --test, and end-to-end
# runs in Debian's headless Chromium driven by playwright-core.
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
command -v chromium >/dev/null || need_apt+=(chromium)
# The retention test seals records "400 days ago" under libfaketime.
command -v faketime >/dev/null || need_apt+=(faketime)
# The RFC 3161 tests ask a real TSA: OpenSSL's `openssl ts -reply`.
command -v openssl >/dev/null || need_apt+=(openssl)
# RocksDB's C++ (~20 min here) is compiled once per profile and feature set
# of librocksdb-sys; sccache as the C/C++ wrapper (the Makefile sets CC and
# CXX) serves the clippy, debug and test builds from one compile.
command -v sccache >/dev/null || need_apt+=(sccache)

if ((${#need_apt[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "deps: need root to install: ${need_apt[*]}" >&2
    exit 1
  fi
  echo "deps: installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

command -v cargo >/dev/null || { echo "deps: cargo not found (rustup toolchain required)" >&2; exit 1; }

# The console tests' npm packages (playwright-core drives the system
# Chromium; it downloads no browser). Reinstalled when the lock file changes.
console=$(cd "$(dirname "$0")/../tests/console" && pwd)
if ! cmp -s "$console/package-lock.json" "$console/node_modules/.installed-lock.json" 2>/dev/null; then
  echo "deps: installing the console tests' npm packages"
  (cd "$console" && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.installed-lock.json)
fi
