#!/usr/bin/env bash
# The test command (README): installs everything the tests need, then runs pytest.
#   bash scripts/test.sh [pytest args...]   (e.g. -m 'not slow', -n 0, tests/flows)
# - pip: the package in editable mode with its [test] extra
# - Debian's tshark (the real consumer of our pcapng), non-interactively
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'

if ! command -v tshark >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections || true
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends tshark >/dev/null
fi
tshark --version | head -1

# the tests run in parallel (pytest-xdist), two workers per CPU: many of them wait on loopback servers,
# tshark or the recorded pace rather than compute. A module's tests stay on one worker (--dist loadscope), so
# its module- and session-scoped conversions are made once, not once per worker (one run each on
# 2 CPUs: 51 s instead of 56). `-n 0` after this runs them in one process.
workers=$(( $(nproc 2>/dev/null || echo 1) * 2 ))
exec python3 -m pytest -n "$workers" --dist loadscope "$@"
