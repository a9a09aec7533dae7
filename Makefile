# The two commands of the README: `make up` and `make test`. The rest are helpers.
.PHONY: up prod backup restore setup test test-fast lint format bench dashboards notebooks lock clean

up:            ## install what is missing, then run the whole platform in the foreground
	scripts/up.sh

prod:          ## the production profile on this machine: nginx with TLS, gunicorn, PostgreSQL
	scripts/prod.sh

backup:        ## one archive of make prod's database and reports (SECRETS=1: .env and the CA too)
	scripts/backup.sh

restore:       ## bring back a backup: make restore FILE=var/backups/... (asks before overwriting)
	scripts/restore.sh "$(FILE)"

setup:         ## install dependencies only (Debian packages, .venv, Centrifugo, centrifuge-js, .env)
	scripts/setup.sh

test:          ## the whole suite on PostgreSQL (+ fast tests on SQLite); what CI runs
	scripts/test.sh

test-fast:     ## unit and API tests only, on SQLite
	scripts/setup.sh --test && .venv/bin/pytest -m "not slow"

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/lint-imports

format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .

bench:         ## benchmarks (figures as ratios against a baseline measured in the same run)
	scripts/preflight.sh postgres && scripts/setup.sh --test && scripts/bench.sh

dashboards:    ## rebuild the Grafana dashboard JSON from monitoring/grafana/build/
	.venv/bin/python -m monitoring.grafana.build

notebooks:     ## execute every notebook on the latest report, render to HTML beside it
	.venv/bin/python manage.py render_notebooks

clean:         ## local state, but not var/backups (copy archives off the machine anyway)
	find var -mindepth 1 -maxdepth 1 ! -name backups -exec rm -rf {} + 2>/dev/null; rm -rf test-artifacts bench/results

lock:          ## write constraints.txt from .venv, then list the pins behind the newest release
	.venv/bin/python scripts/lock.py && .venv/bin/python scripts/lock.py --check
