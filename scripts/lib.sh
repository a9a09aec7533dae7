# Shared helpers for the scripts: paths, logging, "install only if missing".
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
TOOLS="$ROOT/.tools"
PY="$VENV/bin/python"
CENTRIFUGO_VERSION="6.9.1"
# The `go` line of that version's go.mod: the oldest Go that builds it (scripts/preflight.sh
# checks for it before anything is installed; tests/test_preflight.py compares it with the
# module's go.mod when Go's cache holds it). Raise it with CENTRIFUGO_VERSION.
CENTRIFUGO_GO_VERSION="1.26"
# Debian packages of make up (prometheus-alertmanager ships amtool too, the way to list and silence
# alerts: no web UI), and what setup.sh --test adds for the tests (haproxy: the cluster tests put
# Debian's in front of two Centrifugo nodes, centrifugo/haproxy.cfg).
UP_PACKAGES=(redis-server prometheus prometheus-alertmanager)
# make prod's (setup.sh --prod): its TLS proxy and its database. The tests start both too, with
# certutil (libnss3-tools: Chromium's trust store, for the local CA) and wrk (the capacity
# benchmark's load generator), and envsubst (gettext-base: compose's nginx image renders the
# proxy's template with it, tests/test_compose_proxy.py compares).
PROD_PACKAGES=(nginx postgresql)
TEST_PACKAGES=(postgresql chromium haproxy nginx libnss3-tools wrk gettext-base)
# mkcert (filippo.io/mkcert) makes make prod's local CA and certificate (launchers/tls.py); built
# from the Go module proxy into .tools/bin by setup.sh --prod and --test. Its go.mod's Go is 1.18.
MKCERT_VERSION="1.4.4"
MKCERT_GO_VERSION="1.18"
# Jaeger v2, the trace store of make up, make prod and the tests (scripts/run-jaeger.sh,
# deploy/jaeger/config.yaml), built by setup.sh from the Go module proxy into .tools/bin.
# JAEGER_VERSION is the Go module's tag of Jaeger 2.13 (the project tags each release twice,
# v1.76.0 / v2.13.0, and the proxy serves only the v1 line: the newest there); JAEGER_RELEASE
# the same release's v2 number, stamped into the binary (`jaeger version`) and compose's image
# tag. Raise both together, and JAEGER_GO_VERSION with them: the `go` line of its go.mod.
JAEGER_VERSION="1.76.0"
JAEGER_RELEASE="2.13.0"
JAEGER_GO_VERSION="1.24.6"
log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

# A command as root: directly when root, else through sudo.
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
# Whether as_root works without asking anything: root, or sudo that needs no password right now.
can_root() { [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; }
# version_ge A B: whether dotted version A is B or newer (1.26.8 >= 1.26; 3.9 < 3.11).
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]; }

# Install Debian packages that are missing (apt-get update once, only when something is). What it
# installed is kept in APT_INSTALLED (stop_host_service says whether a service came with it).
APT_INSTALLED=()
apt_ensure() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  APT_INSTALLED+=("${missing[@]}")
}

# Whether this host runs (or starts at boot) a systemd service; false without systemd (containers).
host_service_running() {
  [ -d /run/systemd/system ] && command -v systemctl >/dev/null || return 1
  systemctl is-enabled --quiet "$1" 2>/dev/null || systemctl is-active --quiet "$1" 2>/dev/null
}

# The host's services in the way of make up's own processes: Debian's prometheus and
# prometheus-alertmanager packages start services on 9090 and 9093, the default ports of make up's
# (scripts/run-*.sh). Each: unit, the variable of make up's port, the service's port, what it is.
HOST_SERVICES_IN_THE_WAY=(
  "prometheus PROMETHEUS_PORT 9090 Prometheus"
  "prometheus-alertmanager ALERTMANAGER_PORT 9093 Alertmanager"
)

# stop_host_service UNIT WHY IF_KEPT: stop and disable a host's service that would hold a port the
# project runs its own process on, saying first what, why, how to keep it and what keeping it
# costs. KEEP_HOST_SERVICES=1 leaves it running (the port checks of make up and make prod then
# name the port it holds). Nothing when the service is not there or not running.
stop_host_service() {
  local unit="$1" why="$2" if_kept="$3" origin="running before setup: this host's own"
  host_service_running "$unit" || return 0
  [[ " ${APT_INSTALLED[*]} " == *" $unit "* ]] && origin="Debian's package starts it, installed just now"
  if [ "${KEEP_HOST_SERVICES:-}" = 1 ]; then
    log "KEEP_HOST_SERVICES=1: leaving the host's $unit service running ($if_kept)"
    return 0
  fi
  log "stopping and disabling the host's $unit service ($origin): $why"
  log "  to keep it instead, run again with KEEP_HOST_SERVICES=1 ($if_kept); to bring it back later: systemctl enable --now $unit"
  as_root systemctl disable --now "$unit" >/dev/null 2>&1 \
    || log "could not stop $unit: run systemctl disable --now $unit as root, or KEEP_HOST_SERVICES=1"
}

