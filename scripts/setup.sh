#!/usr/bin/env bash
# Install what the platform needs, once: Debian packages (Redis, Prometheus, Alertmanager), the
# virtualenv, Centrifugo, Jaeger (unless OTEL_SDK_DISABLED=true), centrifuge-js and uPlot from
# npm, and a .env with random local secrets.
# Running it again is fast and changes nothing. It checks first (scripts/preflight.sh) what it
# needs to install them: the system, root, Python, Go, npm and disk space; it names what is
# missing and installs nothing then.
# Usage: scripts/setup.sh [--test|--prod]   (--test adds what the test suite starts: PostgreSQL,
# Chromium, HAProxy, nginx, certutil, wrk, mkcert, and Jaeger whatever OTEL_SDK_DISABLED says;
# --prod what make prod runs: nginx, PostgreSQL, mkcert)
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
mode="${1:-}"

# Every check before anything is installed; what it prints are the Debian packages still missing
# (lib.sh: UP_PACKAGES, TEST_PACKAGES; python3.N-venv and npm when Debian's Python or Node lacks
# them).
apt_missing="$("$ROOT/scripts/preflight.sh" setup ${mode:+"$mode"})"
# shellcheck disable=SC2086  # one package a line
apt_ensure $apt_missing

# On a host running systemd, Debian's prometheus and prometheus-alertmanager packages start
# services on 9090 and 9093, the ports of make up's own (scripts/run-*.sh, this project's
# configuration): stop and disable them, saying so first (KEEP_HOST_SERVICES=1 keeps them).
for entry in "${HOST_SERVICES_IN_THE_WAY[@]}"; do
  read -r unit var port what <<<"$entry"
  [ "$(env_get "$var" "$port")" = "$port" ] || continue  # make up's is elsewhere: no collision
  stop_host_service "$unit" \
    "make up runs its own $what, with this project's configuration, on $var=$port, the port this one holds" \
    "make up then stops at its port check, naming $var, until .env gives $var another port"
done
# The tests start their own HAProxy (centrifugo/haproxy.cfg, on free ports): Debian's service,
# started by installing the package just now, would only idle. A host's own is left alone.
if [[ " ${APT_INSTALLED[*]} " == *" haproxy "* ]]; then
  stop_host_service haproxy "the cluster tests start their own on free ports; this one would only idle" \
    "it idles, holding no port the tests use"
fi
# Likewise Debian's nginx, which starts serving its welcome page on port 80 when installed: make
# prod and the tests run their own (launchers/nginx.py). A host's own is left alone.
if [[ " ${APT_INSTALLED[*]} " == *" nginx "* ]]; then
  stop_host_service nginx "make prod and the tests run their own nginx (launchers/nginx.py); this one would serve Debian's welcome page on port 80" \
    "it keeps port 80, so make prod needs HTTP_PORT elsewhere (its default, 8080, is)"
fi

# Python: a project-local virtualenv, reinstalled only when pyproject.toml or constraints.txt
# changes; constraints.txt pins every transitive package too.
stamp="$VENV/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  log "installing Python dependencies into .venv"
  [ -x "$PY" ] || "${SETUP_PYTHON:-python3}" -m venv "$VENV"
  "$PY" -m pip install -q 'pip==26.3'
  "$PY" -m pip install -q -c constraints.txt -e '.[dev]'
  rm -f "$VENV"/.installed-*; touch "$stamp"
fi

# mkcert (make prod's local CA and certificate), from the Go module proxy at a pinned version.
if { [ "$mode" = --prod ] || [ "$mode" = --test ]; } && ! mkcert_built; then
  log "building mkcert v$MKCERT_VERSION (first time only, seconds)"
  mkdir -p "$TOOLS/bin"
  GOBIN="$TOOLS/bin" go install "filippo.io/mkcert@v$MKCERT_VERSION"
fi

