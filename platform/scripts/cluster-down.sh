#!/usr/bin/env bash
# `make cluster-down CLUSTER=kind|minikube`: delete the cluster `dojo` that cluster-up made,
# with everything in it (volumes included). Images built on the host are kept.
set -euo pipefail

CLUSTER="${1:-${CLUSTER:-}}"
NAME=dojo
case "$CLUSTER" in
    kind)
        command -v kind >/dev/null 2>&1 \
            || { echo "cluster-down: kind is not installed, so there is no kind cluster to delete" >&2; exit 3; }
        if kind get clusters 2>/dev/null | grep -qx "$NAME"; then
            kind delete cluster --name "$NAME"
            echo "deleted kind cluster '$NAME'; recreate it with: make cluster-up CLUSTER=kind"
        else
            echo "no kind cluster '$NAME': nothing to delete"
        fi
        ;;
    minikube)
        command -v minikube >/dev/null 2>&1 \
            || { echo "cluster-down: minikube is not installed, so there is no profile to delete" >&2; exit 3; }
        if minikube profile list -o json 2>/dev/null | grep -q "\"Name\":\"$NAME\""; then
            minikube delete -p "$NAME"
            echo "deleted minikube profile '$NAME'; recreate it with: make cluster-up CLUSTER=minikube"
        else
            echo "no minikube profile '$NAME': nothing to delete"
        fi
        ;;
    *) echo "usage: make cluster-down CLUSTER=kind|minikube (got '${CLUSTER}')" >&2; exit 2 ;;
esac
