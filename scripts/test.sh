#!/usr/bin/env bash
# Installs everything the test suite needs (as root, no prompts), then runs every test:
# the C++ unit tests through CTest, then pytest against the installed package.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq
# netcat-openbsd: a real client in the tests; libgtest-dev: the C++ unit tests;
# clang and its runtime: libFuzzer with AddressSanitizer and UBSan for the decoders.
as_root apt-get install -y -qq --no-install-recommends \
  g++ netcat-openbsd libgtest-dev clang libclang-rt-14-dev >/dev/null

python3 -m pip install --quiet --root-user-action=ignore cmake ninja
python3 -m pip install --quiet --root-user-action=ignore ".[test,locust,notebook]"

cmake -S . -B build/cpp-tests -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DNETLAB_BUILD_PYTHON=OFF -DNETLAB_BUILD_TESTS=ON
cmake --build build/cpp-tests -j 2
ctest --test-dir build/cpp-tests --output-on-failure

# Each decoder's fuzzer replays the committed corpus, then searches for NETLAB_FUZZ_SECONDS.
cmake -S . -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DNETLAB_BUILD_PYTHON=OFF \
  -DNETLAB_BUILD_FUZZERS=ON -DNETLAB_FUZZ_SECONDS="${NETLAB_FUZZ_SECONDS:-15}"
cmake --build build/fuzz -j 2
ctest --test-dir build/fuzz --output-on-failure

python3 -m pytest
