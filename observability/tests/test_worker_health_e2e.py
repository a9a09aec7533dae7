"""A dead worker and a stopped beat, as a real Prometheus with the project's alert rules sees them.

A worker killed with SIGKILL sends no "offline" event, so Flower keeps it online; its heartbeat in
Redis stops, /metrics shows its age growing, and the heartbeat and no-worker alerts evaluate
true. A stopped beat leaves its entries' last runs behind, and its overdue signal turns on.
The rules are the project's, copied with every `for` set to 0 so the test needs no minutes.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import testing
from chatplatform.celery import app as celery_app
from monitoring.prometheus import config as prometheus_config
from observability import celery_watch
from testing.prometheus import local_config

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def rules_without_waiting(directory: Path) -> Path:
    """The project's alert rules, each firing as soon as its expression is true."""
    rules = yaml.safe_load(prometheus_config.ALERTS.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["for"] = "0s"
    path = directory / "alerts.yml"
    path.write_text(yaml.safe_dump(rules))
    return path


@pytest.fixture
def prometheus(
    live_server, centrifugo_service, settings, tmp_path
) -> Iterator[testing.ManagedProcess]:
    """A real Prometheus scraping this test's web app (the broker's view) every second, with
    the bearer token /metrics wants."""
    port = testing.free_port()
    config = local_config(
        settings,
        tmp_path,
        {
            "web": f"127.0.0.1:{urllib.parse.urlsplit(live_server.url).port}",
            "centrifugo": f"127.0.0.1:{centrifugo_service.internal_port}",
            "prometheus": f"127.0.0.1:{port}",
        },
    )
    config["rule_files"] = [str(rules_without_waiting(tmp_path))]
    with testing.PrometheusProcess(yaml.safe_dump(config), port=port) as proc:
        yield proc


def firing(prometheus: testing.ManagedProcess, alert: str, **labels: str) -> bool:
    return any(
        a["labels"]["alertname"] == alert
        and a["state"] == "firing"
        and all(a["labels"].get(k) == v for k, v in labels.items())
        for a in prometheus.api("alerts")["alerts"]
    )


def test_a_killed_worker_goes_stale_and_alerts(prometheus, worker_env) -> None:
    celery_app.control.purge()
    worker = testing.WorkerProcess(worker_env(), group="live", name="doomed")
    worker.start()
    try:
        age = f'chatplatform_worker_heartbeat_age_seconds{{worker="{worker.hostname}"}}'
        testing.wait_until(lambda: (v := prometheus.value(age)) is not None and v < 5, 30, age)
        testing.wait_until(
            lambda: prometheus.value('chatplatform_queue_workers{queue="live"}') == 1, 30, "live"
        )
        assert not firing(prometheus, "CeleryWorkerHeartbeatStale", worker=worker.hostname)

        worker.kill()  # SIGKILL: no offline event, no goodbye
        testing.wait_until(
            lambda: firing(prometheus, "CeleryWorkerHeartbeatStale", worker=worker.hostname),
            90,
            "the heartbeat alert for the killed worker",
            interval=1,
        )
        assert prometheus.value(age) > 30
        testing.wait_until(
            lambda: firing(prometheus, "CeleryQueueNoWorker", queue="live"),
            30,
            "the no-worker alert for the live queue",
            interval=1,
        )
    finally:
        worker.stop()


def test_a_stopped_beat_makes_its_entries_overdue(prometheus, worker_env, settings, tmp_path):
    settings.BEAT_OVERDUE_GRACE_SECONDS = 1  # the web app computes "overdue": 2 periods + 1 s
    celery_watch.broker().delete(celery_watch.BEAT_RUNS_KEY, celery_watch.BEAT_STARTED_KEY)
    beat = testing.celery_beat_process(worker_env(LIVE_STATS_SECONDS=1), tmp_path)
    entry = '{entry="publish-live-stats"}'
    overdue = f"chatplatform_beat_entry_overdue{entry}"
    last_run = f"chatplatform_beat_entry_last_run_timestamp_seconds{entry}"
    # Beat has never started on this broker: every entry is overdue.
    testing.wait_until(lambda: prometheus.value(overdue) == 1, 30, "overdue before beat starts")
    with beat:
        testing.wait_until(lambda: prometheus.value(overdue) == 0, 30, "beat's entry on time")
        first = testing.wait_until(lambda: prometheus.value(last_run), 10, "a first run")
        # Past the overdue threshold (3 s) while beat runs: the entry keeps running, on time.
        time.sleep(5)
        assert prometheus.value(last_run) >= first + 3
        assert prometheus.value(overdue) == 0
        assert not firing(prometheus, "CeleryBeatEntryOverdue", entry="publish-live-stats")
    testing.wait_until(lambda: prometheus.value(overdue) == 1, 30, "the entry to be overdue")
    testing.wait_until(
        lambda: firing(prometheus, "CeleryBeatEntryOverdue", entry="publish-live-stats"),
        30,
        "the beat overdue alert",
        interval=1,
    )
