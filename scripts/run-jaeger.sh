#!/usr/bin/env bash
# Run Jaeger v2 for make up and make prod from deploy/jaeger/config.yaml (the file compose and the
# tests run too): OTLP over HTTP on 127.0.0.1:JAEGER_OTLP_PORT (4318), where the platform's
# processes send their spans (lib.sh, export_tracing_env), and the query API on
# 127.0.0.1:JAEGER_QUERY_PORT (16686), which the app's trace pages read. Traces are kept in
# memory, the newest JAEGER_MAX_TRACES (50000); a restart loses them. Each variable comes from
# the environment, else .env, else the default; the file's header lists them.
source "$(dirname "$0")/lib.sh"

export JAEGER_LISTEN_HOST=127.0.0.1
JAEGER_OTLP_PORT="$(jaeger_otlp_port)"
JAEGER_QUERY_PORT="$(jaeger_query_port)"
JAEGER_MAX_TRACES="$(env_get JAEGER_MAX_TRACES 50000)"
JAEGER_LOG_LEVEL="$(env_get JAEGER_LOG_LEVEL warn)"
JAEGER_METRICS_LEVEL="$(env_get JAEGER_METRICS_LEVEL none)"
JAEGER_METRICS_PORT="$(env_get JAEGER_METRICS_PORT 8888)"
export JAEGER_OTLP_PORT JAEGER_QUERY_PORT JAEGER_MAX_TRACES JAEGER_LOG_LEVEL
export JAEGER_METRICS_LEVEL JAEGER_METRICS_PORT
# Not Jaeger's own spans: its query extension's tracing is off in the config, and nothing else
# of it should read the platform's OTEL_* variables.
unset OTEL_EXPORTER_OTLP_ENDPOINT OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
cd "$ROOT"
exec "$TOOLS/bin/jaeger" --config "$ROOT/deploy/jaeger/config.yaml"
