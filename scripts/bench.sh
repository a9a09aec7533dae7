#!/usr/bin/env bash
# Every benchmark, one after another, at the sizes the issues ask for unless noted below (the
# BENCH_*_ARGS variables pass flags, for a quick run or the larger sizes). Each prints its figures
# as ratios against a baseline measured in the same run and writes JSON to bench/results/
# (git-ignored). Extra arguments are ignored here; run one directly to pass flags, as a module
# from the repository root: .venv/bin/python -m bench.bench_stats --help
# `make test` runs each of them at a tiny size (tests/test_benchmarks.py), so none breaks unseen.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
mkdir -p bench/results
# On PostgreSQL, as the README says (SQLite would serialise the workers' writes, and bench_stats
# loads with COPY): no quiet fallback to SQLite. Each benchmark measures on a throwaway database it
# creates on this server.
if ! pg_url=$("$ROOT/scripts/postgres.sh") || [ -z "$pg_url" ]; then
  log "PostgreSQL did not start (scripts/postgres.sh, above): no benchmark run"
  exit 1
fi

log "live delivery latency: API -> Centrifugo (after commit; through the live queue) vs publishing directly"
# Full size by default (100 subscribers; 50, 75, 100, 150, 200, 300 msg/s until the direct publish
# no longer keeps up; 10 s a phase, both paths: 3 to 5 minutes); a quick run:
# BENCH_REALTIME_ARGS="--subscribers 10 --rates 10 --duration 5" make bench
# shellcheck disable=SC2086  # word splitting of the flags is wanted
"$PY" -m bench.bench_realtime --database-url "$pg_url" ${BENCH_REALTIME_ARGS:-}

log "Centrifugo nodes: latency across two nodes on Redis vs one node; memory per idle connection"
# No database: 100 subscribers at 50 msg/s, 10 s a layout; then 2,000 and 5,000 idle connections
# on one node, memory and Redis engines (about 1.5 minutes). A quick run:
# BENCH_NODES_ARGS="--subscribers 10 --duration 2 --connections 200,500 --memory-engines memory" make bench
# shellcheck disable=SC2086  # word splitting of the flags is wanted
"$PY" -m bench.bench_centrifugo_nodes ${BENCH_NODES_ARGS:-}

log "head-of-line: live message latency while 1,000 admin emails drain vs with no backlog"
# 100 messages a phase at 5 msg/s, 1,000 emails through a 0.2 s SMTP server, and the layout before
# the split (--single-pool, its waits capped at 30 s): about 3 minutes. A quick run:
# BENCH_HEAD_OF_LINE_ARGS="--subscribers 5 --messages 10 --emails 100" make bench
# shellcheck disable=SC2086  # word splitting of the flags is wanted
"$PY" -m bench.bench_head_of_line --database-url "$pg_url" ${BENCH_HEAD_OF_LINE_ARGS:---single-pool}

log "capacity over TLS: req/s at p99 <= 100 ms of posting, reading, /healthz vs /livez (the floor)"
# make prod's processes (nginx TLS -> gunicorn at its default workers, Centrifugo, workers) loaded
# by wrk, connections 1..64 a step, 10 s each, every endpoint in turn; the live delivery latency
# while posting; a py-spy profile of the post path (about 6 minutes). A quick run:
# BENCH_CAPACITY_ARGS="--connections 1,4,16 --duration 3" make bench
# shellcheck disable=SC2086  # word splitting of the flags is wanted
"$PY" -m bench.bench_capacity --database-url "$pg_url" ${BENCH_CAPACITY_ARGS:-}

log "admin emails: request cost with emails on vs off; 2,000 joins -> 4,000 emails vs a plain SMTP loop"
# A quick run: BENCH_EMAIL_ARGS="--requests 200 --joins 300" make bench
# shellcheck disable=SC2086  # word splitting of the flags is wanted
"$PY" -m bench.bench_email --database-url "$pg_url" ${BENCH_EMAIL_ARGS:-}

log "admin emails: one email worker replica vs two, through a 0.2 s SMTP server"
# 240 emails a phase at the group's concurrency, one, two, two, one replicas, then 40 a phase at
# one process per replica: about 2 minutes. A quick run:
# BENCH_EMAIL_SCALE_ARGS="--joins 30 --pool-one-joins 8" make bench
# shellcheck disable=SC2086  # word splitting of the flags is wanted
"$PY" -m bench.bench_email_scale --database-url "$pg_url" ${BENCH_EMAIL_SCALE_ARGS:-}

log "tracing: request cost at the default sampling (and at 10 %) vs tracing off, spans per request"
# Three gunicorns (make prod's config, one worker each: off, on, 10 %) on one database, Redis,
# Centrifugo, an email worker and Jaeger; posting and adding a member (2 admin emails), 10 rounds
# x 50 requests of each a configuration, interleaved (2 to 3 minutes). A quick run:
# BENCH_TRACING_ARGS="--rounds 4 --requests 20" make bench
# shellcheck disable=SC2086  # word splitting of the flags is wanted
"$PY" -m bench.bench_tracing --database-url "$pg_url" ${BENCH_TRACING_ARGS:-}

log "browser lag: what the chat pages report (/metrics histogram) vs WebSocket subscribers, under load"
# A web process (2 workers), Centrifugo, the live worker; 20 msg/s for 60 s into one chat with 5
# headless Chromium pages and 20 subscribers on it (about 1.5 minutes). A quick run:
# BENCH_BROWSER_LAG_ARGS="--pages 2 --subscribers 5 --duration 20" make bench
# shellcheck disable=SC2086  # word splitting of the flags is wanted
"$PY" -m bench.bench_browser_lag --database-url "$pg_url" ${BENCH_BROWSER_LAG_ARGS:-}

log "activity statistics: full rebuild vs incremental fill vs naive pandas (PostgreSQL)"
# 1,000,000 messages over 90 days (a few minutes); --big adds the 5,000,000-message history run:
# BENCH_STATS_ARGS="--big" make bench;  quick: BENCH_STATS_ARGS="--messages 100000"
# shellcheck disable=SC2086  # word splitting of the flags is wanted
"$PY" -m bench.bench_stats --database-url "$pg_url" ${BENCH_STATS_ARGS:-}

log "a year of traffic: every periodic job and each list's first page, 1,000,000 vs 10,000,000 messages"
# Each size on a throwaway database of its own, one after the other (at most 8.5 GiB of disk, the
# 10M one): a year bulk-loaded with COPY, then the snapshot, a scrape, the fill after 10,000 new
# messages and with nothing new, the report job, a sweep, a digest run, a retention run over a
# day and the first page of each list endpoint, as ratios 10M / 1M against the issue's goals, and
# the queries that read history. About 10 minutes (10M: 3.5 min to load, 4 min for the first fill
# of the year, 1 min for the naive pass). Quick (100,000 and 1,000,000, about 1.5 minutes):
# BENCH_YEAR_ARGS="--quick" make bench
# shellcheck disable=SC2086  # word splitting of the flags is wanted
"$PY" -m bench.bench_year --database-url "$pg_url" ${BENCH_YEAR_ARGS:-}
