#!/usr/bin/env bash
# Start Debian's PostgreSQL (installed by setup.sh --test) and make sure the project's role exists.
# Prints the DATABASE_URL to use, and nothing else on stdout (callers capture it). The role may
# create databases (the test database). --cluster: start the cluster only, print nothing.
source "$(dirname "$0")/lib.sh"
apt_ensure postgresql
ver=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
port=$(env_get PGPORT 5432)
if ! pg_lsclusters -h 2>/dev/null | grep -q "^$ver main"; then
  log "creating PostgreSQL $ver cluster"
  pg_createcluster "$ver" main --port "$port" >&2
fi
if ! pg_lsclusters -h | grep -q "^$ver main.*online"; then
  log "starting PostgreSQL $ver"
  pg_ctlcluster "$ver" main start >&2  # it may say "Removed stale pid file." on stdout
fi
port=$(pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" {print $3}')
# --cluster: only that (make prod, which makes its own role): no test role with a known password.
[ "${1:-}" = --cluster ] && exit 0
as_pg() { (cd / && runuser -u postgres -- "$@"); }
if ! as_pg psql -p "$port" -tAc "SELECT 1 FROM pg_roles WHERE rolname='chatplatform'" | grep -q 1; then
  as_pg psql -p "$port" -qc "CREATE ROLE chatplatform LOGIN CREATEDB PASSWORD 'chatplatform'"
fi
if ! as_pg psql -p "$port" -tAc "SELECT 1 FROM pg_database WHERE datname='chatplatform'" | grep -q 1; then
  as_pg psql -p "$port" -qc "CREATE DATABASE chatplatform OWNER chatplatform"
fi
echo "postgres://chatplatform:chatplatform@127.0.0.1:$port/chatplatform"
