"""What the monitoring end-to-end tests share: their Prometheus (make up's config, pointed at their
processes), what they do to the stack (users' activity through the API, waves of tasks) and the
numbers they read back from Prometheus."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from celery import chain
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

import testing
from accounts import profiles
from accounts.models import AddPolicy
from chatplatform.celery import app as celery_app
from monitoring.tests import e2e_tasks
from observability import celery_watch
from testing.prometheus import local_config

User = get_user_model()


def local_prometheus(
    settings: Any,
    tmp_path: Path,
    web_url: str,
    targets: dict[str, str | list[dict]],
    rule_files: list[Path] | None = None,
    extra_args: list[str] | None = None,
) -> testing.PrometheusProcess:
    """A Prometheus (not started) on a free port with `local_config`: the web job at `web_url`
    (the live_server), its own job at itself, the other `targets` as given. `rule_files` replace
    the real rules (e.g. a copy with shorter `for`)."""
    port = testing.free_port()
    web = f"127.0.0.1:{urllib.parse.urlsplit(web_url).port}"
    config = local_config(
        settings, tmp_path, {"web": web, "prometheus": f"127.0.0.1:{port}", **targets}
    )
    if rule_files is not None:
        config["rule_files"] = [str(path) for path in rule_files]
    return testing.PrometheusProcess(yaml.safe_dump(config), port=port, extra_args=extra_args)


def http(url: str, data: dict | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    """Status and body of a request to the app or Flower; an error status is an answer too."""
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=headers or {})  # noqa: S310
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_value(
    prometheus: testing.ManagedProcess, expr: str, expected: float, timeout: float = 60
) -> None:
    testing.wait_until(
        lambda: prometheus.value(expr) == expected,
        timeout,
        f"{expr} == {expected} in Prometheus",
    )


def wait_snapshot_value(
    prometheus: testing.ManagedProcess, expr: str, expected: float, timeout: float = 90
) -> None:
    """Wait for an app number, asking the worker for a fresh snapshot now and then (as beat
    would every few seconds) since emails and counts land after the last refresh."""

    def refreshed() -> bool:
        celery_app.send_task("metrics.tasks.publish_live_stats_task")
        try:
            wait_value(prometheus, expr, expected, timeout=5)
        except TimeoutError:
            return False
        return True

    testing.wait_until(refreshed, timeout, f"{expr} == {expected} after a snapshot refresh")


def api(base: str, token: str, path: str, data: dict | None = None) -> dict:
    status, body = http(f"{base}/api/{path}", data, {"Authorization": f"Token {token}"})
    assert status in (200, 201), (path, status, body[:500])
    return json.loads(body) if body else {}


def chat_activity(base: str, wave: int) -> None:
    """What users do through the API: a chat, a new member (emails the other admin), messages."""
    users = {
        role: User.objects.create_user(f"{role}{wave}", f"{role}{wave}@example.com", "pw-123456")
        for role in ("owner", "admin", "member")
    }
    # Confirmed (the owner's email needs it) and added directly (201, not an invitation).
    profiles.confirm_all(users.values(), who_can_add=AddPolicy.EVERYONE)
    tokens = {role: Token.objects.create(user=user).key for role, user in users.items()}
    chat = api(base, tokens["owner"], "chats/", {"title": f"Wave {wave}"})
    members = f"chats/{chat['id']}/members/"
    api(base, tokens["owner"], members, {"user_id": users["admin"].pk, "role": "admin"})
    api(base, tokens["admin"], members, {"user_id": users["member"].pk})  # emails the owner
    for n in range(3):
        api(base, tokens["member"], f"chats/{chat['id']}/messages/", {"text": f"hello {n}"})
    api(base, tokens["admin"], f"chats/{chat['id']}/messages/", {"text": "welcome"})
    api(base, tokens["owner"], f"chats/{chat['id']}/messages/")


def run_tasks(succeed: int = 3, fail: int = 2) -> None:
    """Test tasks that succeed and fail (a mix a caller can change per wave, so failure ratios
    move), one that retries once, and the beat jobs."""
    for n in range(succeed):
        e2e_tasks.succeed.delay(n)
    for n in range(fail):
        e2e_tasks.fail.delay(n)
    e2e_tasks.retry_once.delay(1)
    # The beat jobs, in order: counts, the report, the retention, the snapshot /metrics serves,
    # then the storage measurement (rows, the report folder, the retentions' oldest rows).
    chain(
        celery_app.signature("metrics.tasks.fill_stats_task", immutable=True),
        celery_app.signature("metrics.tasks.make_report_task", immutable=True),
        celery_app.signature("metrics.tasks.prune_task", immutable=True),
        celery_app.signature("metrics.tasks.publish_live_stats_task", immutable=True),
        celery_app.signature("observability.tasks.measure_storage_task", immutable=True),
    ).delay()


def flower_count(task: str, event: str) -> str:
    return f'sum(flower_events_total{{task="{task}", type="{event}"}})'


def forget_earlier_tests() -> None:
    """Empty the queues and the broker's worker and beat records. Earlier tests of the session
    share this Redis: a worker they SIGKILLed left a heartbeat that would trip
    CeleryWorkerHeartbeatStale here, and their beat left its own runs."""
    celery_app.control.purge()
    celery_watch.broker().delete(
        celery_watch.HEARTBEATS_KEY, celery_watch.BEAT_RUNS_KEY, celery_watch.BEAT_STARTED_KEY
    )
