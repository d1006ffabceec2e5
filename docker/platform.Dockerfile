# The platform image for Kubernetes: `docker build -f docker/platform.Dockerfile .` (or
# `platform/scripts/build-image.sh platform`). Everything except the model server runs on it:
# MLflow's server, Airflow (API server, scheduler, DAG processor, and every task pod of the
# KubernetesExecutor), and the drift monitor (`dojo monitor`). It holds the whole locked
# environment (uv.lock, no dev tools) plus the `kubernetes` extra, the DAGs and the feature
# repo; the model server keeps its own small image (docker/serving.Dockerfile).
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/venv UV_PYTHON_DOWNLOADS=never
WORKDIR /src
COPY pyproject.toml uv.lock README.md /src/
# The same uv as the lock was written with (pyproject's dev group pins it), in a venv of its
# own that the runtime stage leaves behind. The locked packages first (a layer that changes
# only with uv.lock), then the project.
RUN --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca SSL_CERT_FILE=/run/secrets/ca; fi; \
    python -m venv /opt/uv && /opt/uv/bin/pip install uv==0.13.8 \
    && /opt/uv/bin/uv sync --frozen --no-dev --extra kubernetes --no-install-project
COPY platform/dojo /src/platform/dojo
RUN --mount=type=secret,id=ca,required=false \
    if [ -s /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca; fi; \
    /opt/uv/bin/uv sync --frozen --no-dev --extra kubernetes --no-editable

FROM ${BASE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="mlops-dojo platform" \
      org.opencontainers.image.description="MLflow, Airflow tasks and the drift monitor of mlops-dojo" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 dojo \
    && useradd --system --uid 10001 --gid dojo --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin dojo
COPY --from=build /opt/venv /opt/venv
COPY dags /opt/dojo/dags
COPY feature_repo /opt/dojo/feature_repo
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    AIRFLOW_HOME=/tmp/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/dojo/dags \
    DOJO_HOST=0.0.0.0 \
    DOJO_HOME=/var/lib/dojo \
    DOJO_FEATURE_REPO=/opt/dojo/feature_repo \
    MLFLOW_DISABLE_TELEMETRY=true \
    FEAST_USAGE=False \
    DO_NOT_TRACK=1
RUN mkdir -p /var/lib/dojo && chown -R dojo:dojo /var/lib/dojo
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["dojo"]
