#!/usr/bin/env bash
# Run Debian's Alertmanager for `make up`: its config rendered from the environment and .env
# (monitoring/alertmanager/config.py: ALERT_EMAIL_TO, ALERT_CRITICAL_*, ALERT_SMTP_*,
# ALERT_WEBHOOK_URL; by default emails go to the dev SMTP server, read them at
# http://127.0.0.1:$SMTP_WEB_PORT/) into $VAR_DIR/alertmanager/ (mode 0600: it may hold the SMTP
# password), with clustering off so two instances on one host never join.
# No web UI in Debian's build: use amtool --alertmanager.url=http://127.0.0.1:$ALERTMANAGER_PORT.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
export_env_defaults
port="$(env_get ALERTMANAGER_PORT 9093)"
host=127.0.0.1
state="$(var_dir)/alertmanager"
mkdir -p "$state/data"
# The worker groups' queues (settings.WORKER_GROUPS): a stale worker mutes its queues' waits.
"$PY" -m monitoring.alertmanager.config --worker-queues-from-settings \
  --output "$state/alertmanager.yml"
exec prometheus-alertmanager \
  --config.file="$state/alertmanager.yml" \
  --storage.path="$state/data" \
  --web.listen-address="$host:$port" \
  --web.external-url="http://$host:$port" \
  --cluster.listen-address=
