#!/usr/bin/env bash
# `make cluster-up CLUSTER=kind|minikube`: the whole platform on a local Kubernetes cluster.
#   1. checks what it needs (Docker engine, kind or minikube, kubectl); names what is missing
#      and how to install it, exit 3;
#   2. creates the cluster `dojo` (kind: k8s/overlays/kind/kind-cluster.yaml; minikube:
#      profile `dojo` with Calico, which enforces NetworkPolicies) unless it exists;
#   3. makes sure metrics-server answers (the HPA's CPU metric);
#   4. builds the two platform images and loads them into the node;
#   5. applies k8s/overlays/$CLUSTER and waits for every rollout and the bootstrap Job;
#   6. smoke-tests /predict through a port-forward, then prints how to reach each UI.
# Env: DOJO_CLUSTER_TIMEOUT (seconds per wait, default 900).
set -euo pipefail
cd "$(dirname "$0")/../.."

CLUSTER="${1:-${CLUSTER:-}}"
NAME=dojo
NAMESPACE=dojo
TIMEOUT="${DOJO_CLUSTER_TIMEOUT:-900}"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)"
IMAGES=("dojo-serving:$VERSION" "dojo-platform:$VERSION")
# metrics-server for kind (minikube has it as an addon); pinned, as every image here.
METRICS_SERVER_URL="https://github.com/kubernetes-sigs/metrics-server/releases/download/v0.7.2/components.yaml"

case "$CLUSTER" in
    kind | minikube) ;;
    *) echo "usage: make cluster-up CLUSTER=kind|minikube (got '${CLUSTER}')" >&2; exit 2 ;;
esac

# --- 1. prerequisites: every missing one is named, then exit 3 -----------------------------
missing=()
if ! command -v docker >/dev/null 2>&1; then
    missing+=("docker: install Docker Engine (https://docs.docker.com/engine/install/)")
elif ! docker info >/dev/null 2>&1; then
    missing+=("docker: the client is here but no engine answers; start it (sudo systemctl start docker)")
fi
command -v kubectl >/dev/null 2>&1 \
    || missing+=("kubectl: install it (https://kubernetes.io/docs/tasks/tools/)")
if [ "$CLUSTER" = kind ]; then
    command -v kind >/dev/null 2>&1 \
        || missing+=("kind: install it (https://kind.sigs.k8s.io/docs/user/quick-start/#installation, or 'go install sigs.k8s.io/kind@v0.27.0')")
else
    command -v minikube >/dev/null 2>&1 \
        || missing+=("minikube: install it (https://minikube.sigs.k8s.io/docs/start/)")
fi
if [ "${#missing[@]}" -gt 0 ]; then
    printf 'cluster-up: missing %s\n' "${missing[@]}" >&2
    exit 3
fi

# --- 2. the cluster -------------------------------------------------------------------------
if [ "$CLUSTER" = kind ]; then
    CONTEXT="kind-$NAME"
    if kind get clusters 2>/dev/null | grep -qx "$NAME"; then
        echo "==> kind cluster '$NAME' exists"
    else
        echo "==> creating kind cluster '$NAME' (one node, Kubernetes v1.32)"
        kind create cluster --config k8s/overlays/kind/kind-cluster.yaml --wait 180s
    fi
else
    CONTEXT="$NAME"
    if minikube status -p "$NAME" >/dev/null 2>&1; then
        echo "==> minikube profile '$NAME' is running"
    else
        echo "==> starting minikube profile '$NAME' (6 CPUs, 10 GiB, Calico for NetworkPolicies)"
        minikube start -p "$NAME" --cpus 6 --memory 10g --cni calico --kubernetes-version v1.32.2
    fi
fi
kc() { kubectl --context "$CONTEXT" "$@"; }

# --- 3. metrics-server ------------------------------------------------------------------------
if ! kc get apiservice v1beta1.metrics.k8s.io >/dev/null 2>&1; then
    if [ "$CLUSTER" = minikube ]; then
        echo "==> enabling minikube's metrics-server addon"
        minikube -p "$NAME" addons enable metrics-server
    else
        echo "==> installing metrics-server v0.7.2 (kind's kubelets use self-signed certificates)"
        kc apply -f "$METRICS_SERVER_URL"
        kc -n kube-system patch deployment metrics-server --type json -p \
            '[{"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "--kubelet-insecure-tls"}]'
    fi
