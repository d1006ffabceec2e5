#!/usr/bin/env bash
# deploy.sh VERSION|ALIAS: put a registered model version into service on the local model server,
# check it, and roll back to the previous champion when it fails. The shell twin of
# `dojo deploy` (lab 06): MLflow's REST API and the server's admin API, with curl and jq.
#
# Steps: preflight (tools, registry, server) -> remember the champion -> move the alias ->
# ask the server to reload -> health check with retries -> smoke test (known rows must all
# be answered, by VERSION) -> on failure: alias back, reload, check the old one serves.
#
# Exit codes: 0 deployed, 1 failed and rolled back, 2 bad input, 3 a prerequisite is missing
# (curl/jq, the registry or the model server does not answer), 4 the rollback failed too.
# Settings (the stack's DOJO_* variables): DOJO_HOST, DOJO_SERVING_PORT, DOJO_TRACKING_URI
# (or DOJO_MLFLOW_PORT), DOJO_REGISTERED_MODEL, DOJO_SERVING_ADMIN_TOKEN; HEALTH_RETRIES,
# HEALTH_PAUSE_S; LOG_FILE to also append the log there.
set -euo pipefail

SCRIPT_NAME="deploy.sh"
# shellcheck source=SCRIPTDIR/lib/log.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/log.sh"

HOST="${DOJO_HOST:-127.0.0.1}"
SERVER="http://${HOST}:${DOJO_SERVING_PORT:-8000}"
REGISTRY="${DOJO_TRACKING_URI:-http://${HOST}:${DOJO_MLFLOW_PORT:-5000}}"
MODEL="${DOJO_REGISTERED_MODEL:-fraud}"
TOKEN="${DOJO_SERVING_ADMIN_TOKEN:-dojo-local-admin}"
HEALTH_RETRIES="${HEALTH_RETRIES:-30}"
HEALTH_PAUSE_S="${HEALTH_PAUSE_S:-1}"

usage() {
    echo "usage: deploy.sh VERSION   (a version number, or an alias such as champion, of" \
        "the registered model $MODEL)" >&2
    exit 2
}

# --- the registry (MLflow REST API 2.0)
alias_version() {  # alias_version ALIAS: the version it points at, empty when none
    curl --silent --max-time 10 --get "$REGISTRY/api/2.0/mlflow/registered-models/alias" \
        --data-urlencode "name=$MODEL" --data-urlencode "alias=$1" \
        | jq -r '.model_version.version // empty'
}

set_alias() {  # set_alias ALIAS VERSION
    curl --silent --show-error --fail --max-time 10 -X POST \
        -H 'Content-Type: application/json' \
        -d "$(jq -nc --arg n "$MODEL" --arg a "$1" --arg v "$2" \
            '{name: $n, alias: $a, version: $v}')" \
        "$REGISTRY/api/2.0/mlflow/registered-models/alias" >/dev/null
}

version_exists() {
    curl --silent --fail --max-time 10 --get \
        "$REGISTRY/api/2.0/mlflow/model-versions/get" \
        --data-urlencode "name=$MODEL" --data-urlencode "version=$1" >/dev/null
}

# --- the model server
reload_server() {
    curl --silent --show-error --fail --max-time 120 -X POST \
        -H "Authorization: Bearer $TOKEN" "$SERVER/admin/reload" >/dev/null \
        || log_warn "reload not confirmed; the server's alias watcher polls anyway"
}

serves() {  # serves VERSION: ready, and the champion it loaded is VERSION
    local served
    http_get "$SERVER/ready" >/dev/null || return 1
    served="$(http_get "$SERVER/model" | jq -r '.aliases.champion.version // empty')"
    [ "$served" = "$1" ]
}

smoke_test() {  # smoke_test VERSION: known rows, every one answered 200 by VERSION
    local body answer versions
    body="$(jq -nc --arg ts "$(date -u +%Y-%m-%dT%H:%M:%SZ)" '{transactions: [
        {transaction_id: "smoke-sh-1", ts: $ts, user_id: "u0000042", card_id: "c0000042",
         merchant_id: "m000001", merchant_category: "electronics", amount: 1899.0,
         currency: "EUR", country: "DE", device_id: "d0000042", channel: "ecom"},
        {transaction_id: "smoke-sh-2", ts: $ts, user_id: "u0000043", card_id: "c0000043",
         merchant_id: "m000002", merchant_category: "grocery", amount: 12.5,
         currency: "EUR", country: "DE", device_id: "d0000043", channel: "pos"},
        {transaction_id: "smoke-sh-3", ts: $ts, user_id: "u0000044", card_id: "c0000044",
         merchant_id: "m000003", merchant_category: "travel", amount: 640.0,
         currency: "GBP", country: "GB", device_id: "d0000044", channel: "atm"}]}')"
    if ! answer="$(curl --silent --show-error --fail --max-time 30 -X POST \
            -H 'Content-Type: application/json' -d "$body" "$SERVER/predict/batch" 2>&1)"; then
        log_error "smoke test: /predict/batch failed: $answer"
        return 1
    fi
    versions="$(jq -r '[.predictions[].model_version] | unique | join(",")' <<<"$answer")"
    if [ "$versions" != "$1" ]; then
        log_error "smoke test: answered by v$versions, expected v$1"
        return 1
    fi
    log_info "smoke test passed: $(jq -r '[.predictions[] | .decision] | join(" ")' \
        <<<"$answer") (v$1)"
}

rollback() {  # rollback PREVIOUS: alias back, reload, check
    log_warn "rolling back: champion -> v$1"
    set_alias champion "$1" || die 4 "rollback failed: cannot move the alias back to v$1"
    reload_server
    retry "$HEALTH_RETRIES" "$HEALTH_PAUSE_S" serves "$1" \
        || die 4 "rollback failed: the server does not serve v$1 again; act now"
    log_info "rolled back: v$1 serves again"
}

main() {
    [ "$#" -eq 1 ] || usage
    local version="${1#v}" previous
    [[ "$version" =~ ^([0-9]+|[a-z][a-z-]*)$ ]] || usage
    require_tools curl jq
    http_get "$REGISTRY/health" >/dev/null 2>&1 \
        || die 3 "the registry at $REGISTRY does not answer: start the stack (make up)"
    http_get "$SERVER/health" >/dev/null 2>&1 \
        || die 3 "the model server at $SERVER does not answer: start the stack (make up)"
    if ! [[ "$version" =~ ^[0-9]+$ ]]; then
        local alias="$version"
        version="$(alias_version "$alias")"
        [ -n "$version" ] || die 2 "$MODEL has no alias $alias (dojo model list)"
        log_info "alias $alias is v$version"
    fi
    version_exists "$version" || die 2 "$MODEL has no version $version (dojo model list)"
    previous="$(alias_version champion)"
    log_info "deploying $MODEL v$version to $SERVER (champion now: v${previous:-none})"
    set_alias champion "$version"
    log_info "alias champion -> v$version"
    reload_server
    if retry "$HEALTH_RETRIES" "$HEALTH_PAUSE_S" serves "$version" && smoke_test "$version"; then
        log_info "deployed: v$version serves"
        return 0
    fi
    log_error "v$version failed its health check or smoke test"
    if [ -z "$previous" ] || [ "$previous" = "$version" ]; then
        die 4 "no previous champion to roll back to"
    fi
    rollback "$previous"
    exit 1
}

main "$@"
