#!/usr/bin/env bash
# Install what the platform needs, once: Debian packages (Redis, Prometheus, Alertmanager), the
# virtualenv, Centrifugo, centrifuge-js and uPlot from npm, and a .env with random local secrets.
# Running it again is fast and changes nothing.
# Usage: scripts/setup.sh [--test]   (--test adds PostgreSQL, Chromium and HAProxy for the test suite)
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# prometheus-alertmanager ships amtool too (the way to list and silence alerts: no web UI).
pkgs=(redis-server prometheus prometheus-alertmanager)
# haproxy: the cluster tests put Debian's in front of two Centrifugo nodes (centrifugo/haproxy.cfg).
[ "${1:-}" = "--test" ] && pkgs+=(postgresql chromium haproxy)
apt_ensure "${pkgs[@]}"

# On a host running systemd, installing Debian's prometheus and prometheus-alertmanager also starts
# them as services on 9090 and 9093, the ports make up's own (scripts/run-*.sh) listen on: stop
# them and keep them from starting at boot. make up runs its own, with its own configuration.
# Likewise haproxy's service: the tests start their own with centrifugo/haproxy.cfg.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  for unit in prometheus prometheus-alertmanager haproxy; do
    if systemctl is-enabled --quiet "$unit" 2>/dev/null || systemctl is-active --quiet "$unit"; then
      log "stopping and disabling the packaged $unit service (make up and the tests run their own)"
      $sudo systemctl disable --now "$unit" >/dev/null 2>&1 || true
    fi
  done
fi

# Python: a project-local virtualenv, reinstalled only when pyproject.toml or constraints.txt
# changes; constraints.txt pins every transitive package too.
stamp="$VENV/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  log "installing Python dependencies into .venv"
  [ -x "$PY" ] || python3 -m venv "$VENV"
  "$PY" -m pip install -q 'pip==26.3'
  "$PY" -m pip install -q -c constraints.txt -e '.[dev]'
  rm -f "$VENV"/.installed-*; touch "$stamp"
fi

# Centrifugo, built from the Go module proxy at a pinned version into .tools/bin (git-ignored).
if ! "$TOOLS/bin/centrifugo" version 2>/dev/null | grep -q "$CENTRIFUGO_VERSION"; then
  log "building Centrifugo v$CENTRIFUGO_VERSION (first time only, a few minutes)"
  build="$TOOLS/centrifugo-build"; mkdir -p "$build" "$TOOLS/bin"
  printf 'module localbuild\n\ngo 1.24\n\nrequire github.com/centrifugal/centrifugo/v6 v%s\n' \
    "$CENTRIFUGO_VERSION" > "$build/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/centrifugal/centrifugo/v6"\n' \
    > "$build/tools.go"
  (cd "$build" && GOFLAGS=-mod=mod go build \
    -ldflags "-X github.com/centrifugal/centrifugo/v6/internal/build.Version=$CENTRIFUGO_VERSION" \
    -o "$TOOLS/bin/centrifugo" github.com/centrifugal/centrifugo/v6)
fi

# compose-config: docker-compose.yml loaded as `docker compose config` does, by the Compose
# Specification's reference library (compose-go, pinned in tests/compose_config/go.mod), for
# tests/test_compose_*.py (no Docker engine here). Rebuilt when its source changes; tests only.
compose_stamp="$TOOLS/bin/.compose-config-$(cat tests/compose_config/go.* tests/compose_config/*.go | sha256sum | cut -c1-16)"
if [ "${1:-}" = "--test" ] && [ ! -f "$compose_stamp" ]; then
  log "building compose-config (compose-go; first time only, under a minute)"
  mkdir -p "$TOOLS/bin"
  (cd tests/compose_config && go build -o "$TOOLS/bin/compose-config" .)
  rm -f "$TOOLS"/bin/.compose-config-*; touch "$compose_stamp"
fi

# centrifuge-js (live pages) and uPlot (dashboard pages) from npm, served as static files (no
# CDN); installed again when package-lock.json changes.
npm_stamp="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f "$npm_stamp" ] || [ ! -f node_modules/centrifuge/dist/centrifuge.js ] \
  || [ ! -f node_modules/uplot/dist/uPlot.iife.min.js ]; then
  log "installing centrifuge-js and uPlot from npm"
  npm ci --silent --no-audit --no-fund
  rm -f node_modules/.installed-*; touch "$npm_stamp"
fi

# .env with random secrets on first run; never overwritten. Variables added to .env.example
# since (a newer checkout) are appended with their own fresh secrets.
# 64 characters: above Django's 50 for SECRET_KEY (check --deploy) and core.secrets' 32-byte floor.
rnd() { "$PY" -c 'import secrets; print(secrets.token_urlsafe(48))'; }
fresh="$(mktemp)"
sed -e "s|^DJANGO_SECRET_KEY=.*|DJANGO_SECRET_KEY=$(rnd)|" \
    -e "s|^CENTRIFUGO_HTTP_API_KEY=.*|CENTRIFUGO_HTTP_API_KEY=$(rnd)|" \
    -e "s|^CENTRIFUGO_TOKEN_HMAC_SECRET_KEY=.*|CENTRIFUGO_TOKEN_HMAC_SECRET_KEY=$(rnd)|" \
    -e "s|^FLOWER_PASSWORD=.*|FLOWER_PASSWORD=$(rnd)|" \
    -e "s|^DEMO_PASSWORD=.*|DEMO_PASSWORD=$(rnd | cut -c1-12)|" \
    -e "s|^POSTGRES_PASSWORD=.*|POSTGRES_PASSWORD=$(rnd)|" \
    -e "s|^GRAFANA_ADMIN_PASSWORD=.*|GRAFANA_ADMIN_PASSWORD=$(rnd)|" \
    -e "s|^JUPYTER_TOKEN=.*|JUPYTER_TOKEN=$(rnd)|" \
    -e "s|^METRICS_BEARER_TOKEN=.*|METRICS_BEARER_TOKEN=$(rnd)|" \
    -e "s|^STATS_READ_TOKEN=.*|STATS_READ_TOKEN=$(rnd)|" \
    .env.example > "$fresh"
if [ ! -f .env ]; then
  log "writing .env with random local secrets (git-ignored)"
  mv "$fresh" .env
else
  missing="$(grep -E '^[A-Za-z_][A-Za-z0-9_]*=' "$fresh" | while IFS= read -r line; do
    grep -q "^${line%%=*}=" .env || printf '%s\n' "$line"; done)"
  if [ -n "$missing" ]; then
    log "adding to .env what .env.example gained: $(printf '%s\n' "$missing" | cut -d= -f1 | xargs)"
    printf '\n# Added by scripts/setup.sh from .env.example\n%s\n' "$missing" >> .env
  fi
  rm -f "$fresh"
fi
