#!/usr/bin/env bash
# Prepare local state: migrations, static files, the demo data and the Prometheus config.
# Idempotent: the second run changes nothing.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
mkdir -p "$(env_get VAR_DIR var)"  # the SQLite database lives there; relative to the project
"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py collectstatic --noinput -v 0
"$PY" manage.py seed_demo
