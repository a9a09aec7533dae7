#!/usr/bin/env bash
# make prod: the production profile on this machine, without Docker, in the foreground. The same
# processes and settings as compose (Grafana aside): PostgreSQL, gunicorn (launchers/
# gunicorn_conf.py) behind nginx terminating TLS (launchers/nginx.py, deploy/nginx/), with
# Centrifugo's WebSocket at the same origin, DJANGO_DEBUG off, HSTS and secure cookies, and a
# certificate from a local CA made on first run (launchers/tls.py). docs/deploy.md.
# Ctrl-C stops everything. scripts/restore.sh stops and starts it through $VAR_DIR/prod.pid.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
# Every port it is to listen on is free, before anything is installed or started.
"$ROOT/scripts/preflight.sh" prod
"$ROOT/scripts/setup.sh" --prod

# The local cluster (scripts/postgres.sh starts it) and the production role and database.
"$ROOT/scripts/postgres.sh" --cluster
source "$ROOT/scripts/prod-env.sh"
ensure_prod_database

mkdir -p "$VAR_DIR"
"$ROOT/scripts/preflight.sh" prod  # again: installing a package may have started its service
rm -rf "$PROMETHEUS_MULTIPROC_DIR"; mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
"$PY" manage.py check --deploy --fail-level WARNING
"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py collectstatic --noinput -v 0
# The demo people and chats (PROD_SEED_DEMO=false: none). Its live events and emails wait in the
# outbox until the workers start (no warning for each: Redis is not up yet).
[ "$(env_get PROD_SEED_DEMO true)" = true ] && LOG_LEVEL=ERROR "$PY" manage.py seed_demo
tls="$("$PY" -m launchers.tls --dir "$VAR_DIR/tls" "$PROD_HOST" localhost 127.0.0.1 ::1)"
{ read -r TLS_CERT; read -r TLS_KEY; read -r TLS_CA; } < <("$PY" -c \
  'import json,sys; d=json.load(sys.stdin); print(d["cert_file"], d["key_file"], d.get("ca_file", ""), sep="\n")' \
  <<<"$tls")
export TLS_CERT TLS_KEY STATIC_ROOT="$VAR_DIR/static"

url="$PUBLIC_BASE_URL"
flower=$(env_get FLOWER_PORT 5555); prom=$(env_get PROMETHEUS_PORT 9090)
mailweb=$(env_get SMTP_WEB_PORT 8025)
jaeger=""  # its ports, when tracing is on (scripts/run-jaeger.sh)
tracing_on && jaeger=", Jaeger's OTLP $(jaeger_otlp_port) and query API $(jaeger_query_port)"
cat <<MSG

  Chat Platform (production profile) is starting. Open:
    Chat            $url/chat/
    Live statistics $url/live/
    Dashboards      $url/dashboards/
    Admin           $url/admin/
    API docs        $url/api/docs/
    WebSocket       wss://${url#https://}/connection/websocket (Centrifugo, behind the same proxy)
    Flower          http://127.0.0.1:$flower/   Prometheus http://127.0.0.1:$prom/classic/alerts
    Email inbox     http://127.0.0.1:$mailweb/   (the development SMTP server: set EMAIL_HOST
                    and its friends in .env for a real one)
  Internal ports stay on 127.0.0.1 (gunicorn $(env_get WEB_PORT 8000), Centrifugo's API
  $(env_get CENTRIFUGO_INTERNAL_PORT 8002)$jaeger); only the proxy (https $HTTPS_PORT, http $HTTP_PORT) serves browsers.
MSG
if [ -n "$TLS_CA" ]; then cat <<MSG
  The certificate is signed by a local CA made on first run: trust it once with
    CAROOT=$(dirname "$TLS_CA") $TOOLS/bin/mkcert -install
  (or import $TLS_CA into the browser); docs/deploy.md says how to use a real domain's instead.
MSG
fi
echo "  Ctrl-C stops everything."; echo
echo $$ > "$VAR_DIR/prod.pid"
mapfile -t processes < <(procfile_processes Procfile.prod)
exec "$VENV/bin/honcho" -f Procfile.prod -e /dev/null start "${processes[@]}"
