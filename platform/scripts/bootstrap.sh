#!/usr/bin/env bash
# Create .venv from uv.lock. Idempotent: a second run only checks that the venv matches the lock.
# uv comes from PyPI (pinned) so a fresh machine needs nothing but Python 3.11+ and make.
set -euo pipefail

UV_VERSION="0.13.8"
PYTHON="${PYTHON:-python3}"
cd "$(dirname "$0")/../.."

if ! "$PYTHON" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else 1)'; then
    echo "error: mlops-dojo needs Python 3.11 or 3.12; '$PYTHON' is $("$PYTHON" -V 2>&1). Set PYTHON=python3.11." >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $("$PYTHON" -V)"
    "$PYTHON" -m venv .venv
fi
if [ "$(.venv/bin/uv --version 2>/dev/null | cut -d' ' -f2)" != "$UV_VERSION" ]; then
    echo "==> installing uv $UV_VERSION into .venv"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
echo "==> installing the locked dependency set (uv.lock)"
# --frozen: install exactly what the lock says, never re-resolve on a user's machine.
# --inexact: keep pip and uv themselves, which the venv was bootstrapped with.
.venv/bin/uv sync --frozen --inexact --quiet
touch .venv/.installed
echo "==> .venv ready: $(.venv/bin/dojo --version 2>/dev/null || echo 'dojo installed')"
