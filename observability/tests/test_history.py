"""The demo's history reaches Prometheus: scripts/run-prometheus.sh, started on an empty data
folder, imports `manage.py prometheus_history` with promtool, and a real Prometheus answers
range queries over the past weeks of the Chat activity dashboard's series, ending at the values
the live app computes from the same rows."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

import testing
from chats import demo
from chats.models import Message
from metrics import selectors
from testing.processes import answers

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def prometheus_on_demo(tmp_path: Path):
    """run-prometheus.sh (the `make up` process) on a private VAR_DIR and free ports, after
    seed_demo: its first start imports the history."""
    demo.seed(timezone.now(), "demo-password")
    port = testing.free_port()
    env = testing.django_env(
        VAR_DIR=str(tmp_path),
        PROMETHEUS_PORT=port,
        WEB_PORT=testing.free_port(),
        FLOWER_PORT=testing.free_port(),
        CENTRIFUGO_INTERNAL_PORT=testing.free_port(),
        ALERTMANAGER_PORT=testing.free_port(),
        METRICS_BEARER_TOKEN="",
    )
    env.pop("TEST_DATABASE_NAME", None)
    process = testing.ManagedProcess(
        "run-prometheus",
        ["bash", "scripts/run-prometheus.sh"],
        env=env,
        port=port,
        cwd=REPO,
        ready=lambda: answers(f"http://127.0.0.1:{port}/-/ready"),
        ready_timeout=180,
    )
    try:  # stopped even when it never got ready
        yield process.start(), env
    finally:
        process.stop()


def api(port: int, path: str, **params: object) -> list:
    """The `data.result` of Prometheus' GET /api/v1/<path>."""
    return testing.prometheus_api(f"http://127.0.0.1:{port}", path, timeout=30, **params)["result"]


def query_range(port: int, promql: str, start: float, end: float, step: int) -> list:
    return api(port, "query_range", query=promql, start=start, end=end, step=step)


def test_prometheus_starts_with_weeks_of_chat_activity(prometheus_on_demo) -> None:
    process, env = prometheus_on_demo
    assert "imported the chat-activity history" in process.log_tail()
    now = time.time()
    web = f"127.0.0.1:{env['WEB_PORT']}"
    start = now - 20 * 86400
    series = query_range(
        process.port, f'chatplatform_messages_total{{job="web",instance="{web}"}}', start, now, 3600
    )
    assert len(series) == 1
    points = [(float(t), float(v)) for t, v in series[0]["values"]]
    assert len(points) > 400  # about one per hour over 20 days
    values = [v for _, v in points]
    assert values == sorted(values) and values[0] < values[-1]
    # The history ends at what the live app reports from the same rows (nothing scrapes the
    # web app here, so the newest sample is the imported one).
    latest = api(process.port, "query", query="chatplatform_messages_total")
    assert float(latest[0]["value"][1]) == selectors.messages_total(timezone.now())
    hourly = query_range(process.port, "chatplatform_messages_last_hour", start, now, 3600)
    assert len({float(v) for _, v in hourly[0]["values"]}) > 10  # a rhythm, not a flat line
    windows = query_range(process.port, "chatplatform_active_users", now - 86400, now, 3600)
    assert {s["metric"]["window"] for s in windows} == {"1d", "7d", "30d"}
    ranks = query_range(process.port, "chatplatform_top_chat_messages_last_day", start, now, 3600)
    assert {s["metric"]["rank"] for s in ranks} >= {"1", "2", "3"}
    assert Message.objects.filter(created_at__lt=timezone.now() - timedelta(days=20)).exists()
    assert os.path.isdir(Path(env["VAR_DIR"]) / "prometheus" / "data")
