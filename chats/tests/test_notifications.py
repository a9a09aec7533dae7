"""How one email's delivery ends, without a worker: the task runs eagerly (`apply`), so Celery's
own retry policy is exercised, against a port where nobody listens (a transient failure).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery.signals import task_failure

import testing
from chats.emails import delivery as email_delivery
from chats.models import Notification
from chats.tasks import send_admin_notification_task
from core.delivery import DeliveryGaveUp
from core.outbox import OutboxStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp_down(settings) -> None:
    """The real SMTP backend, pointed at a free port: every attempt is refused (transient), and
    a row gets three attempts in all."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", testing.free_port()
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.NOTIFICATION_MAX_ATTEMPTS = 3


@pytest.fixture
def failures(redis_service: testing.ManagedProcess) -> Iterator[list[BaseException]]:
    """The exceptions of the tasks that ended FAILURE, as `task_failure` receivers see them, the
    failed-task metric's among them (metrics/tests/test_end_to_end.py checks its count); the
    test Redis, so that it counts there, not in a developer's Redis."""
    seen: list[BaseException] = []

    def receiver(exception: BaseException, **kwargs: object) -> None:
        seen.append(exception)

    task_failure.connect(receiver, weak=False)
    yield seen
    task_failure.disconnect(receiver)


def a_notification(attempts: int = 0) -> Notification:
    return Notification.objects.create(
        event=Notification.Event.MEMBER_ADDED, chat_id=1, recipient_id=1,
        recipient_email="adam@example.com", subject="s", body_text="b", body_html="<p>b</p>",
        attempts=attempts,
    )  # fmt: skip


def test_a_transient_failure_is_retried_until_the_rows_last_attempt_then_the_task_fails(
    smtp_down, failures
):
    row = a_notification()

    result = send_admin_notification_task.apply(args=[row.pk])

    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 3)  # 1 run + 2 Celery retries
    assert "refused" in row.last_error.lower()
    assert result.state == "FAILURE"
    assert isinstance(result.result, DeliveryGaveUp)
    assert [type(exc) for exc in failures] == [DeliveryGaveUp]


def test_after_a_sweeper_requeue_the_last_attempt_fails_the_task_not_skips_it(smtp_down, failures):
    """The re-queued task's own retry count is 0: the row's count (2 of 3) makes this the last
    attempt, and the task must end FAILURE (a retry would find the failed row and succeed)."""
    row = a_notification(attempts=2)

    result = send_admin_notification_task.apply(args=[row.pk])

    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 3)
    assert result.state == "FAILURE"
    assert isinstance(result.result, DeliveryGaveUp)
    assert [type(exc) for exc in failures] == [DeliveryGaveUp]


def test_an_email_backend_that_refuses_its_settings_fails_the_row_at_once(settings):
    """Django's SMTP backend raises ValueError when built with both TLS and SSL: a permanent
    error, so the row is failed instead of staying `sending` for the sweeper to claim forever."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = True
    row = a_notification()

    assert email_delivery.EMAILS.deliver(row.pk) == "failed"

    row.refresh_from_db()
    assert (row.status, row.attempts, row.claimed_until) == (OutboxStatus.FAILED, 1, None)
    assert row.last_error.startswith("ValueError: ")
    assert "EMAIL_USE_TLS" in row.last_error and "EMAIL_USE_SSL" in row.last_error
