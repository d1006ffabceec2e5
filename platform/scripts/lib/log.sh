# shellcheck shell=bash
# Logging and HTTP helpers shared by deploy.sh and monitor.sh (sourced, not run).
# One line per event: "2026-01-02T03:04:05Z LEVEL script: message", on stderr (so a script's
# stdout stays for data), and appended to $LOG_FILE when it is set.

log_line() {
    local level="$1"
    shift
    local line
    line="$(date -u +%Y-%m-%dT%H:%M:%SZ) ${level} ${SCRIPT_NAME:-script}: $*"
    echo "$line" >&2
    if [ -n "${LOG_FILE:-}" ]; then
        echo "$line" >>"$LOG_FILE"
    fi
}
log_info() { log_line INFO "$@"; }
log_warn() { log_line WARN "$@"; }
log_error() { log_line ERROR "$@"; }

# die CODE MESSAGE: log the message as an error and exit with CODE.
die() {
    local code="$1"
    shift
    log_error "$@"
    exit "$code"
}

# require_tools TOOL...: exit 3 naming the first missing one.
require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 \
            || die 3 "needs $tool: install it (Debian: apt-get install $tool)"
    done
}

# http_get URL: the body on stdout; non-zero when the server does not answer 2xx.
http_get() {
    curl --silent --show-error --fail --max-time "${HTTP_TIMEOUT_S:-10}" "$1"
}

# retry ATTEMPTS PAUSE_S COMMAND...: run COMMAND until it succeeds, ATTEMPTS times at most.
retry() {
    local attempts="$1" pause="$2" n=1
    shift 2
    until "$@"; do
        if [ "$n" -ge "$attempts" ]; then
            return 1
        fi
        log_info "attempt $n/$attempts failed: $*; retrying in ${pause}s"
        n=$((n + 1))
        sleep "$pause"
    done
}
