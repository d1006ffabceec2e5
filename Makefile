# mlops-dojo: every target is thin; the logic lives in the `dojo` CLI and platform/scripts/.
.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

VENV := .venv
PY := $(VENV)/bin/python
DOJO := $(VENV)/bin/dojo
STAMP := $(VENV)/.installed
C ?=
DEMO_ARGS ?=
CLUSTER ?=
PYTEST_ARGS ?= --durations=20

.PHONY: help install os-deps up down status logs doctor clean test test-fast lint bench image image-platform \
	cluster-up cluster-down k8s-sync lab-% labs demo

##@ Help
help: ## List every target with one line each
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
	/^[a-zA-Z0-9_%-]+:.*?##/ { printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2 } \
	/^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Set-up
install: $(STAMP) ## Create .venv from uv.lock (uv from PyPI) and install mlops-dojo

$(STAMP): pyproject.toml uv.lock platform/scripts/bootstrap.sh
	@platform/scripts/bootstrap.sh

os-deps: ## Install prometheus, alertmanager, redis-server, hey, jq, shellcheck from apt if missing (or print how)
	@platform/scripts/os-deps.sh

##@ Local stack
up: install os-deps ## Start the local stack, wait until healthy, print the URLs
	@$(DOJO) up

down: ## Stop every component (state is kept)
	@if [ -x $(DOJO) ]; then $(DOJO) down; else echo "nothing installed, nothing running"; fi

status: install ## Show each component, its URL and its state
	@$(DOJO) status

logs: install ## Tail logs: make logs [C=mlflow]
	@$(DOJO) logs $(C)

doctor: install ## Check every component; say what is wrong and where to look
	@$(DOJO) doctor

clean: down ## Stop the stack and remove all local state (.dojo/)
	@rm -rf .dojo && echo "removed .dojo/ (all local state)"

##@ Containers
image: ## Build the model-server image (DOJO_IMAGE, default dojo-serving:local); exit 3 without Docker
	@platform/scripts/build-image.sh

image-platform: ## Build the platform image Kubernetes runs MLflow, Airflow, the monitor on
	@platform/scripts/build-image.sh platform

##@ Kubernetes
cluster-up: ## Platform on a local cluster: make cluster-up CLUSTER=kind|minikube (exit 3: tool missing)
	@platform/scripts/cluster-up.sh $(CLUSTER)

cluster-down: ## Delete that cluster: make cluster-down CLUSTER=kind|minikube
	@platform/scripts/cluster-down.sh $(CLUSTER)

k8s-sync: install ## Copy the alert rules and Grafana files into k8s/infra/synced (kustomize reads only there)
	@$(PY) -m dojo.runtime.k8s_files

##@ Quality
test: install os-deps ## Run every test (unit, integration, labs); slow ones included
	@$(PY) -m pytest $(PYTEST_ARGS)

test-fast: install ## Run only the tests that start nothing
	@$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: install ## ruff on the code
	@$(VENV)/bin/ruff check platform tests benchmarks

bench: install os-deps ## Run the benchmarks; results in benchmarks/results/*.json
	@$(PY) benchmarks/run.py

##@ Labs
labs: install ## List the labs and which ones this machine verified
	@$(DOJO) lab list

lab-%: install os-deps ## Run lab NN's steps and check them: make lab-01
	@$(DOJO) lab run $*

##@ Demo
demo: install os-deps ## The ~5-minute narrated tour (starts the stack if needed); DEMO_ARGS=--interactive
	@$(DOJO) demo $(DEMO_ARGS)
