"""Centrifugo has a bad minute: the message is still saved (201), the event waits in the outbox,
and once Centrifugo is back the sweeper gets it published exactly once.

Its own module, so that no other worker (publishing to another Centrifugo) takes its tasks.
"""

from __future__ import annotations

import time

import pytest

import testing
from chats.models import Publication
from chats.tasks import publish_event_task, requeue_stale_outbox_task
from core.outbox import OutboxStatus
from integrations import centrifugo

from .support import LiveClient, message_events, post, tokens, wait_events

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_message_is_saved_while_centrifugo_is_down_and_published_once_after_restart(
    redis_service, django_db_setup, team, client_for, settings
):
    """A Centrifugo of its own (Redis engine: history survives its restart) that the test stops."""
    hub = testing.CentrifugoProcess(
        extra_env={
            "CENTRIFUGO_ENGINE_TYPE": "redis",
            "CENTRIFUGO_ENGINE_REDIS_ADDRESS": redis_service.url.rsplit("/", 1)[0] + "/1",
        }
    ).start()
    try:
        for name, value in {
            "CENTRIFUGO_API_URL": hub.api_url,
            "CENTRIFUGO_HTTP_API_KEY": hub.api_key,
            "CENTRIFUGO_TOKEN_HMAC_SECRET_KEY": hub.token_secret,
        }.items():
            setattr(settings, name, value)
        env = testing.django_env(
            REDIS_URL=redis_service.url,
            CELERY_BROKER_URL=redis_service.url,
            CENTRIFUGO_API_URL=hub.api_url,
            CENTRIFUGO_HTTP_API_KEY=hub.api_key,
            CENTRIFUGO_TIMEOUT=1,
            OUTBOX_STALE_SECONDS=1,
        )
        channel = centrifugo.chat_channel(team.chat.pk)
        connection_token, subscription_token = tokens(client_for(team.member), channel)
        live = LiveClient(hub.ws_url, connection_token).connect()
        try:
            log = live.subscribe(channel, subscription_token)
            with testing.WorkerProcess(env, concurrency=1, name="realtime-down-worker"):
                hub.stop()
                message_id = post(client_for(team.admin), team.chat.pk, "sent into the void")
                publication = Publication.objects.get(data__message__id=message_id)
                testing.wait_until(
                    lambda: Publication.objects.filter(
                        pk=publication.pk, status=OutboxStatus.PENDING, attempts__gte=1
                    ).exists(),
                    15,
                    "the worker to fail against the stopped Centrifugo and keep the event",
                )
                assert "Cent" in Publication.objects.get(pk=publication.pk).last_error

                hub.start()
                # What beat runs every OUTBOX_SWEEP_SECONDS, queued to the real worker.
                requeue_stale_outbox_task.delay()
                [event] = wait_events(log, message_id, timeout=30)
                assert event["message"]["text"] == "sent into the void"
                testing.wait_until(
                    lambda: Publication.objects.get(pk=publication.pk).status == OutboxStatus.SENT,
                    10,
                    "the publication to be marked sent",
                )
                # A duplicate delivery (a retry racing the sweeper) reuses the idempotency key.
                Publication.objects.filter(pk=publication.pk).update(status=OutboxStatus.PENDING)
                publish_event_task.delay(publication.pk)
                testing.wait_until(
                    lambda: Publication.objects.get(pk=publication.pk).status == OutboxStatus.SENT,
                    10,
                    "the duplicate delivery to finish",
                )
                time.sleep(1)
                assert len(message_events(log, message_id)) == 1
        finally:
            live.close()
    finally:
        hub.stop()
