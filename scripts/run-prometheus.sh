#!/usr/bin/env bash
# Run Debian's Prometheus for `make up`: monitoring/prometheus/prometheus.yml with its targets
# pointed at the local processes (ports from .env), alerts sent to scripts/run-alertmanager.sh's
# Alertmanager, data in $VAR_DIR/prometheus/data, listening on 127.0.0.1.
# METRICS_BEARER_TOKEN goes to a file only this user reads (Prometheus reads no environment);
# empty: the app's /metrics is open and no token is sent.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
port="$(env_get PROMETHEUS_PORT 9090)"
host=127.0.0.1
state="$(var_dir)/prometheus"
mkdir -p "$state/data"
token_args=()
token="$(env_get METRICS_BEARER_TOKEN)"
if [ -n "$token" ]; then
  (umask 077 && printf '%s' "$token" > "$state/metrics-token")
  token_args=(--web-token-file "$state/metrics-token")
else
  rm -f "$state/metrics-token"
fi
"$PY" -m monitoring.prometheus.config \
  --web "$host:$(env_get WEB_PORT 8000)" \
  --flower "$host:$(env_get FLOWER_PORT 5555)" \
  --centrifugo "$host:$(env_get CENTRIFUGO_INTERNAL_PORT 8002)" \
  --prometheus "$host:$port" \
  --alertmanager "$host:$(env_get ALERTMANAGER_PORT 9093)" \
  --celery-workers "$("$PY" -c "from launchers.workers import metrics_targets as t; print(t('$host'))")" \
  "${token_args[@]}" \
  --output "$state/prometheus.yml"
# First start only (an empty data folder): import the chat-activity gauges of the past, recomputed
# from the database (manage.py prometheus_history: the demo's weeks), so that dashboard is not
# blank until weeks of scrapes have passed. Retention is 60d (below): the default 15d would drop
# most of the imported weeks (prometheus_history goes back up to 30 days).
if [ -z "$(ls -A "$state/data")" ]; then
  history="$state/history.om"
  if "$PY" manage.py prometheus_history --output "$history" --instance "$host:$(env_get WEB_PORT 8000)" >/dev/null \
    && promtool tsdb create-blocks-from openmetrics --max-block-duration=168h "$history" "$state/data" >/dev/null; then
    log "imported the chat-activity history into Prometheus"
  else
    log "no history imported into Prometheus (no users yet, or promtool failed)"
  fi
  rm -f "$history"
fi
exec prometheus \
  --config.file="$state/prometheus.yml" \
  --storage.tsdb.path="$state/data" \
  --storage.tsdb.retention.time=60d \
  --web.listen-address="$host:$port"
