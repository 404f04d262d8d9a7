#!/usr/bin/env bash
# Installs everything the test suite needs (apt-get as root or through sudo, no prompts; pip
# into the virtual environment .venv), then runs every test: the C++ unit tests and the
# decoder fuzzers through CTest, under AddressSanitizer and UBSan, then pytest against the
# package installed in .venv.
# PYTHON picks the interpreter .venv is made with (default python3: Debian's or pyenv's).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {  # sudo resets the environment: pass DEBIAN_FRONTEND on
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo env DEBIAN_FRONTEND="$DEBIAN_FRONTEND" "$@"; fi
}

export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq
# python3-dev, python3-venv, zlib1g-dev and libsqlite3-dev: the extension's headers, Debian's venv (harmless
# with a pyenv Python), zlib's headers for HttpProxy's gzip and SQLite's for LogServer; netcat-openbsd, socat, curl,
# wget, wrk, nginx-light and rsyslog: real peers in the tests (nginx and rsyslogd run as the tests start them, on a free
# port, never as a service); libgtest-dev: the C++ unit tests; clang and its runtime:
# libFuzzer with AddressSanitizer and UBSan for the decoders and the HTTP parser.
as_root apt-get install -y -qq --no-install-recommends \
  g++ python3-dev python3-venv zlib1g-dev libsqlite3-dev netcat-openbsd socat curl wget wrk nginx-light rsyslog \
  libgtest-dev clang libclang-rt-14-dev >/dev/null

# Debian's system Python refuses pip installs into itself (PEP 668,
# "externally-managed-environment"), so everything Python goes into .venv.
if ! .venv/bin/python -c "" 2>/dev/null; then
  "${PYTHON:-python3}" -m venv --clear .venv
fi
export PATH="$PWD/.venv/bin:$PATH" PIP_DISABLE_PIP_VERSION_CHECK=1  # cmake, ctest, ninja
# The build tools live in .venv and the build runs without pip's isolation, so the C++ build
# in build/ is reused by every later install (an isolated build gets a new environment each
# time, and scikit-build-core then starts the build over).
.venv/bin/python -m pip install --quiet cmake ninja "scikit-build-core>=0.10" "pybind11>=2.12"
.venv/bin/python -m pip install --quiet --no-build-isolation ".[test,locust,notebook]"

# The C++ unit tests and the fuzzers share one build, with clang, AddressSanitizer and UBSan:
# every unit test also checks memory and undefined behaviour, and the engine compiles once
# here instead of twice. Each fuzzer replays the committed corpus, then searches for
# NETLAB_FUZZ_SECONDS.
cmake -S . -B build/sanitized -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DNETLAB_BUILD_PYTHON=OFF \
  -DNETLAB_BUILD_TESTS=ON -DNETLAB_BUILD_FUZZERS=ON \
  -DNETLAB_FUZZ_SECONDS="${NETLAB_FUZZ_SECONDS:-15}"
cmake --build build/sanitized -j 2
ctest --test-dir build/sanitized --output-on-failure

.venv/bin/python -m pytest
