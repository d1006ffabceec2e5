#!/usr/bin/env bash
# `make image`: build the model-server image from docker/serving.Dockerfile.
# `build-image.sh platform`: the platform image (docker/platform.Dockerfile) that Kubernetes
# runs MLflow, Airflow and the drift monitor on (default tag dojo-platform:local).
# Env: DOJO_IMAGE (tag, default dojo-serving:local), DOJO_BASE_IMAGE (default: the official
# python slim image; when it cannot be pulled, a Debian-built equivalent is made and used).
# Exit 3 (one line on stderr) when no Docker engine answers.
set -euo pipefail
cd "$(dirname "$0")/../.."

DOCKER="$(platform/scripts/docker-engine.sh)"
WHICH="${1:-serving}"
case "$WHICH" in
    serving|platform) ;;
    *) echo "usage: build-image.sh [serving|platform] (got '$WHICH')" >&2; exit 2 ;;
esac
DOCKERFILE="docker/$WHICH.Dockerfile"
IMAGE="${DOJO_IMAGE:-dojo-$WHICH:local}"
BASE="${DOJO_BASE_IMAGE:-python:3.11-slim-bookworm}"
DEBIAN_BASE="dojo-python-base:3.11-bookworm"

if ! "$DOCKER" image inspect "$BASE" >/dev/null 2>&1 \
        && ! timeout 120 "$DOCKER" pull --quiet "$BASE" >/dev/null 2>&1; then
    echo "==> cannot pull $BASE (no image registry answers): using $DEBIAN_BASE, built from Debian packages"
    platform/scripts/debian-base-image.sh "$DOCKER" "$DEBIAN_BASE"
    BASE="$DEBIAN_BASE"
fi

secret=()
# Behind a TLS-intercepting proxy, pip in the build needs the host's CA bundle; it is passed
# as a BuildKit secret (mounted for the install steps only, in no layer of the image).
CA_BUNDLE="${DOJO_BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
if [ -s "$CA_BUNDLE" ]; then
    secret=(--secret "id=ca,src=$CA_BUNDLE")
fi
echo "==> building $IMAGE on $BASE"
DOCKER_BUILDKIT=1 "$DOCKER" build --progress=plain -f "$DOCKERFILE" \
    --build-arg "BASE_IMAGE=$BASE" "${secret[@]}" -t "$IMAGE" . >.image-build.log 2>&1 \
    || { tail -30 .image-build.log >&2; echo "image build failed; full log: .image-build.log" >&2; exit 1; }
rm -f .image-build.log
size="$("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
if [ "$WHICH" = serving ]; then
    echo "==> built $IMAGE ($size); run it: docker run --rm -p 8000:8000 $IMAGE"
else
    echo "==> built $IMAGE ($size); Kubernetes runs it (k8s/infra); try: docker run --rm $IMAGE --help"
fi
