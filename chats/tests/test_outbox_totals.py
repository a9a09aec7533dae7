"""Running totals of finished outbox rows (core.tallies via core.outbox.finish): each row that
finishes is counted once, however many workers finish or release it, and never un-counted."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection

from chats import services
from chats.models import Chat, Publication
from core import outbox, tallies

SENT = outbox.tally_name(Publication, "sent")
FAILED = outbox.tally_name(Publication, "failed")


def totals() -> dict[str, int]:
    return tallies.values([SENT, FAILED])


@pytest.mark.django_db
def test_a_row_finished_twice_is_counted_once_and_stays_finished() -> None:
    row = Publication.objects.create(channel="c", data={})
    claimed = outbox.claim(Publication, row.pk, lease_seconds=30)
    outbox.mark_done(Publication, [row.pk])
    outbox.mark_done(Publication, [row.pk])  # a second worker whose lease had expired
    outbox.release(claimed, "timeout")  # the first worker's late transient failure
    outbox.fail(claimed, "gave up")  # or its late last attempt
    row.refresh_from_db()
    assert row.status == "sent" and row.done_at is not None
    assert totals() == {SENT: 1, FAILED: 0}


@pytest.mark.django_db
def test_a_failed_row_is_counted_failed_and_has_its_done_time() -> None:
    row = Publication.objects.create(channel="c", data={})
    outbox.fail(outbox.claim(Publication, row.pk, lease_seconds=30), "410 gone")
    outbox.mark_done(Publication, [row.pk])  # too late: it stays failed
    row.refresh_from_db()
    assert (row.status, row.last_error) == ("failed", "410 gone")
    assert row.done_at is not None  # retention counts from it
    assert totals() == {SENT: 0, FAILED: 1}
    assert outbox.backlog(Publication) == {"pending": 0, "sending": 0, "sent": 0, "failed": 1}


@pytest.mark.django_db
def test_accounts_and_chats_are_counted_as_they_come_and_go(make_user) -> None:
    def counted() -> dict[str, int]:
        return tallies.values(["users", "chats"])

    start = counted()
    ann, bob = make_user("ann"), make_user("bob")
    chat = services.create_chat(title="Plans", creator_id=ann.pk)
    services.create_chat(title="More plans", creator_id=ann.pk)
    assert counted() == {"users": start["users"] + 2, "chats": start["chats"] + 2}
    chat.delete()
    bob.delete()
    assert counted() == {"users": start["users"] + 1, "chats": start["chats"] + 1}
    assert counted() == {"users": get_user_model().objects.count(), "chats": Chat.objects.count()}


@pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="concurrent writers need PostgreSQL (SQLite serialises them)",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_lose_no_addition() -> None:
    """Eight connections finishing rows at once, some the same rows: the total is the number of
    rows sent, exactly."""
    rows = Publication.objects.bulk_create(Publication(channel="c", data={}) for _ in range(400))
    ids = [row.pk for row in rows]

    def worker(offset: int) -> None:
        try:
            for start in range(offset * 40, len(ids), 40):
                outbox.mark_done(Publication, ids[start : start + 60])  # overlapping batches
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Publication.objects.filter(status="sent").count() == 400
    assert totals()[SENT] == 400
