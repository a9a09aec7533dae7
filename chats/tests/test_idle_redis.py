"""Long idle connections to Redis, past every socket timeout they have.

redis-py 8 gives every socket a 5 s read timeout by default (and the broker's transport options
set one too), while a worker and Flower spend most of their life waiting on Redis: the worker on
its task queues and on the pub/sub channel of remote control, Flower on the pub/sub channel of
task events. After idling longer than that, each must still get the next task and the next
pub/sub message, on the connection it has (no "connection lost" and reconnect in its log).
"""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from redis._defaults import DEFAULT_SOCKET_TIMEOUT

import testing
from chatplatform.celery import app as celery_app
from chats import services
from chats.emails import delivery as email_delivery
from chats.models import Notification, Role

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# What a worker or Flower logs when a broker connection breaks under it.
RECONNECT_SIGNS = ("Connection to broker lost", "Trying again in", "Failed to capture events")


def idle_seconds() -> float:
    """Longer than any read timeout of a broker connection: redis-py's default and ours."""
    ours = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("socket_timeout") or 0
    return max(DEFAULT_SOCKET_TIMEOUT, ours) + 2


def test_worker_and_flower_idle_past_the_socket_timeout_still_get_work(
    smtp, worker_env, make_user, client_for
) -> None:
    celery_app.control.purge()
    env = worker_env(**smtp.django_env)
    owner, admin, newcomer = make_user(), make_user(), make_user()
    chat = services.create_chat(title="Quiet for a while", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)

    with testing.FlowerProcess(env) as flower:
        # Flower has subscribed to task events; no worker exists yet, so none are published.
        time.sleep(idle_seconds())
        with testing.WorkerProcess(env, group="email", name="idle") as worker:
            # The worker waits on its queue and on the remote-control channel; nothing comes.
            time.sleep(idle_seconds())

            # The next pub/sub message to the worker: a broadcast it answers.
            assert celery_app.control.ping(destination=[worker.hostname], timeout=5)

            # The next task: the email to the admin about a join, in the inbox.
            response = client_for(owner).post(
                f"/api/chats/{chat.pk}/members/", {"user_id": newcomer.pk}, format="json"
            )
            assert response.status_code == 201, response.content
            note = Notification.objects.get(chat_id=chat.pk, recipient_id=admin.pk)
            wanted = email_delivery.message_id(note.pk)
            testing.wait_until(
                lambda: any(m.message_id == wanted for m in smtp.inbox.messages()),
                30,
                "the join email in the inbox",
            )

            # The next pub/sub messages to Flower: that task's events, so Flower saw it succeed.
            def flower_saw_success() -> bool:
                tasks = flower.api("/api/tasks?state=SUCCESS")
                return any(
                    t["name"].endswith("send_admin_notification_task") for t in tasks.values()
                )

            testing.wait_until(flower_saw_success, 15, "Flower to see the email task succeed")

            for proc in (worker, flower):
                log = proc.log_path.read_text(errors="replace")
                assert not [sign for sign in RECONNECT_SIGNS if sign in log], proc.log_tail()
