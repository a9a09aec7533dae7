"""What watches the platform: Prometheus (where Grafana reaches it, the /metrics token), the
read-only token of /api/stats/ and Flower's login (docs/monitoring.md, docs/security.md)."""

from .base import env, env_or
from .security import secret

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
