"""The snapshot in a real Redis, GET /api/stats/, GET /metrics, the failed-task counter."""

from __future__ import annotations

import pytest
from celery.signals import task_failure
from cent import HistoryRequest
from django.contrib.auth import get_user_model
from django.core import mail
from rest_framework.authtoken.models import Token

import testing
from accounts import profiles
from chats import services
from chats.emails.delivery import EMAILS
from chats.models import Notification, Role
from integrations import centrifugo
from metrics import contract, jobs, snapshot

from .support import SNAPSHOT_AT as NOW
from .support import Activity, scrape, value

User = get_user_model()
CONTRACT_KEYS = set(contract.DECLARED.fields)


def test_snapshot_numbers(stored: dict, activity: Activity) -> None:
    assert set(stored) == CONTRACT_KEYS
    assert stored["online_users"] in (None, 0)  # None without Centrifugo, 0 with nobody online
    structured = {
        "messages_per_minute",
        "top_chats",
        "online_users",
        "publications",
        "jobs",
        "retention_deleted",
    }
    assert {key: stored[key] for key in CONTRACT_KEYS - structured} == {
        "users": 3,
        "chats": 2,
        "messages_total": 7,
        "messages_last_hour": 3,
        "active_users_1d": 2,
        "active_users_7d": 3,
        "active_users_30d": 3,
        "new_users_last_day": 1,
        "notifications_pending": 0,
        "notifications_sent": 0,
        "notifications_failed": 0,
        "notifications_held": 0,
        "notifications_folded": 0,
        "notifications_cancelled": 0,
        "publications_pending": 0,
        "publications_failed": 0,
        "tasks_failed_last_hour": 1,
        "generated_at": NOW.isoformat(),
    }
    assert stored["publications"] == {"pending": 0, "sending": 0, "sent": 0, "failed": 0}
    assert stored["retention_deleted"] == dict.fromkeys(
        ["notifications", "publications", "refused_attempts", "reports"], 0
    )
    assert stored["jobs"] == {}
    assert stored["top_chats"] == [
        {"chat_id": activity.chat_a.pk, "title": "Alpha", "messages": 2},
        {"chat_id": activity.chat_b.pk, "title": "Beta", "messages": 2},
    ]
    minutes = stored["messages_per_minute"]
    assert len(minutes) == 60
    assert (minutes[0]["minute"], minutes[-1]["minute"]) == (
        "2025-03-04T01:56Z",
        "2025-03-04T02:55Z",
    )
    busy = {row["minute"]: row["messages"] for row in minutes if row["messages"]}
    assert busy == {"2025-03-04T02:10Z": 1, "2025-03-04T02:20Z": 1, "2025-03-04T02:50Z": 1}
    assert snapshot.load_snapshot() == stored


def test_a_celery_task_failure_is_counted(redis_service) -> None:
    snapshot.redis_client().flushdb()
    task_failure.send(sender=None, task_id="x", exception=RuntimeError("boom"))
    task_failure.send(sender=None, task_id="y", exception=RuntimeError("boom"))
    assert snapshot.tasks_failed_last_hour() == 2


def test_api_stats_is_for_staff_and_returns_the_snapshot(stored: dict, client) -> None:
    """Like the live page and its channel: platform totals and the busiest chats' titles."""
    assert client.get("/api/stats/").status_code in (401, 403)
    client.force_login(User.objects.create(username="reader"))  # logged in, not staff
    refused = client.get("/api/stats/")
    assert refused.status_code == 403
    assert "top_chats" not in refused.json()
    client.force_login(User.objects.create(username="operator", is_staff=True))
    response = client.get("/api/stats/")
    assert response.status_code == 200
    assert response.json() == stored


def test_api_stats_refuses_a_plain_users_token_and_serves_a_staff_token(
    stored: dict, client
) -> None:
    plain = Token.objects.create(user=User.objects.create(username="reader"))
    staff = Token.objects.create(user=User.objects.create(username="operator", is_staff=True))
    assert client.get("/api/stats/", HTTP_AUTHORIZATION=f"Token {plain.key}").status_code == 403
    response = client.get("/api/stats/", HTTP_AUTHORIZATION=f"Token {staff.key}")
    assert response.status_code == 200
    assert response.json() == stored


