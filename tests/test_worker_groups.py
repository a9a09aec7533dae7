"""The one declaration of queues and worker groups (settings) holds together: every task has a
queue, every queue has a group, and nothing but live delivery (events, unsubscribes) reaches a
live process."""

from __future__ import annotations

import itertools

from django.conf import settings

from chatplatform.celery import app
from launchers import workers


def served_by() -> dict[str, list[str]]:
    """queue -> the groups that consume it."""
    groups: dict[str, list[str]] = {}
    for name, spec in settings.WORKER_GROUPS.items():
        for queue in spec["queues"]:
            groups.setdefault(queue, []).append(name)
    return groups


def options(argv: list[str]) -> dict[str, str]:
    """`--name value` pairs of a command line (a flag maps to the option after it: harmless)."""
    return {name: value for name, value in itertools.pairwise(argv) if name.startswith("--")}


def test_every_registered_task_is_routed_to_a_declared_queue() -> None:
    app.loader.import_default_modules()
    apps = ("chats", "metrics", "notebooks", "observability")
    ours = sorted(name for name in app.tasks if name.split(".")[0] in apps)
    assert ours and sorted(settings.CELERY_TASK_ROUTES) == ours
    for route in settings.CELERY_TASK_ROUTES.values():
        assert route["queue"] in settings.QUEUE_WAIT_BUDGETS


def test_every_task_named_in_the_schedule_and_the_routes_is_registered() -> None:
    """Settings name tasks by string, which no import check sees: a task moved to another
    module would leave beat sending a name no worker knows (an "unregistered task" error in
    the worker's log, and the job silently not done) and its route pointing nowhere."""
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled
    assert sorted(scheduled - set(app.tasks)) == []
    assert sorted(set(settings.CELERY_TASK_ROUTES) - set(app.tasks)) == []


def test_each_queue_is_served_by_exactly_one_group_and_live_only_by_live() -> None:
    groups = served_by()
    assert sorted(groups) == sorted(settings.QUEUE_WAIT_BUDGETS)
    assert all(len(names) == 1 for names in groups.values()), groups
    assert settings.WORKER_GROUPS["live"]["queues"] == ["live"]
    assert settings.CELERY_TASK_DEFAULT_QUEUE != "live"
    # Only short live-delivery work reaches a live process, so a message never waits behind a
    # report: publishing a live event, and ending a removed member's subscriptions.
    app.loader.import_default_modules()
    live_tasks = sorted(t for t, r in settings.CELERY_TASK_ROUTES.items() if r["queue"] == "live")
    assert live_tasks == ["chats.tasks.end_subscriptions_task", "chats.tasks.publish_event_task"]
    assert all(app.tasks[t].time_limit <= 20 for t in live_tasks)
    # Bulk work yields the CPU to live work (and to the web process, which is not niced).
    assert workers.settings_nice("live") == 0
    assert all(workers.settings_nice(g) > 0 for g in settings.WORKER_GROUPS if g != "live")


def test_a_group_becomes_one_worker_command_line() -> None:
    argv = workers.worker_argv("email", hostname="email@test")
    assert argv[:3] == ["-A", "chatplatform", "worker"]
    option = options(argv)
    assert option["--queues"] == "email"
    assert option["--concurrency"] == str(settings.WORKER_GROUPS["email"]["concurrency"])
    assert option["--prefetch-multiplier"] == "1"
    assert option["--hostname"] == "email@test"
    assert "-E" in argv  # task events for Flower, and the heartbeat signal our heartbeats ride on
    every = options(workers.worker_argv(None))
    assert every["--queues"].split(",") == list(settings.QUEUE_WAIT_BUDGETS)
    ports = [workers.metrics_port(group) for group in settings.WORKER_GROUPS]
    assert len(set(ports)) == len(ports)
