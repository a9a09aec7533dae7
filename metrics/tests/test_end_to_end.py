"""End to end with real processes: Prometheus scraping /metrics of a live Django server, and a
real celery beat firing the metrics jobs on a real worker within a short test schedule."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

import testing
from chatplatform.celery import app as celery_app
from chats.models import Chat, Message
from metrics import snapshot
from metrics.models import JobRun
from metrics.reports.folders import latest_report, load_table

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
User = get_user_model()


def make_activity(users: int, messages: int) -> None:
    """`users` users; one chat; `messages` messages from the first user 30 minutes ago."""
    people = [User.objects.create(username=f"e2e{i}") for i in range(users)]
    chat = Chat.objects.create(title="E2E", created_by=people[0])
    when = timezone.now() - timedelta(minutes=30)
    Message.objects.bulk_create(
        [Message(chat=chat, author=people[0], text="x", created_at=when) for _ in range(messages)]
    )


PROMETHEUS_CONFIG = """
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: chatplatform
    metrics_path: /metrics
    authorization:
      credentials: {token}
    static_configs:
      - targets: ["{target}"]
"""


def test_prometheus_scrapes_metrics_and_promql_answers(
    redis_service, live_server, settings
) -> None:
    settings.METRICS_BEARER_TOKEN = "e2e-metrics-token"  # sent, as in production
    snapshot.redis_client().flushdb()
    make_activity(users=3, messages=4)
    snapshot.refresh_snapshot()
    target = live_server.url.removeprefix("http://")
    config = PROMETHEUS_CONFIG.format(target=target, token=settings.METRICS_BEARER_TOKEN)
    with testing.PrometheusProcess(config) as prometheus:
        result = prometheus.query
        up = testing.wait_until(lambda: result('up{job="chatplatform"} == 1'), 30, "a scrape")
        assert up[0]["metric"]["instance"] == target
        users = testing.wait_until(lambda: result("chatplatform_users"), 30, "chatplatform_users")
        assert users[0]["value"][1] == "3"
        assert result('chatplatform_active_users{window="1d"}')[0]["value"][1] == "1"
        assert result("chatplatform_messages_total")[0]["value"][1] == "4"
        # The filter makes the answer empty until two scrapes are in the latency histogram.
        testing.wait_until(
            lambda: result(
                'sum(chatplatform_http_request_duration_seconds_count{view="metrics"}) >= 2'
            ),
            30,
            "the scrapes in the latency histogram",
        )


def test_beat_fires_the_metrics_jobs_on_a_worker(worker_env, tmp_path: Path) -> None:
    celery_app.control.purge()
    snapshot.redis_client().flushdb()
    make_activity(users=2, messages=3)
    env = worker_env(
        STATS_FILL_SECONDS=1,
        REPORT_SECONDS=2,
        LIVE_STATS_SECONDS=1,
        OUTBOX_SWEEP_SECONDS=3600,
        NOTEBOOKS_SECONDS=86400,
        REPORTS_DIR=str(tmp_path / "reports"),
        CENTRIFUGO_API_URL="http://127.0.0.1:9/api",  # nothing there: publishing only logs
        CENTRIFUGO_TIMEOUT=0.5,
    )
    worker = testing.WorkerProcess(env, concurrency=1, name="metrics-worker")
    with worker, testing.celery_beat_process(env, tmp_path) as beat:

        def fill_done() -> bool:
            return JobRun.objects.filter(job="fill_stats", successes__gte=1).exists()

        try:
            testing.wait_until(fill_done, 60, "beat's fill_stats to succeed")
            report = testing.wait_until(
                lambda: latest_report(tmp_path / "reports"), 60, "beat's report"
            )
            live = testing.wait_until(snapshot.load_snapshot, 30, "beat's live snapshot")
        except TimeoutError:
            print(beat.log_tail(), worker.log_tail(), sep="\n---\n")
            raise
    assert live["users"] == 2 and live["messages_last_hour"] == 3
    chats = load_table(report, "chats")
    assert chats["title"].tolist() == ["E2E"]
    assert JobRun.objects.get(job="make_report").last_duration_seconds > 0


def test_a_failed_task_on_a_worker_is_counted(worker_env) -> None:
    celery_app.control.purge()
    snapshot.redis_client().flushdb()
    with testing.WorkerProcess(worker_env(), concurrency=1, name="failing-worker"):
        celery_app.send_task("metrics.tasks.fill_stats_task", args=["unexpected"])
        testing.wait_until(lambda: snapshot.tasks_failed_last_hour() == 1, 30, "the count")
