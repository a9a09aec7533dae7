"""A live event that Centrifugo keeps refusing ends `failed`, with its error, after
PUBLICATION_MAX_ATTEMPTS attempts (it used to stay pending and be re-queued for ever), and is
counted where failed emails are: /api/stats/ and /metrics (hence here, in metrics' tests).

Its own module, so that no other worker (with the right API key) takes its tasks.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

import testing
from chats.live import delivery as live_delivery
from chats.models import Publication
from chats.tasks import requeue_stale_outbox_task
from core.delivery import DeliveryGaveUp, TransientDeliveryError
from core.outbox import OutboxStatus
from metrics import snapshot

from .support import scrape, value

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ATTEMPTS = 3


def test_a_live_event_centrifugo_refuses_ends_failed_and_is_counted(
    centrifugo_service, worker_env, team, client_for, settings
):
    """A worker whose API key Centrifugo refuses (so does this web process: the short path fails
    too and hands the rows to the worker)."""
    settings.CENTRIFUGO_HTTP_API_KEY = "not-the-api-key"
    env = worker_env(
        **{**centrifugo_service.django_env, "CENTRIFUGO_HTTP_API_KEY": "not-the-api-key"},
        CENTRIFUGO_TIMEOUT=1,
        PUBLICATION_MAX_ATTEMPTS=ATTEMPTS,
    )
    with testing.WorkerProcess(env, concurrency=1, name="refused-live-worker"):
        response = client_for(team.admin).post(
            f"/api/chats/{team.chat.pk}/messages/", {"text": "refused"}, format="json"
        )
        assert response.status_code == 201  # saved, whatever Centrifugo says
        message_id = response.json()["id"]
        rows = Publication.objects.filter(created_at__gte=team.chat.created_at)
        testing.wait_until(
            lambda: rows.filter(status=OutboxStatus.FAILED).count() == 2,
            45,
            "the event and its activity tick to end failed",
        )
    event = rows.get(data__message__id=message_id)
    assert event.attempts == ATTEMPTS
    assert event.last_error.startswith("CentUnauthorizedError"), event.last_error

    requeue_stale_outbox_task.apply()  # the sweeper leaves a failed row alone
    assert rows.get(pk=event.pk).status == OutboxStatus.FAILED

    snapshot.refresh_snapshot()
    staff = Client()
    staff.force_login(get_user_model().objects.create(username="operator", is_staff=True))
    stats = staff.get("/api/stats/").json()
    assert stats["publications"]["failed"] == stats["publications_failed"] == 2  # the live page's
    failed = scrape(staff)["chatplatform_publications_done"]
    assert value(failed, "_total", status="failed") == 2


def test_a_channel_centrifugo_rejects_fails_after_the_bounded_attempts(
    centrifugo_service, settings
):
    settings.PUBLICATION_MAX_ATTEMPTS = ATTEMPTS
    row = Publication.objects.create(channel="no-such-namespace:1", data={"type": "x"})
    for _ in range(ATTEMPTS - 1):
        with pytest.raises(TransientDeliveryError):
            live_delivery.PUBLICATIONS.deliver(row.pk)
        assert Publication.objects.get(pk=row.pk).status == OutboxStatus.PENDING
    with pytest.raises(DeliveryGaveUp):
        live_delivery.PUBLICATIONS.deliver(row.pk)
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, ATTEMPTS)
    assert "unknown channel" in row.last_error, row.last_error
    assert live_delivery.PUBLICATIONS.deliver(row.pk) == "skipped"  # never tried again
