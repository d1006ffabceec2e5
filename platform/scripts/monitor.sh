#!/usr/bin/env bash
# monitor.sh [--count N] [--interval S]: watch the model server and the registry, one log line
# per check, N rounds S seconds apart (default: one round). The shell twin of `dojo status`
# for the serving path (lab 06).
#
# Each round checks: the model server is alive (/health) and ready (/ready, with its reasons),
# which version it serves, its request and error counts from /metrics (5xx since the last
# round), the registry answers (/health), and the machine's load and memory.
#
# Exit codes: 0 every check passed in every round, 1 a check failed (the log line says which),
# 2 bad arguments, 3 curl or jq missing.
# Settings: DOJO_HOST, DOJO_SERVING_PORT, DOJO_TRACKING_URI (or DOJO_MLFLOW_PORT); LOG_FILE.
set -euo pipefail

SCRIPT_NAME="monitor.sh"
# shellcheck source=SCRIPTDIR/lib/log.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/log.sh"

HOST="${DOJO_HOST:-127.0.0.1}"
SERVER="http://${HOST}:${DOJO_SERVING_PORT:-8000}"
REGISTRY="${DOJO_TRACKING_URI:-http://${HOST}:${DOJO_MLFLOW_PORT:-5000}}"
HTTP_TIMEOUT_S="${HTTP_TIMEOUT_S:-5}"

usage() {
    echo "usage: monitor.sh [--count N] [--interval SECONDS]" >&2
    exit 2
}

# sum_metric NAME FILTER: the sum of a metric's samples whose labels match FILTER (a regex).
sum_metric() {
    awk -v name="$1" -v filter="$2" '
        index($0, name) == 1 && $0 ~ filter { total += $NF }
        END { printf "%d\n", total }'
}

check_server() {
    local ready model metrics requests errors
    if ! http_get "$SERVER/health" >/dev/null 2>&1; then
        log_error "model server $SERVER: not answering /health"
        return 1
    fi
    if ! ready="$(curl --silent --max-time "$HTTP_TIMEOUT_S" "$SERVER/ready")" \
            || [ "$(jq -r '.ready' <<<"$ready")" != "true" ]; then
        log_error "model server $SERVER: alive but not ready: $(jq -r \
            '.reasons // [] | join("; ")' <<<"${ready:-{\}}" 2>/dev/null || echo unknown)"
        return 1
    fi
    model="$(http_get "$SERVER/model" | jq -r \
        '"champion v\(.aliases.champion.version // "?"), routing \(.routing.mode)"')"
    metrics="$(http_get "$SERVER/metrics")"
    requests="$(sum_metric dojo_serving_request_duration_seconds_count 'route="/predict' \
        <<<"$metrics")"
    errors="$(sum_metric dojo_serving_request_duration_seconds_count \
        'route="/predict.*status="5' <<<"$metrics")"
    local new_errors=$((errors - ${LAST_ERRORS:-$errors}))
    LAST_ERRORS="$errors"
    if [ "$new_errors" -gt 0 ]; then
        log_error "model server $SERVER: $new_errors new 5xx answers ($model)"
        return 1
    fi
    log_info "model server $SERVER: ready, $model, $requests predict requests, $errors of them 5xx"
}

check_registry() {
    if http_get "$REGISTRY/health" >/dev/null 2>&1; then
        log_info "registry $REGISTRY: answers"
    else
        log_error "registry $REGISTRY: not answering /health"
        return 1
    fi
}

check_machine() {
    local load memory
    load="$(cut -d' ' -f1 /proc/loadavg)"
    memory="$(awk '/^MemTotal/ {t=$2} /^MemAvailable/ {a=$2}
        END { printf "%.0f", (t - a) * 100 / t }' /proc/meminfo)"
    log_info "machine: load ${load} on $(nproc) cores, memory ${memory}% used"
}

main() {
    local count=1 interval=30 round failed=0
    while [ "$#" -gt 0 ]; do
        case "$1" in
            --count)
                if [ "$#" -lt 2 ] || ! [[ "$2" =~ ^[1-9][0-9]*$ ]]; then usage; fi
                count="$2"
                shift 2
                ;;
            --interval)
                if [ "$#" -lt 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then usage; fi
                interval="$2"
                shift 2
                ;;
            *) usage ;;
        esac
    done
    require_tools curl jq
    for ((round = 1; round <= count; round++)); do
        # `|| failed=1`: a failed check is counted, not fatal; the round goes on (set -e
        # does not apply to a command on the left of ||).
        check_server || failed=1
        check_registry || failed=1
        check_machine
        if [ "$round" -lt "$count" ]; then
            sleep "$interval"
        fi
    done
    if [ "$failed" -ne 0 ]; then
        log_error "unhealthy: at least one check failed (see the lines above)"
        return 1
    fi
    log_info "healthy: every check passed in $count round(s)"
}

main "$@"
