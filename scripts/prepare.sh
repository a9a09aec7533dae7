#!/usr/bin/env bash
# Prepare local state: migrations, static files, the demo data, and a first report.
# Idempotent: the second run changes nothing.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
mkdir -p "$(var_dir)"  # the SQLite database lives there
"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py collectstatic --noinput -v 0
"$PY" manage.py seed_demo
# First run only: a report with rendered notebooks right away, not after beat's first intervals.
reports="$(env_get REPORTS_DIR)"; reports="${reports:-$(var_dir)/reports}"
if [ ! -e "$reports/latest" ]; then
  log "first report and notebooks (first run only)"
  "$PY" manage.py fill_stats -v 0
  "$PY" manage.py make_report -v 0 >/dev/null
  "$PY" manage.py render_notebooks -v 0 >/dev/null 2>&1 || log "notebooks not rendered: run make notebooks to see why"
fi
