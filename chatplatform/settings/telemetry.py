"""What watches the platform: Prometheus (where Grafana reaches it, the /metrics token), the
read-only token of /api/stats/ and Flower's login (docs/monitoring.md, docs/security.md)."""

from .base import env, env_or
from .security import rate_limit, secret

# --- Monitoring -------------------------------------------------------------------------------
# Where Grafana reaches Prometheus; `manage.py sync_dashboards` uses it when it creates the
# datasource in a Grafana that lacks it (docker compose provisions it instead).
PROMETHEUS_URL = env_or(
    "PROMETHEUS_URL", f"http://127.0.0.1:{env.int('PROMETHEUS_PORT', default=9090)}"
)
# What Prometheus must send to GET /metrics as `Authorization: Bearer ...`. Empty: /metrics is
# open, for development only; with DEBUG off the figures it exposes (users, messages, the queues)
# would be open to anyone who reaches the port, so a missing or placeholder token is refused.
METRICS_BEARER_TOKEN = secret("METRICS_BEARER_TOKEN", "")
# What a machine with no account (compose's Jupyter) sends to GET /api/stats/ as `Authorization:
# Bearer ...`: that one read, nothing else (metrics.views). Empty: none, only staff read it. A
# placeholder or one under 32 bytes is refused with DEBUG off.
STATS_READ_TOKEN = secret("STATS_READ_TOKEN", "", optional=True)

# --- Flower -----------------------------------------------------------------------------------
# Its basic auth; `python -m launchers.flower` refuses a placeholder password with DEBUG off
# (checked there, not here: only Flower needs it).
FLOWER_USER = env_or("FLOWER_USER", "admin")
FLOWER_PASSWORD = env("FLOWER_PASSWORD", default="")

# --- Tracing (docs/tracing.md) ----------------------------------------------------------------
# The OpenTelemetry SDK reads its own OTEL_* variables (observability.tracing): tracing is on
# when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set and
# OTEL_SDK_DISABLED is not true; make up and make prod point it at their Jaeger.
# Where the app reads traces back (Jaeger's query API) for staff's trace pages; empty: no trace
# pages, the latency panels link nowhere.
JAEGER_QUERY_URL = env("JAEGER_QUERY_URL", default="")
# Each call to it waits at most this long (seconds): a slow Jaeger slows one staff page only.
JAEGER_QUERY_TIMEOUT = env.float("JAEGER_QUERY_TIMEOUT", default=3.0)

# --- What browsers see (observability.browser_lag) ---------------------------------------------
# The share of live messages whose publish-to-arrival time a chat page measures and reports, in
# batches of at most LIVE_LAG_BATCH values; 0 turns the measurement off.
LIVE_LAG_SAMPLE_RATE = env.float("LIVE_LAG_SAMPLE_RATE", default=1.0)
LIVE_LAG_BATCH = env.int("LIVE_LAG_BATCH", default=50)
# Reports per user (a page sends one batch every few seconds at most while messages arrive).
LIVE_LAG_RATE_LIMIT = rate_limit("LIVE_LAG_RATE_LIMIT", "20/min")
