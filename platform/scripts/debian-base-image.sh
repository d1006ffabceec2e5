#!/usr/bin/env bash
# Build a Python base image from Debian packages when no image registry answers.
# Usage: debian-base-image.sh DOCKER IMAGE_NAME
# Why: the serving Dockerfile's default base is the official python slim image; a machine that
# cannot pull it (no registry reachable) gets an equivalent made with debootstrap instead.
set -euo pipefail
DOCKER="$1"
NAME="$2"
SUITE="${DOJO_DEBIAN_SUITE:-bookworm}"

if "$DOCKER" image inspect "$NAME" >/dev/null 2>&1; then
    echo "==> base image $NAME already built"
    exit 0
fi
if ! command -v debootstrap >/dev/null; then
    echo "debootstrap is missing: run 'apt-get install -y debootstrap' (needed because no image registry answers)" >&2
    exit 3
fi
ROOT="$(mktemp -d)"
trap 'rm -rf "$ROOT"' EXIT
echo "==> no registry answers: building $NAME from Debian $SUITE packages (debootstrap, ~2 min)"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$SUITE" "$ROOT" >"$ROOT.log" 2>&1 || { tail -20 "$ROOT.log" >&2; exit 1; }
rm -f "$ROOT.log"
# The same interpreter path as the official image, so the Dockerfile needs no branch.
ln -sf /usr/bin/python3 "$ROOT/usr/local/bin/python"
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
tar -C "$ROOT" -c . | "$DOCKER" import -c 'CMD ["python3"]' - "$NAME" >/dev/null
echo "==> built $NAME ($("$DOCKER" image inspect -f '{{.Size}}' "$NAME" | awk '{printf "%.0f MB", $1/1e6}'))"
