"""Queue health as /metrics and a worker's metrics endpoint show it, with a real Redis broker and
a real worker: depth and the oldest task's age straight from the broker, reserved tasks counted,
time in queue measured from the send time with an ETA left out."""

from __future__ import annotations

import time
import urllib.request

import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

import testing
from chatplatform.celery import app as celery_app
from chats.tasks import publish_event_task
from observability import queues

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
NO_SUCH_PUBLICATION = 0  # the task claims nothing and returns at once: no side effect


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of a Prometheus text exposition."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(client) -> dict[tuple[str, tuple], float]:
    # The configured token (.env's, or none): what Prometheus sends.
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {settings.METRICS_BEARER_TOKEN}")
    assert response.status_code == 200
    return samples(response.content.decode())


def live(name: str, **labels: str) -> tuple[str, tuple]:
    return name, tuple(sorted({"queue": "live", **labels}.items()))


@pytest.fixture
def empty_broker(redis_service) -> None:
    celery_app.control.purge()
    queues.celery_watch.broker().delete(queues.UNACKED_KEY, "unacked_index")


@pytest.mark.usefixtures("empty_broker")
def test_depth_and_oldest_age_come_from_the_broker(client) -> None:
    """No worker: three tasks sent at known times wait, and the oldest one's age grows."""
    first_sent = time.time()
    for _ in range(3):
        publish_event_task.delay(NO_SUCH_PUBLICATION)
        time.sleep(0.2)
    before_scrape = time.time()
    metrics = scrape(client)
    after_scrape = time.time()
    assert metrics[live("chatplatform_queue_tasks", state="ready")] == 3
    assert metrics[live("chatplatform_queue_tasks", state="reserved")] == 0
    # The first task's age at the moment of the scrape (its stamp is a little after first_sent).
    age = metrics[live("chatplatform_queue_oldest_task_age_seconds")]
    assert before_scrape - first_sent - 0.1 <= age <= after_scrape - first_sent
    assert metrics[live("chatplatform_queue_wait_budget_seconds")] == 5
    assert metrics[("chatplatform_queue_tasks", (("queue", "email"), ("state", "ready")))] == 0

    time.sleep(1.5)
    later = scrape(client)[live("chatplatform_queue_oldest_task_age_seconds")]
    assert later >= age + 1.4


@pytest.mark.usefixtures("empty_broker")
def test_reserved_tasks_count_and_an_eta_is_not_time_in_queue(client, worker_env, settings):
    settings.WORKER_HEARTBEAT_STALE_SECONDS = 3  # the worker must keep beating to stay counted
    port = testing.free_port()
    worker = testing.WorkerProcess(
        worker_env(), group="live", concurrency=1, name="queue-worker", metrics_port=port
    )
    with worker:
        started = time.monotonic()
        # Two tasks the worker takes now and holds until their ETA: reserved, not ready.
        for _ in range(2):
            publish_event_task.apply_async((NO_SUCH_PUBLICATION,), countdown=120)

        def reserved() -> float:
            return scrape(client)[live("chatplatform_queue_tasks", state="reserved")]

        testing.wait_until(lambda: reserved() == 2, 15, "the worker to reserve both tasks")
        metrics = scrape(client)
        assert metrics[live("chatplatform_queue_tasks", state="ready")] == 0
        assert metrics[live("chatplatform_queue_workers")] == 1
        heartbeat = [
            value
            for (name, labels), value in metrics.items()
            if name == "chatplatform_worker_heartbeat_age_seconds"
            and ("worker", worker.hostname) in labels
        ]
        assert heartbeat and heartbeat[0] < 5

        # A task with a 2 s countdown waits 2 s before it is due; its time in queue leaves it out.
        def histogram() -> dict:
            with urllib.request.urlopen(worker.metrics_url, timeout=5) as response:  # noqa: S310
                return samples(response.read().decode())

        count = live("chatplatform_task_queue_wait_seconds_count")
        total = live("chatplatform_task_queue_wait_seconds_sum")
        before = histogram()
        publish_event_task.apply_async((NO_SUCH_PUBLICATION,), countdown=2)
        after = testing.wait_until(
            lambda: (h := histogram()).get(count, 0) > before.get(count, 0) and h, 20, "the run"
        )
        assert after[count] == before.get(count, 0) + 1
        assert after[total] - before.get(total, 0) < 1.0  # not the 2 s countdown
        # Seconds after its start, past the stale threshold, the worker still counts: it beats.
        testing.wait_until(lambda: time.monotonic() - started > 5, 10, "5 s of worker life")
        assert scrape(client)[live("chatplatform_queue_workers")] == 1