def test_metrics_serves_the_snapshot_and_request_latency(stored: dict, client) -> None:
    client.force_login(User.objects.create(username="reader", is_staff=True))
    client.get("/api/stats/")
    jobs.run_fill()  # JobRun: a success time and a duration for fill_stats
    snapshot.refresh_snapshot(now=NOW)
    metrics = scrape(client)
    assert value(metrics["chatplatform_users"]) == 4
    assert value(metrics["chatplatform_messages"], "_total") == 7
    assert value(metrics["chatplatform_messages_last_hour"]) == 3
    assert value(metrics["chatplatform_active_users"], window="7d") == 3
    assert value(metrics["chatplatform_top_chat_messages_last_day"], rank="2") == 2
    assert value(metrics["chatplatform_notifications_done"], "_total", status="failed") == 0
    assert value(metrics["chatplatform_tasks_failed_last_hour"]) == 1
    assert value(
        metrics["chatplatform_stats_job_last_success_timestamp_seconds"], stats_job="fill_stats"
    )
    assert value(metrics["chatplatform_stats_job_duration_seconds"], stats_job="fill_stats") >= 0
    assert value(metrics["chatplatform_snapshot_age_seconds"]) > 0
    latency = metrics["chatplatform_http_request_duration_seconds"]
    assert value(latency, "_count", view="stats", method="GET", status="200") >= 1
    # The view label is the route's name, never a raw path (bounded cardinality).
    views = {s.labels["view"] for s in latency if "view" in s.labels}
    assert "stats" in views and not any("/" in view for view in views)


def test_emails_held_by_the_cap_are_counted_in_stats_and_metrics(
    settings, redis_service, make_user, client
) -> None:
    """An inbox being flooded shows: its held emails, not only pending, sent and failed."""
    settings.EMAIL_RECIPIENT_LIMIT = "1/hour"
    owner, admin = make_user("owner"), make_user("admin")
    chat = services.create_chat(title="Flood", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    for name in ("a", "b", "c"):  # three emails to the admin: one sent, two held
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=make_user(name).pk)
    snapshot.redis_client().flushdb()
    snapshot.refresh_snapshot()
    client.force_login(User.objects.create(username="operator", is_staff=True))

    stats = client.get("/api/stats/").json()
    assert (stats["notifications_pending"], stats["notifications_held"]) == (1, 2)
    metrics = scrape(client)
    assert value(metrics["chatplatform_notifications"], status="held") == 2


def test_an_email_whose_recipient_opted_out_counts_cancelled_not_failed(
    settings, redis_service, make_user, client
) -> None:
    """Queued, then its recipient turned all email off: nothing is sent, and what an operator
    sees (/api/stats/, the counter EmailNotificationsFailing watches) says cancelled, not
    failed. A real failure still counts failed."""
    owner, admin = make_user("owner"), make_user("admin")
    chat = services.create_chat(title="Plans", creator_id=owner.pk)
    services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=admin.pk, role=Role.ADMIN)
    Notification.objects.all().delete()  # the email about the admin's own join
    for name in ("nina", "omar"):
        services.add_member(chat_id=chat.pk, actor_id=owner.pk, user_id=make_user(name).pk)
    opted_out, failing = Notification.objects.filter(recipient_id=admin.pk).order_by("id")
    profiles.update(admin.pk, email_off=True)
    client.force_login(User.objects.create(username="operator", is_staff=True))

    def seen() -> tuple[dict, dict]:
        snapshot.redis_client().flushdb()
        snapshot.refresh_snapshot()
        stats = client.get("/api/stats/").json()
        done = scrape(client)["chatplatform_notifications_done"]
        counted = {s: value(done, "_total", status=s) for s in ("failed", "cancelled", "sent")}
        return {k: stats[f"notifications_{k}"] for k in ("failed", "cancelled", "sent")}, counted

    assert seen() == ({"failed": 0, "cancelled": 0, "sent": 0},) * 2
    mail.outbox.clear()

    assert EMAILS.deliver(opted_out.pk) == "cancelled"
    assert mail.outbox == []
    assert seen() == ({"failed": 0, "cancelled": 1, "sent": 0},) * 2

    # A real failure, for contrast: email on again, and a backend that refuses its settings.
    profiles.update(admin.pk, email_off=False)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = True
    assert EMAILS.deliver(failing.pk) == "failed"
    assert seen() == ({"failed": 1, "cancelled": 1, "sent": 0},) * 2


@pytest.mark.slow
def test_live_stats_are_published_to_centrifugo(stored: dict, centrifugo_service) -> None:
    published = jobs.run_live_stats()
    history = centrifugo.client().history(HistoryRequest(channel=centrifugo.STATS_CHANNEL, limit=1))
    assert [pub.data for pub in history.publications] == [published]
    assert published["online_users"] == 0  # Centrifugo answers: nobody is connected


@pytest.mark.django_db
def test_without_redis_a_scrape_has_no_business_numbers_and_never_reads_the_tables(
    client, settings, django_assert_num_queries
) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{testing.free_port()}/0"  # nobody listens there
    client.force_login(User.objects.create(username="reader", is_staff=True))
    with django_assert_num_queries(0):
        metrics = scrape(client)
    assert "chatplatform_users" not in metrics
    assert "chatplatform_http_request_duration_seconds" in metrics  # the process's own numbers
    assert client.get("/api/stats/").status_code == 503