fi
kc -n kube-system rollout status deployment/metrics-server --timeout "${TIMEOUT}s" \
    || { echo "cluster-up: metrics-server did not become ready; the HPA has no CPU metric without it (kubectl -n kube-system logs deployment/metrics-server)" >&2; exit 1; }

# --- 4. images --------------------------------------------------------------------------------
DOJO_IMAGE="dojo-serving:$VERSION" platform/scripts/build-image.sh serving
DOJO_IMAGE="dojo-platform:$VERSION" platform/scripts/build-image.sh platform
echo "==> loading ${IMAGES[*]} into the node"
if [ "$CLUSTER" = kind ]; then
    kind load docker-image --name "$NAME" "${IMAGES[@]}"
else
    for image in "${IMAGES[@]}"; do minikube -p "$NAME" image load "$image"; done
fi

# --- 5. apply and wait ----------------------------------------------------------------------
echo "==> applying k8s/overlays/$CLUSTER"
kc apply -k "k8s/overlays/$CLUSTER"
wait_for() {  # a rollout or a Job, with the namespace's recent events when it does not finish
    echo "==> waiting for $1"
    if [[ "$1" == job/* ]]; then
        kc -n "$NAMESPACE" wait --for=condition=complete "$1" --timeout "${TIMEOUT}s" && return 0
    else
        kc -n "$NAMESPACE" rollout status "$1" --timeout "${TIMEOUT}s" && return 0
    fi
    echo "cluster-up: $1 is not ready after ${TIMEOUT}s. Recent events:" >&2
    kc -n "$NAMESPACE" get events --sort-by=.lastTimestamp | tail -15 >&2
    echo "look next: kubectl -n $NAMESPACE describe $1; kubectl -n $NAMESPACE logs $1" >&2
    exit 1
}
for target in statefulset/postgres statefulset/kafka deployment/redis job/kafka-topics \
        deployment/mlflow job/airflow-db-migrate deployment/airflow-api-server \
        deployment/airflow-scheduler deployment/airflow-dag-processor deployment/prometheus \
        deployment/prometheus-adapter deployment/grafana deployment/stream-processor \
        job/bootstrap-champion deployment/model-server; do
    wait_for "$target"
done

# --- 6. smoke test through a port-forward ---------------------------------------------------
PORT="${DOJO_CLUSTER_SMOKE_PORT:-18000}"
kc -n "$NAMESPACE" port-forward service/model-server "$PORT:8000" >/dev/null 2>&1 &
forward=$!
trap 'kill "$forward" 2>/dev/null || true' EXIT
for _ in $(seq 1 30); do
    curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
    sleep 1  # the port-forward needs a moment to listen; bounded by the loop
done
now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
answer="$(curl -fsS "http://127.0.0.1:$PORT/predict" -H 'Content-Type: application/json' \
    -d '{"transaction_id": "tx_cluster_smoke", "ts": "'"$now"'", "user_id": "u0000042", "card_id": "c0000042", "merchant_id": "m000001", "merchant_category": "electronics", "amount": 1899.0, "currency": "EUR", "country": "DE", "device_id": "d0000042", "channel": "ecom"}')" \
    || { echo "cluster-up: /predict failed through the port-forward; look next: kubectl -n $NAMESPACE logs deployment/model-server" >&2; exit 1; }
echo "==> smoke test: POST /predict answered $answer"

cat <<EOF

The platform runs on $CLUSTER (context $CONTEXT, namespace $NAMESPACE).
  kubectl -n $NAMESPACE get pods,hpa                     # what runs, and the autoscaler
  kubectl -n $NAMESPACE port-forward svc/model-server 8000:8000   # model server: http://127.0.0.1:8000/docs
  kubectl -n $NAMESPACE port-forward svc/mlflow 5000:5000         # MLflow:       http://127.0.0.1:5000
  kubectl -n $NAMESPACE port-forward svc/airflow 8080:8080        # Airflow:      http://127.0.0.1:8080 (admin / admin)
  kubectl -n $NAMESPACE port-forward svc/prometheus 9090:9090     # Prometheus:   http://127.0.0.1:9090
  kubectl -n $NAMESPACE port-forward svc/grafana 3000:3000        # Grafana:      http://127.0.0.1:3000
$(if [ "$CLUSTER" = kind ]; then echo "  the model server's node port is mapped to the host: http://127.0.0.1:8800/docs"; else echo "  the model server's node port: minikube -p $NAME service model-server -n $NAMESPACE --url"; fi)
Next: labs/04-kubernetes-basics/README.md (make lab-04). Remove it all: make cluster-down CLUSTER=$CLUSTER
EOF
