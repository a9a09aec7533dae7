#!/usr/bin/env bash
# The whole test suite, as CI runs it: every test (slow end-to-end ones included) on a real
# PostgreSQL, then the fast tests that reach the database again on the embedded SQLite, so both
# database paths are proven.
# Services the tests need (Redis, Celery workers, SMTP, Centrifugo, Prometheus, Flower, Chromium)
# are started by the tests themselves on free ports. Extra arguments go to pytest.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/preflight.sh" postgres  # root, for PostgreSQL's runuser and pg_ctlcluster: say so now
"$ROOT/scripts/setup.sh" --test
mkdir -p var test-artifacts
"$VENV/bin/ruff" check .
"$VENV/bin/lint-imports"  # the layering of pyproject.toml: no import cycles
# The suite runs as development does (DEBUG pages, development secrets), whatever `.env` says;
# the tests of a deployment start their processes with DEBUG off explicitly (production_env).
export DJANGO_DEBUG=true
pg_url="$("$ROOT/scripts/postgres.sh")"
log "tests on PostgreSQL"
DATABASE_URL="$pg_url" "$VENV/bin/pytest" "$@"
# Again on SQLite, the fast tests that reach the database (the others ran on PostgreSQL and do
# not depend on the engine; testing/plugin.py, --database-tests-only): a minute and a half saved.
log "fast database tests on SQLite"
DATABASE_URL="" "$VENV/bin/pytest" -m "not slow" -q --database-tests-only "$@"
