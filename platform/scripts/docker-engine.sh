#!/usr/bin/env bash
# Make sure a Docker engine answers. As root, install Debian's docker.io and start dockerd when
# they are missing (CI and these machines); as a user, say what to install and exit 3.
# Usage: docker-engine.sh [--install]   (--install: allowed to apt-get install and start dockerd)
set -euo pipefail

# Debian's client: BuildKit builds work with DOCKER_BUILDKIT=1 without the buildx plugin,
# which a client from another source may lack.
DOCKER="${DOJO_DOCKER:-$(command -v /usr/bin/docker || command -v docker || true)}"
INSTALL="${1:-}"

answers() { [ -n "$DOCKER" ] && "$DOCKER" info >/dev/null 2>&1; }

if answers; then
    echo "$DOCKER"
    exit 0
fi
if [ "$INSTALL" != "--install" ] || [ "$(id -u)" != 0 ]; then
    echo "Docker is not available: install Docker Engine (https://docs.docker.com/engine/install/, or 'apt-get install docker.io') and start it" >&2
    exit 3
fi
if ! command -v dockerd >/dev/null && [ ! -x /usr/sbin/dockerd ]; then
    echo "==> installing Debian's docker.io" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io >&2
fi
DOCKER=/usr/bin/docker
if ! answers; then
    echo "==> starting dockerd (log: /var/log/dojo-dockerd.log)" >&2
    nohup "$(command -v dockerd || echo /usr/sbin/dockerd)" >/var/log/dojo-dockerd.log 2>&1 &
    for _ in $(seq 1 120); do
        answers && break
        sleep 0.5  # polling the engine's socket until the deadline (60 s)
    done
fi
answers || { echo "dockerd did not answer within 60 s: see /var/log/dojo-dockerd.log" >&2; exit 1; }
echo "$DOCKER"
