#!/usr/bin/env bash
# The OS tools the local stack and the tests run (Debian packages): install them when missing and running as
# root, otherwise print the exact command and fail, so nothing starts half-configured.
set -euo pipefail

missing=()
command -v prometheus >/dev/null || missing+=(prometheus)
command -v promtool >/dev/null || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null \
    || missing+=(prometheus-alertmanager)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v hey >/dev/null || missing+=(hey)  # the HTTP load generator of the serving benchmark
command -v jq >/dev/null || missing+=(jq)  # JSON in platform/scripts/deploy.sh and monitor.sh
command -v shellcheck >/dev/null || missing+=(shellcheck)  # lints platform/scripts (a test)
command -v chromium >/dev/null || missing+=(chromium)  # renders the drift report in a test

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
# de-duplicate (prometheus ships both prometheus and promtool)
mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
cmd="apt-get install -y --no-install-recommends ${packages[*]}"
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing OS tools from Debian: ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    $cmd -qq >/dev/null
    echo "==> installed ${packages[*]}"
else
    echo "error: missing OS tools: ${packages[*]}. Install them with:" >&2
    echo "    sudo apt-get update && sudo $cmd" >&2
    exit 1
fi
