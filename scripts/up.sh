#!/usr/bin/env bash
# Bring the whole platform up in the foreground: install what is missing, migrate, seed a demo,
# then run every process under honcho. Ctrl-C stops them all.
# A taken port would stop every process honcho runs, naming none: every port is checked first
# (scripts/preflight.sh up names each taken one, its variable and who holds it), before setup
# and again after it (installing Debian's packages may start their services).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/preflight.sh" up
"$ROOT/scripts/setup.sh"
"$ROOT/scripts/prepare.sh"
"$ROOT/scripts/preflight.sh" up

web=$(env_get WEB_PORT 8000); flower=$(env_get FLOWER_PORT 5555)
prom=$(env_get PROMETHEUS_PORT 9090); cf=$(env_get CENTRIFUGO_PORT 8001)
am=$(env_get ALERTMANAGER_PORT 9093)
cf_internal=$(env_get CENTRIFUGO_INTERNAL_PORT 8002)
mailweb=$(env_get SMTP_WEB_PORT 8025)
traces="off (OTEL_SDK_DISABLED=true: no Jaeger)"
if tracing_on; then
  traces="http://127.0.0.1:$web/traces/   (staff: search and waterfalls, read from Jaeger's
                    query API on 127.0.0.1:$(jaeger_query_port); spans go in over OTLP/HTTP on
                    127.0.0.1:$(jaeger_otlp_port); Jaeger's own UI is a placeholder)"
fi
cat <<MSG

  Chat Platform is starting. Open:
    API docs        http://127.0.0.1:$web/api/docs/
    Admin           http://127.0.0.1:$web/admin/
    Live statistics http://127.0.0.1:$web/live/
    Dashboards      http://127.0.0.1:$web/dashboards/   (the Grafana dashboards, drawn in the app)
    Chat demo       http://127.0.0.1:$web/chat/
    Metrics         in Prometheus below; the app's /metrics wants the bearer token of .env:
                    curl -H "Authorization: Bearer \$(sed -n 's/^METRICS_BEARER_TOKEN=//p' .env)" http://127.0.0.1:$web/metrics
    Flower          http://127.0.0.1:$flower/   (user $(env_get FLOWER_USER admin), password $(env_get FLOWER_PASSWORD) in .env)
    Prometheus      http://127.0.0.1:$prom/classic/alerts   (Debian's 2.42: its UI is under /classic/)
    Alertmanager    amtool --alertmanager.url=http://127.0.0.1:$am alert query   (no web UI;
                    alert emails go to the inbox below; runbooks: http://127.0.0.1:$web/runbooks/)
    Centrifugo      ws://127.0.0.1:$cf/connection/websocket (WebSocket only)
                    http://127.0.0.1:$cf_internal/health (internal port: server API, /metrics)
    Email inbox     http://127.0.0.1:$mailweb/
    Traces          $traces
  Ctrl-C stops everything.

MSG
export_env_defaults
# Every process traces to make up's Jaeger (unless .env names another endpoint, or
# OTEL_SDK_DISABLED=true, which also leaves Jaeger out), every request of it: development wants
# the trace of what it just did (make prod samples a tenth of the requests; docs/tracing.md).
export_tracing_env
export OTEL_TRACES_SAMPLER="${OTEL_TRACES_SAMPLER:-parentbased_always_on}"
mapfile -t processes < <(procfile_processes Procfile)
exec "$VENV/bin/honcho" -f Procfile -e /dev/null start "${processes[@]}"
