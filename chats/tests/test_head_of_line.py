"""Live stays live under load: a chat message arrives within seconds while hundreds of admin
emails drain through an SMTP server that takes 200 ms a message, as a remote provider does.

Before queues by kind, every task shared one queue and one pool of 2 processes: the same message
waited behind 900 emails for 91 s. Here the worker groups run as make up runs them (`live` and
`email`, from settings.WORKER_GROUPS), with real Redis, SMTP, Centrifugo and a WebSocket client.
Its own module: its workers must not take another test's tasks.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model

import testing
from accounts import profiles
from accounts.models import AddPolicy
from chatplatform.celery import app as celery_app
from chats import services
from chats.models import Membership, Notification, Role
from integrations import centrifugo

from .support import LiveClient, post, tokens, wait_events

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
User = get_user_model()
ADMINS = 500
SMTP_DELAY = 0.2


@pytest.fixture
def slow_smtp() -> Iterator[testing.ManagedProcess]:
    server = testing.SmtpProcess(delay=SMTP_DELAY).start()
    yield server
    server.stop()


@pytest.fixture
def worker_groups(worker_env, slow_smtp, centrifugo_service) -> Iterator[None]:
    """The `live` and `email` groups, each with its declared processes and prefetch."""
    celery_app.control.purge()
    env = worker_env(**slow_smtp.django_env, **centrifugo_service.django_env)
    workers = [
        testing.WorkerProcess(env, group=group, name=f"{group}-group")
        for group in ("live", "email")
    ]
    try:
        for worker in workers:
            worker.start()
        yield
    finally:
        for worker in workers:
            worker.stop()


def big_chat_with_admins(count: int):
    """A chat with `count` admins, each with an address of their own, and one plain member.

    Created with the ORM: adding admins one by one through the service would email every earlier
    admin each time."""
    owner = User.objects.create_user("hol-owner", "hol-owner@example.com", "pw-123456789")
    chat = services.create_chat(title="Busy", creator_id=owner.pk)
    admins = User.objects.bulk_create(
        User(username=f"hol-admin{n}", email=f"hol-admin{n}@example.com", password="!")
        for n in range(count)
    )
    Membership.objects.bulk_create(
        Membership(chat=chat, user=admin, role=Role.ADMIN) for admin in admins
    )
    profiles.confirm_all(admins)  # admin emails go only to confirmed addresses
    member = User.objects.create_user("hol-member", "hol-member@example.com", "pw-123456789")
    Membership.objects.create(chat=chat, user=member, role=Role.MEMBER)
    return chat, owner, member


@pytest.mark.usefixtures("worker_groups")
def test_a_chat_message_arrives_in_seconds_while_hundreds_of_emails_drain(
    centrifugo_service, slow_smtp, client_for, settings
):
    chat, owner, member = big_chat_with_admins(ADMINS)
    channel = centrifugo.chat_channel(chat.pk)
    connection_token, subscription_token = tokens(client_for(member), channel)
    live = LiveClient(centrifugo_service.ws_url, connection_token).connect()
    try:
        log = live.subscribe(channel, subscription_token)

        # One join emails every admin: ADMINS emails, 200 ms each, queued on `email`.
        newcomer = User.objects.create_user("hol-new", "hol-new@example.com", "pw-123456789")
        profiles.confirm_all([newcomer], who_can_add=AddPolicy.EVERYONE)  # added directly: 201
        response = client_for(owner).post(
            f"/api/chats/{chat.pk}/members/", {"user_id": newcomer.pk}, format="json"
        )
        assert response.status_code == 201, response.content
        expected = ADMINS  # every admin; the owner made the change
        assert Notification.objects.filter(chat_id=chat.pk).count() == expected
        testing.wait_until(lambda: slow_smtp.inbox.count() > 0, 30, "the first email")

        # The short path: the web process publishes after commit.
        started = time.monotonic()
        first = post(client_for(owner), chat.pk, "still live?")
        wait_events(log, first, timeout=5)
        after_commit = time.monotonic() - started

        # The fallback path, through the `live` queue's own workers.
        settings.CENTRIFUGO_PUBLISH_AFTER_COMMIT = False
        started = time.monotonic()
        second = post(client_for(owner), chat.pk, "and through the live queue?")
        wait_events(log, second, timeout=5)
        through_queue = time.monotonic() - started

        # Both arrived while most of the emails were still waiting: the backlog was real.
        assert slow_smtp.inbox.count() < expected / 2, (after_commit, through_queue)

        # Every email still arrives, once.
        testing.wait_until(
            lambda: slow_smtp.inbox.count() >= expected, 180, f"{expected} emails", 0.5
        )
        time.sleep(1)
        ids = Counter(message.message_id for message in slow_smtp.inbox.messages())
        assert len(ids) == expected
        assert max(ids.values()) == 1
        assert len({m.to for m in slow_smtp.inbox.messages()}) == expected
    finally:
        live.close()