# What setup.sh builds or installs only when missing, each asked the same way by setup.sh and by
# scripts/preflight.sh (which checks, before setup installs anything, what building it needs).
mkcert_built() { "$TOOLS/bin/mkcert" -version 2>/dev/null | grep -q "v$MKCERT_VERSION"; }
centrifugo_built() { "$TOOLS/bin/centrifugo" version 2>/dev/null | grep -q "$CENTRIFUGO_VERSION"; }
jaeger_built() { "$TOOLS/bin/jaeger" version 2>/dev/null | grep -q "\"gitVersion\":\"v$JAEGER_RELEASE\""; }
# Whether make up and make prod trace: not when OTEL_SDK_DISABLED=true (environment, then .env),
# which also skips their Jaeger (its process, ports and, outside the tests, its build).
tracing_on() { [ "$(env_get OTEL_SDK_DISABLED | tr '[:upper:]' '[:lower:]')" != true ]; }
# make up's and make prod's Jaeger ports (deploy/jaeger/config.yaml's defaults).
jaeger_otlp_port() { env_get JAEGER_OTLP_PORT 4318; }
jaeger_query_port() { env_get JAEGER_QUERY_PORT 16686; }
# Point the platform's processes at that Jaeger, unless the environment (or .env, exported
# before) already names a trace endpoint or a query API of its own: exports
# OTEL_EXPORTER_OTLP_ENDPOINT and JAEGER_QUERY_URL. Nothing when tracing is off.
export_tracing_env() {
  tracing_on || return 0
  if [ -z "${OTEL_EXPORTER_OTLP_ENDPOINT:-}" ] && [ -z "${OTEL_EXPORTER_OTLP_TRACES_ENDPOINT:-}" ]; then
    export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$(jaeger_otlp_port)"
  fi
  [ -n "${JAEGER_QUERY_URL:-}" ] || export JAEGER_QUERY_URL="http://127.0.0.1:$(jaeger_query_port)"
}
# The names of a Procfile's processes for honcho, Jaeger left out when tracing is off.
procfile_processes() {
  local names; names="$(sed -nE 's/^([A-Za-z0-9_-]+):.*/\1/p' "$1")"
  tracing_on || names="$(grep -vx jaeger <<<"$names")"
  printf '%s\n' "$names"
}
# compose-config (tests only) is rebuilt when its source changes: the stamp of this source.
compose_config_stamp() {
  printf '%s' "$TOOLS/bin/.compose-config-$(cat "$ROOT"/tests/compose_config/go.* "$ROOT"/tests/compose_config/*.go | sha256sum | cut -c1-16)"
}
# node_modules is installed again when package-lock.json changes.
npm_stamp() { printf '%s' "$ROOT/node_modules/.installed-$(sha256sum "$ROOT/package-lock.json" | cut -c1-16)"; }
npm_installed() {
  [ -f "$(npm_stamp)" ] && [ -f "$ROOT/node_modules/centrifuge/dist/centrifuge.js" ] \
    && [ -f "$ROOT/node_modules/uplot/dist/uPlot.iife.min.js" ]
}

# The folder of local state (VAR_DIR, relative to the project unless absolute), as in the settings.
var_dir() {
  local dir; dir="$(env_get VAR_DIR)"; dir="${dir:-var}"
  case "$dir" in /*) printf '%s' "$dir" ;; *) printf '%s' "$ROOT/$dir" ;; esac
}

# Read one variable from the environment, else from .env, else a default. Of duplicate lines in
# .env the first wins, as in export_env_defaults and Django's settings.
env_get() {
  local name="$1" default="${2:-}"
  if [ -n "${!name:-}" ]; then printf '%s' "${!name}"; return; fi
  if [ -f "$ROOT/.env" ]; then
    local line; line=$(grep -m1 -E "^${name}=" "$ROOT/.env" || true)
    if [ -n "$line" ]; then printf '%s' "${line#*=}"; return; fi
  fi
  printf '%s' "$default"
}

# Export every variable of .env that the environment does not already set: the environment wins,
# as in Django's settings (honcho's own -e would let .env override it).
export_env_defaults() {
  [ -f "$ROOT/.env" ] || return 0
  local line name
  while IFS= read -r line || [ -n "$line" ]; do
    [[ "$line" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || continue
    name="${line%%=*}"
    [ -n "${!name+x}" ] || export "$name=${line#*=}"
  done < "$ROOT/.env"
}

# profile_env prod|up: the environment of make prod's or make up's processes, for backup.sh and
# restore.sh. DATABASE_URL and REPORTS_DIR set by the caller win (another database, the tests).
# The local cluster make prod uses is started when it is not (a backup needs it up).
profile_env() {
  local given_db="${DATABASE_URL:-}" given_reports="${REPORTS_DIR:-}"
  case "$1" in
    prod)
      source "$ROOT/scripts/prod-env.sh"
      if [ -n "$given_db" ]; then export DATABASE_URL="$given_db"; PROD_LOCAL_DATABASE=false; fi
      if [ -n "$given_reports" ]; then export REPORTS_DIR="$given_reports"; fi
      if [ "$PROD_LOCAL_DATABASE" = true ]; then "$ROOT/scripts/postgres.sh" --cluster; fi
      ;;
    up) export_env_defaults ;;
    *) log "unknown profile $1 (prod or up)"; exit 2 ;;
  esac
}
