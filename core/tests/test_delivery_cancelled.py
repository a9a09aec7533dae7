"""A send that withdraws its row (core.delivery.Cancelled) finishes it as the delivery's
cancelled status: counted there, never as failed, never retried, and the task succeeds.

Core has no outbox table of its own: the driver runs on the apps' real ones, looked up by name
(apps.get_model) so that core imports nothing above it.
"""

from __future__ import annotations

import contextlib

import pytest
from django.apps import apps

from core import outbox, tallies
from core.delivery import Cancelled, Delivery, delivery_task

pytestmark = pytest.mark.django_db


def notification_model():
    return apps.get_model("chats", "Notification")


def publication_model():
    return apps.get_model("chats", "Publication")


def withdraw(row, after: contextlib.ExitStack) -> None:
    raise Cancelled("recipient no longer takes email: email off")


def delivery(model, **options: object) -> Delivery:
    return Delivery(
        model=model,
        send=withdraw,
        timeout_setting="EMAIL_TIMEOUT",
        max_attempts_setting="NOTIFICATION_MAX_ATTEMPTS",
        **options,
    )


def totals(model) -> dict[str, int]:
    counted = tallies.values(outbox.tally_name(model, status) for status in model.FINISHED)
    return {name.rpartition(".")[2]: n for name, n in counted.items() if n}


def an_email():
    return notification_model().objects.create(
        event="member_added", chat_id=1, recipient_id=1, recipient_email="ann@example.com",
        subject="s", body_text="b", body_html="<p>b</p>",
    )  # fmt: skip


def test_a_withdrawn_row_finishes_cancelled_with_its_reason_and_is_not_counted_failed() -> None:
    model = notification_model()
    emails = delivery(model, cancelled_status="cancelled")
    row = an_email()

    assert emails.deliver(row.pk) == "cancelled"
    assert emails.deliver(row.pk) == "skipped"  # finished: never claimed again

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("cancelled", 1)
    assert row.last_error == "recipient no longer takes email: email off"
    assert row.done_at is not None and row.claimed_until is None  # retention counts from it
    assert totals(model) == {"cancelled": 1}
    counts = outbox.backlog(model)
    assert (counts["cancelled"], counts["failed"], counts["pending"]) == (1, 0, 0)


def test_the_task_of_a_withdrawn_row_succeeds_with_cancelled() -> None:
    model = notification_model()
    task = delivery_task(
        delivery(model, cancelled_status="cancelled"),
        name="core.tests.deliver_withdrawn_task",
        soft_time_limit=30,
        time_limit=40,
    )
    first, second = an_email(), an_email()

    result = task.apply(args=[first.pk])
    assert (result.state, result.get()) == ("SUCCESS", "cancelled")
    batch = delivery_task(
        delivery(model, cancelled_status="cancelled"),
        name="core.tests.deliver_withdrawn_batch_task",
        soft_time_limit=30,
        time_limit=40,
        batch=True,
    )
    assert batch.apply(args=[first.pk, second.pk]).get() == ["skipped", "cancelled"]
    assert totals(model) == {"cancelled": 2}


def test_a_delivery_without_a_cancelled_status_fails_a_withdrawn_row() -> None:
    """The live events declare none: such a row is recorded failed, not left `sending`."""
    model = publication_model()
    row = model.objects.create(channel="c", data={})

    assert delivery(model).deliver(row.pk) == "failed"

    row.refresh_from_db()
    assert row.status == "failed"
    assert row.last_error == "Cancelled: recipient no longer takes email: email off"
    assert totals(model) == {"failed": 1}


def test_a_cancelled_status_must_be_a_finished_status_of_the_model() -> None:
    """Anything else would be neither counted (outbox.backlog) nor pruned (metrics.retention)."""
    with pytest.raises(ValueError, match=r"not one of Publication\.FINISHED"):
        delivery(publication_model(), cancelled_status="cancelled")
    model = publication_model()
    row = model.objects.create(channel="c", data={})
    with pytest.raises(ValueError, match="not a finished status of Publication"):
        outbox.finish(model, model.objects.filter(pk=row.pk), "cancelled")
    row.refresh_from_db()
    assert row.status == "pending"
