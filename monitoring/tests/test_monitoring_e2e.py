"""Every dashboard query and alert rule against a real Prometheus that scrapes the real services.

A real Prometheus, configured from monitoring/prometheus/prometheus.yml (targets pointed at this
test's processes), scrapes the web app (live_server), a real Flower with basic auth, a real
Centrifugo and a real Celery worker's metrics port, while that worker runs the platform's tasks
(emails to a real SMTP server, live events, the statistics jobs) and test-only tasks that succeed,
fail on purpose, or retry, and a real beat sends the schedule (so the web app reports its entries'
last runs, as it does the worker's heartbeats). Then each PromQL expression of each dashboard panel
is sent to Prometheus's query API and must parse and return data, and each alert rule must parse and
evaluate without error. No Grafana runs here: Grafana only forwards these same expressions to this
same API.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import yaml

import testing
from monitoring import panel_data
from monitoring.grafana import build
from monitoring.prometheus import config as prometheus_config
from monitoring.tests import e2e_tasks
from monitoring.tests.support import (
    chat_activity,
    flower_count,
    http,
    run_tasks,
    wait_snapshot_value,
    wait_value,
)
from observability.prometheus import REGISTRY as REQUEST_DURATION_REGISTRY

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ALERTS = prometheus_config.ALERTS


def panel_queries() -> Iterator[tuple[str, str, str]]:
    """Every panel's PromQL with Grafana's variables filled as the in-app dashboards fill them
    (panel_data) for a 5-minute range: $__rate_interval 1m, $__range 5m."""
    variables = panel_data.grafana_variables(300, 15, panel_data.scrape_interval())
    for model in build.build_all().values():
        for title, expr in build.iter_queries(model):
            yield model["title"], title, panel_data.fill_variables(expr, variables)


def test_every_panel_and_alert_query_works_against_real_prometheus(stack: dict, settings) -> None:
    prometheus: testing.ManagedProcess = stack["prometheus"]
    # The latency histogram lives in this process, which earlier tests' requests also went through.
    posted_labels = {"view": "message-list", "method": "POST", "status": "201"}
    posted_before = REQUEST_DURATION_REGISTRY.get_sample_value(
        "chatplatform_http_request_duration_seconds_count", posted_labels
    )

    # Two waves, with scrapes in between, so counters grow while Prometheus watches (rate > 0).
    chat_activity(stack["web"], 1)
    run_tasks()
    wait_value(prometheus, flower_count(e2e_tasks.FAIL, "task-failed"), 2)
    wait_value(prometheus, flower_count(e2e_tasks.RETRY_ONCE, "task-succeeded"), 1)
    chat_activity(stack["web"], 2)
    run_tasks()
    wait_value(prometheus, flower_count(e2e_tasks.FAIL, "task-failed"), 4)
    wait_value(prometheus, flower_count(e2e_tasks.SUCCEED, "task-succeeded"), 6)
    wait_value(prometheus, flower_count(e2e_tasks.RETRY_ONCE, "task-retried"), 2)
    wait_snapshot_value(prometheus, 'max(chatplatform_notifications_done_total{status="sent"})', 2)
    wait_snapshot_value(prometheus, "count(chatplatform_top_chat_messages_last_day)", 2)
    assert prometheus.value("chatplatform_users") == 6

    # Every scrape target is up.
    targets = prometheus.query("up")
    assert {t["metric"]["job"]: t["value"][1] for t in targets} == {
        "web": "1",
        "flower": "1",
        "centrifugo": "1",
        "prometheus": "1",
        "celery-workers": "1",
    }

    # Every panel query parses and returns data. Rates need two scrapes of a series inside the
    # window, so a panel may need a few more seconds after the counters appear.
    def check_panels() -> tuple[list, list]:
        empty, broken = [], []
        for dashboard, panel, expr in panel_queries():
            try:
                result = prometheus.query(expr)
            except testing.PrometheusError as exc:
                broken.append((dashboard, panel, expr, str(exc)))
                continue
            if not result:
                empty.append((dashboard, panel, expr))
        return empty, broken

    deadline = time.monotonic() + 30
    while True:
        empty, broken = check_panels()
        assert broken == [], broken
        if not empty or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert empty == [], f"panels without data: {empty}"

    # The numbers are the ones this test caused.
    failing = f'flower_events_total{{task="{e2e_tasks.FAIL}"'
    failure_ratio = prometheus.value(
        f'sum(rate({failing}, type="task-failed"}}[1m]))'
        f' / sum(rate({failing}, type=~"task-succeeded|task-failed"}}[1m]))',
    )
    assert failure_ratio == 1.0
    assert prometheus.value("sum(flower_worker_online)") == 1
    # Flower's runtime buckets reach past the email task's 30 s soft limit (FLOWER_TASK_RUNTIME_
    # METRIC_BUCKETS from .env, as make up and compose pass it), so the p95 alert can fire.
    assert prometheus.query('flower_task_runtime_seconds_bucket{le="60.0"}')
    assert prometheus.value('sum(chatplatform_active_users{window="1d"})') == 4
    posted = 'chatplatform_http_request_duration_seconds_count{view="message-list", method="POST"}'
    assert prometheus.value(f'sum({posted[:-1]}, status="201"}})') == (posted_before or 0) + 8
    # Queue health: the one worker serves every queue and beats; beat sends the live snapshot
    # (every 5 s) and no entry is overdue (the others have not come due since beat started);
    # the worker recorded the time in queue of each test task (3 succeed, 2 fail, 2 runs of
    # retry_once per wave, all on the default queue).
    heartbeat = f'chatplatform_worker_heartbeat_age_seconds{{worker="{stack["worker"].hostname}"}}'
    assert prometheus.value(heartbeat) < 30
    assert prometheus.value("min(chatplatform_queue_workers)") == 1
    ran = 'chatplatform_beat_entry_last_run_timestamp_seconds{entry="publish-live-stats"}'
    testing.wait_until(lambda: prometheus.query(ran), 15, ran)
    assert prometheus.value("count(chatplatform_beat_entry_overdue)") == len(
        settings.CELERY_BEAT_SCHEDULE
    )
    assert prometheus.value("max(chatplatform_beat_entry_overdue)") == 0
    waited = 'sum(chatplatform_task_queue_wait_seconds_count{queue="maintenance"}) >= 14'
    testing.wait_until(lambda: prometheus.query(waited), 10, waited)

    # Every alert rule parses; Prometheus loaded them all from alerts.yml and evaluates them.
    rules = [
        rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]
    ]
    broken_rules = []
    for rule in rules:
        try:
            prometheus.query(rule["expr"])
        except testing.PrometheusError as exc:
            broken_rules.append((rule["alert"], str(exc)))
    assert broken_rules == [], broken_rules
    loaded = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
    assert sorted(r["name"] for r in loaded) == sorted(r["alert"] for r in rules)
    assert {r["name"]: r["health"] for r in loaded} == {r["alert"]: "ok" for r in rules}

    # The failing task trips the failure-ratio alert (pending: it must last 5 minutes to fire);
    # the healthy services trip nothing else. The Watchdog always fires (the dead man's switch).
    def alerts_named(keep: Callable[[str], bool]) -> list[dict]:
        return [a for a in prometheus.api("alerts")["alerts"] if keep(a["labels"]["alertname"])]

    def active_alerts() -> list[dict]:
        return alerts_named(lambda name: name != "Watchdog")

    testing.wait_until(active_alerts, 30, "the failure-ratio alert to be pending")
    alerts = {(a["labels"]["alertname"], a["labels"].get("task")) for a in active_alerts()}
    assert ("CeleryTaskFailureRatioHigh", e2e_tasks.FAIL) in alerts
    assert {name for name, _ in alerts} == {"CeleryTaskFailureRatioHigh"}
    watchdog = alerts_named(lambda name: name == "Watchdog")
    assert [a["state"] for a in watchdog] == ["firing"]


def test_flower_refuses_requests_without_credentials(flower: testing.ManagedProcess) -> None:
    url = flower.url
    for path in ("/", "/tasks", "/api/workers", "/api/tasks"):
        assert http(url + path)[0] == 401, path
        assert (
            http(url + path, headers=testing.basic_auth(testing.FLOWER_USER, "wrong"))[0] == 401
        ), path
    assert http(url + "/", headers=testing.basic_auth())[0] == 200
    status, body = http(url + "/api/workers", headers=testing.basic_auth())
    assert status == 200
    # Flower (2.0 to 2.2) serves /metrics (and /healthcheck) without credentials even with basic
    # auth on: why its port must stay on the internal network (docs/monitoring.md). If a Flower
    # upgrade starts protecting it, this fails and prometheus.yml needs basic_auth for the job.
    status, body = http(url + "/metrics")
    assert status == 200
    assert b"flower_worker_online" in body
