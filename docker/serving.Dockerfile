# The model server's image: `docker build -f docker/serving.Dockerfile .` (or `make image`).
# Multi-stage: the build stage creates a virtualenv with only the serving packages
# (docker/serving-requirements.txt, pinned to uv.lock: no Airflow, no MLflow server, no
# offline store); the runtime stage copies that venv and the code, nothing else. pip writes
# the bytecode at install time, so a read-only root costs no compile at start.
#
# BASE_IMAGE: the official slim Python image by default. Where no registry answers,
# `make image` builds an equivalent from Debian packages and passes it here.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY docker/serving-requirements.txt /src/docker/
# A TLS-intercepting proxy's CA, when the builder needs one, comes in as a BuildKit secret
# (`--secret id=ca,src=...`): mounted for this step only, never stored in a layer.
RUN --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    /opt/venv/bin/pip install --no-deps -r docker/serving-requirements.txt
COPY pyproject.toml README.md /src/
COPY platform/dojo /src/platform/dojo
RUN --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    /opt/venv/bin/pip install --no-deps /src \
    # the packages' own test suites (120 MB) and C headers and stubs the server never reads
    && find /opt/venv -type d \( -name tests -o -name include \) -prune -exec rm -rf {} + \
    && find /opt/venv -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pyi' \) -delete \
    # Arrow Flight (33 MB) serves Feast's remote offline store, never an online read
    && rm -f /opt/venv/lib/python3.*/site-packages/pyarrow/*flight* \
    && /opt/venv/bin/pip uninstall --yes pip setuptools

FROM ${BASE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="mlops-dojo model server" \
      org.opencontainers.image.description="FastAPI fraud scoring with the MLflow champion" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed, unprivileged uid/gid: volume permissions and Kubernetes' runAsNonRoot can name it.
RUN groupadd --system --gid 10001 dojo \
    && useradd --system --uid 10001 --gid dojo --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin dojo
COPY --from=build /opt/venv /opt/venv
COPY feature_repo /app/feature_repo
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    DOJO_HOST=0.0.0.0 \
    DOJO_SERVING_PORT=8000 \
    DOJO_HOME=/var/lib/dojo \
    DOJO_FEATURE_REPO=/app/feature_repo \
    MLFLOW_DISABLE_TELEMETRY=true \
    FEAST_USAGE=False \
    DO_NOT_TRACK=1
# The only writable paths the server needs: DOJO_HOME (Feast's registry and SQLite store,
# usually a volume) and /tmp (model downloads; a tmpfs with --read-only).
RUN mkdir -p /var/lib/dojo/feast && chown -R dojo:dojo /var/lib/dojo
USER 10001:10001
WORKDIR /tmp
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('DOJO_SERVING_PORT', '8000'), timeout=2)"]
ENTRYPOINT ["python", "-m", "dojo.serving"]
