#!/usr/bin/env bash
# Compile docker/serving-requirements.txt: the serving image's packages, pinned to uv.lock.
# Run after changing uv.lock or docker/serving-requirements.in (needs the package index).
# Left out: mypy and its compiled helpers (55 MB), which Feast declares but never imports for
# online reads; the container test's /predict proves the image works without them.
set -euo pipefail
cd "$(dirname "$0")/../.."
UV=.venv/bin/uv
constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
# Every version the project locked (what the tests ran), as constraints: nothing newer sneaks in.
"$UV" export --frozen --no-hashes --no-emit-project --all-groups --format requirements-txt \
    | grep -v '^-e' > "$constraints"
"$UV" pip compile docker/serving-requirements.in --constraints "$constraints" \
    --python-version 3.11 --python-platform x86_64-unknown-linux-gnu --no-header \
    --no-annotate --quiet --output-file docker/serving-requirements.txt \
    --no-emit-package mypy --no-emit-package librt --no-emit-package ast-serialize
echo "==> docker/serving-requirements.txt: $(grep -c '==' docker/serving-requirements.txt) packages"
