#!/usr/bin/env bash
# The README's main job: installs netlab (building its C++ engine) into the virtual
# environment .venv, then runs `python -m netlab demo` with this script's arguments, e.g.
#   bash scripts/demo.sh --connections 50,1000 --duration 3
# PYTHON picks the interpreter .venv is made with (default python3: Debian's or pyenv's).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {  # sudo resets the environment: pass DEBIAN_FRONTEND on
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo env DEBIAN_FRONTEND="$DEBIAN_FRONTEND" "$@"; fi
}

# A compiler, Python's headers and venv, zlib's headers (HttpProxy's gzip) and SQLite's
# (LogServer's store). apt-get only
# where it exists and may be used (as root or through sudo), and only when something is
# missing; elsewhere they are taken as present.
needed=(g++ python3-dev python3-venv zlib1g-dev libsqlite3-dev)
installed() {
  dpkg-query -W -f='${db:Status-Status}\n' "${needed[@]}" 2>/dev/null | grep -cx installed
}
export DEBIAN_FRONTEND=noninteractive
if command -v apt-get >/dev/null && { [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null; } \
    && [ "$(installed)" -ne "${#needed[@]}" ]; then
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
fi

# Debian's system Python refuses pip installs into itself (PEP 668,
# "externally-managed-environment"), so netlab goes into .venv.
if ! .venv/bin/python -c "" 2>/dev/null; then
  "${PYTHON:-python3}" -m venv --clear .venv
fi
echo "Installing netlab into .venv (the first build of its C++ engine takes 1-2 minutes) ..."
# Build tools in .venv and no build isolation: a later install reuses the C++ build in build/.
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install --quiet cmake ninja "scikit-build-core>=0.10" "pybind11>=2.12"
.venv/bin/python -m pip install --quiet --no-build-isolation .
exec .venv/bin/python -m netlab demo "$@"