# Centrifugo, built from the Go module proxy at a pinned version into .tools/bin (git-ignored).
if ! centrifugo_built; then
  log "building Centrifugo v$CENTRIFUGO_VERSION (first time only, a few minutes)"
  build="$TOOLS/centrifugo-build"; mkdir -p "$build" "$TOOLS/bin"
  # Its own go.mod's Go: an older Go 1.21+ fetches that toolchain (GOTOOLCHAIN=auto).
  printf 'module localbuild\n\ngo %s\n\nrequire github.com/centrifugal/centrifugo/v6 v%s\n' \
    "$CENTRIFUGO_GO_VERSION" "$CENTRIFUGO_VERSION" > "$build/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/centrifugal/centrifugo/v6"\n' \
    > "$build/tools.go"
  (cd "$build" && GOFLAGS=-mod=mod go build \
    -ldflags "-X github.com/centrifugal/centrifugo/v6/internal/build.Version=$CENTRIFUGO_VERSION" \
    -o "$TOOLS/bin/centrifugo" github.com/centrifugal/centrifugo/v6)
fi

# Jaeger v2 (make up's and make prod's trace store, scripts/run-jaeger.sh), built the same way
# from the pinned module's cmd/jaeger: the tests always, make up and make prod unless
# OTEL_SDK_DISABLED=true. Its UI's assets are not in the module: the binary serves the query API
# (the app draws traces itself) and a placeholder page.
if { [ "$mode" = --test ] || tracing_on; } && ! jaeger_built; then
  log "building Jaeger v$JAEGER_RELEASE (Go module v$JAEGER_VERSION): first time only, about 5 minutes and 2.5 GB of Go's caches (OTEL_SDK_DISABLED=true in .env skips it for make up and make prod)"
  build="$TOOLS/jaeger-build"; mkdir -p "$build" "$TOOLS/bin"
  printf 'module localbuild\n\ngo %s\n\nrequire github.com/jaegertracing/jaeger v%s\n\n' \
    "$JAEGER_GO_VERSION" "$JAEGER_VERSION" > "$build/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/jaegertracing/jaeger/cmd/jaeger"\n' \
    > "$build/tools.go"
  # Jaeger's go.mod replaces some dependencies (github.com/Shopify/sarama with an older version);
  # Go follows only the main module's replace lines (and `go install pkg@version` refuses such a
  # module), so this build's go.mod repeats Jaeger's own.
  jaeger_mod="$(cd "$build" && go mod download -json "github.com/jaegertracing/jaeger@v$JAEGER_VERSION" \
    | sed -nE 's/^[[:space:]]*"GoMod": "(.*)",?$/\1/p')"
  grep -E '^replace [^(]' "$jaeger_mod" >> "$build/go.mod"
  (cd "$build" && GOFLAGS=-mod=mod go build -trimpath \
    -ldflags "-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion=v$JAEGER_RELEASE" \
    -o "$TOOLS/bin/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger)
fi

# compose-config: docker-compose.yml loaded as `docker compose config` does, by the Compose
# Specification's reference library (compose-go, pinned in tests/compose_config/go.mod), for
# tests/test_compose_*.py (no Docker engine here). Rebuilt when its source changes; tests only.
compose_stamp="$(compose_config_stamp)"
if [ "$mode" = "--test" ] && [ ! -f "$compose_stamp" ]; then
  log "building compose-config (compose-go; first time only, under a minute)"
  mkdir -p "$TOOLS/bin"
  (cd tests/compose_config && go build -o "$TOOLS/bin/compose-config" .)
  rm -f "$TOOLS"/bin/.compose-config-*; touch "$compose_stamp"
fi

# centrifuge-js (live pages) and uPlot (dashboard pages) from npm, served as static files (no
# CDN); installed again when package-lock.json changes.
if ! npm_installed; then
  log "installing centrifuge-js and uPlot from npm"
  npm ci --silent --no-audit --no-fund
  rm -f node_modules/.installed-*; touch "$(npm_stamp)"
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
