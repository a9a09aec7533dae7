# The production profile's environment (sourced by scripts/prod.sh, backup.sh and restore.sh,
# after lib.sh): .env as make up reads it, then what production fixes whatever .env says. One
# place, so that a backup reads the database make prod writes.
#   PROD_HOST   the name browsers use (default localhost); HTTPS_PORT (8443) and HTTP_PORT (8080)
#   PROD_VAR_DIR  its state, apart from make up's (default var/prod): reports, mail, TLS, nginx
#   OTEL_EXPORTER_OTLP_ENDPOINT, JAEGER_QUERY_URL  make prod's Jaeger unless set (lib.sh)
# The database: DATABASE_URL from .env when it is a postgres:// URL (a server of your own), else
# the local PostgreSQL cluster's `chatplatform_prod` database (scripts/prod.sh creates it, with
# POSTGRES_PASSWORD from .env as its role's password).
export_env_defaults
PROD_HOST="$(env_get PROD_HOST localhost)"
HTTPS_PORT="$(env_get HTTPS_PORT 8443)"
HTTP_PORT="$(env_get HTTP_PORT 8080)"
prod_var="$(env_get PROD_VAR_DIR var/prod)"
case "$prod_var" in /*) ;; *) prod_var="$ROOT/$prod_var" ;; esac
export VAR_DIR="$prod_var" PROD_HOST HTTPS_PORT HTTP_PORT
export REPORTS_DIR="$VAR_DIR/reports" DEV_MAIL_DIR="$VAR_DIR/mail"
port_suffix=":$HTTPS_PORT"; [ "$HTTPS_PORT" = 443 ] && port_suffix=""
export PUBLIC_BASE_URL="https://$PROD_HOST$port_suffix"
export DJANGO_DEBUG=false DJANGO_BEHIND_TLS_PROXY=true TRUSTED_PROXY_COUNT=1
export DJANGO_ALLOWED_HOSTS="$PROD_HOST,localhost,127.0.0.1"
export DJANGO_CSRF_TRUSTED_ORIGINS="$PUBLIC_BASE_URL"
export CENTRIFUGO_WS_URL="wss://$PROD_HOST$port_suffix/connection/websocket"
export CENTRIFUGO_ALLOWED_ORIGINS="$PUBLIC_BASE_URL"
export PROMETHEUS_MULTIPROC_DIR="$VAR_DIR/prometheus-multiproc"
# Traces to make prod's Jaeger (scripts/run-jaeger.sh; OTLP on JAEGER_OTLP_PORT, the query API
# on JAEGER_QUERY_PORT), unless the environment or .env names an endpoint or query API of its
# own; nothing with OTEL_SDK_DISABLED=true (lib.sh, export_tracing_env).
export_tracing_env
PROD_LOCAL_DATABASE=false
if [[ "$(env_get DATABASE_URL)" != postgres* ]]; then
  PROD_LOCAL_DATABASE=true
  pg_port=$(pg_lsclusters -h 2>/dev/null | awk '$2=="main" {print $3; exit}')
  export DATABASE_URL="postgres://chatplatform_prod:$(env_get POSTGRES_PASSWORD)@127.0.0.1:${pg_port:-5432}/chatplatform_prod"
fi

# make prod's role and database on the local cluster (when PROD_LOCAL_DATABASE), made if missing;
# the role's password follows POSTGRES_PASSWORD (a rotation in .env takes effect at the next
# start). The role may not create databases itself. scripts/prod.sh and restore.sh call it.
ensure_prod_database() {
  [ "$PROD_LOCAL_DATABASE" = true ] || return 0
  as_pg() { (cd / && runuser -u postgres -- psql -p "$pg_port" -v ON_ERROR_STOP=1 -qtA "$@"); }
  if ! as_pg -c "SELECT 1 FROM pg_roles WHERE rolname='chatplatform_prod'" | grep -q 1; then
    log "creating the PostgreSQL role and database chatplatform_prod"
    as_pg -c "CREATE ROLE chatplatform_prod LOGIN" >/dev/null
  fi
  # (from standard input: psql interpolates :'pw', quoted, only there, never in -c)
  as_pg -v pw="$(env_get POSTGRES_PASSWORD)" <<<"ALTER ROLE chatplatform_prod PASSWORD :'pw'" >/dev/null
  if ! as_pg -c "SELECT 1 FROM pg_database WHERE datname='chatplatform_prod'" | grep -q 1; then
    as_pg -c "CREATE DATABASE chatplatform_prod OWNER chatplatform_prod" >/dev/null
  fi
}
