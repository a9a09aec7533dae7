"""Retention (metrics.retention): old finished rows go, totals stay, rows in flight stay."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

import testing
from chats.models import Notification, Publication
from core import outbox, tallies
from metrics import jobs, retention, snapshot
from ratelimits.models import RefusedAttempt, Scope

# The snapshot's totals that must not move when rows are pruned.
TOTALS = (
    "notifications_sent",
    "notifications_failed",
    "notifications_folded",
    "notifications_cancelled",
    "publications",
    "users",
    "chats",
    "messages_total",
)


def email(status: str = "pending", **fields: object) -> Notification:
    values = {
        "event": Notification.Event.MEMBER_ADDED,
        "recipient_id": 1,
        "recipient_email": "ann@example.com",
        "subject": "s",
        "body_text": "b",
        "body_html": "<p>b</p>",
    }
    return Notification.objects.create(status=status, **{**values, **fields})


def age(rows: object, days: float) -> None:
    """Make rows look as if they finished (and were last touched) `days` ago."""
    then = timezone.now() - timedelta(days=days)
    rows.update(done_at=then, updated_at=then, created_at=then)


def totals() -> dict:
    data = snapshot.compute_snapshot()
    return {key: data[key] for key in TOTALS}


def test_prune_deletes_finished_rows_past_their_retention_and_no_total_moves(
    db: None, redis_service: object
) -> None:
    sent_old, sent_new = email(), email()
    failed_old, failed_older = email(), email()
    outbox.mark_done(Notification, [sent_old.pk, sent_new.pk])
    outbox.fail(failed_old, "550 refused")
    outbox.fail(failed_older, "550 refused")
    # Held emails folded into a digest that was then sent: the digest goes after them.
    held = [email(Notification.HELD) for _ in range(3)]
    digest = email(event=Notification.Event.DIGEST)
    folded = outbox.finish(
        Notification, Notification.objects.filter(status=Notification.HELD), "folded", digest=digest
    )
    outbox.mark_done(Notification, [digest.pk])
    # Cancelled at send time (the recipient opted out): kept as long as sent ones.
    cancelled_old, cancelled_new = email(), email()
    outbox.finish(
        Notification,
        Notification.objects.filter(pk__in=[cancelled_old.pk, cancelled_new.pk]),
        Notification.CANCELLED,
        last_error="recipient no longer takes email: email off",
    )
    # In flight, however old: never deleted.
    stuck = [email(), email(Notification.HELD), email("sending")]
    publications = [Publication.objects.create(channel="c", data={}) for _ in range(5)]
    outbox.mark_done(Publication, [p.pk for p in publications[:4]])
    for ident, days in (("10.0.0.1", settings.RETENTION_REFUSALS_DAYS + 10), ("10.0.0.2", 2)):
        then = timezone.now() - timedelta(days=days)
        RefusedAttempt.objects.create(
            scope=Scope.AUTH_CLIENT, ident=ident, hour=then, count=3, last_refused_at=then
        )
    sent_days, failed_days = settings.RETENTION_SENT_DAYS, settings.RETENTION_FAILED_DAYS
    age(
        Notification.objects.filter(
            pk__in=[sent_old.pk, digest.pk, cancelled_old.pk, *[h.pk for h in held]]
        ),
        sent_days + 1,
    )
    age(Notification.objects.filter(pk=cancelled_new.pk), sent_days - 1)
    age(Notification.objects.filter(pk=failed_old.pk), sent_days + 1)  # kept: failed keep longer
    age(Notification.objects.filter(pk=failed_older.pk), failed_days + 1)
    age(Notification.objects.filter(pk__in=[row.pk for row in stuck]), failed_days + 100)
    age(Publication.objects.filter(pk__in=[p.pk for p in publications[:3]]), sent_days + 1)
    age(Publication.objects.filter(pk=publications[4].pk), failed_days + 100)  # pending
    before = totals()
    assert before["notifications_sent"] == 3 and before["notifications_folded"] == folded == 3
    assert (before["notifications_cancelled"], before["notifications_failed"]) == (2, 2)
    assert before["publications"]["sent"] == 4

    assert jobs.run_prune() == {"notifications": 7, "publications": 3, "refused_attempts": 1}

    assert totals() == before
    left = set(Notification.objects.values_list("pk", flat=True))
    assert left == {sent_new.pk, failed_old.pk, cancelled_new.pk, *(row.pk for row in stuck)}
    assert set(Publication.objects.values_list("pk", flat=True)) == {
        publications[3].pk,
        publications[4].pk,
    }
    assert list(RefusedAttempt.objects.values_list("ident", flat=True)) == ["10.0.0.2"]
    data = snapshot.compute_snapshot()
    assert data["retention_deleted"] == {
        "notifications": 7,
        "publications": 3,
        "refused_attempts": 1,
        "reports": 0,
    }
    assert data["jobs"]["prune"]["last_success_at"]
    # A second run finds nothing, and the totals of what was deleted do not move either.
    assert retention.prune() == {"notifications": 0, "publications": 0, "refused_attempts": 0}
    assert snapshot.compute_snapshot()["retention_deleted"] == data["retention_deleted"]


@pytest.mark.parametrize("model", [Notification, Publication])
def test_every_finished_status_has_one_retention(model) -> None:
    """A finished status without a policy would be kept for ever (and its oldest row never
    measured): each one has exactly one (cancelled emails: RETENTION_SENT_DAYS, above)."""
    covered = [policy.status_value for policy in retention.POLICIES if policy.model is model]
    assert sorted(covered) == sorted(model.FINISHED)


@pytest.mark.skipif(
    not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
    reason="concurrent writers need PostgreSQL (SQLite serialises them)",
)
@pytest.mark.django_db(transaction=True)
def test_pruning_while_rows_are_written_and_delivered_loses_nothing(settings) -> None:
    """Batches of 7 deleted while another connection writes and delivers publications: every
    row in flight stays, and sent = rows still there + rows deleted, exactly."""
    settings.RETENTION_BATCH_SIZE = 7
    old = [Publication(channel="c", data={}) for _ in range(300)]
    Publication.objects.bulk_create(old)
    outbox.mark_done(Publication, [p.pk for p in old[:250]])
    age(Publication.objects.filter(pk__in=[p.pk for p in old]), settings.RETENTION_SENT_DAYS + 5)
    waiting = {p.pk for p in old[250:]}  # old, still pending: never deleted
    stop = threading.Event()
    written: list[int] = []

    def write_and_deliver() -> None:
        """Five new rows at a time: three delivered, one of those made old enough to prune
        while the prune runs, two left pending."""
        try:
            while not stop.is_set():
                rows = [Publication.objects.create(channel="c", data={}) for _ in range(5)]
                outbox.mark_done(Publication, [row.pk for row in rows[:3]])
                age(Publication.objects.filter(pk=rows[0].pk), settings.RETENTION_SENT_DAYS + 1)
                written.extend(row.pk for row in rows[3:])
        finally:
            connection.close()

    writer = threading.Thread(target=write_and_deliver)
    writer.start()
    try:
        deleted = retention.prune()["publications"]
    finally:
        stop.set()
        writer.join()
    assert deleted >= 250
    assert waiting <= set(Publication.objects.values_list("pk", flat=True))
    # Every pending row written meanwhile is still there, still pending.
    assert Publication.objects.filter(pk__in=written, status="pending").count() == len(written)
    sent_total = tallies.values([outbox.tally_name(Publication, "sent")])
    still_sent = Publication.objects.filter(status="sent").count()
    assert sent_total[outbox.tally_name(Publication, "sent")] == still_sent + deleted


@pytest.mark.django_db(transaction=True)
def test_totals_are_the_same_in_a_new_process_after_a_prune(redis_service: object) -> None:
    """What a restarted beat computes: the totals come from the database, not from memory."""
    rows = [email() for _ in range(4)]
    outbox.mark_done(Notification, [row.pk for row in rows])
    age(Notification.objects.filter(pk__in=[row.pk for row in rows[:3]]), 400)
    retention.prune()
    here = totals()
    script = (
        "import django, json; django.setup();"
        "from metrics import snapshot;"
        "data = snapshot.compute_snapshot();"
        f"print(json.dumps({{k: data[k] for k in {list(TOTALS)!r}}}))"
    )
    child = subprocess.run(
        [sys.executable, "-c", script],
        env=testing.django_env(DJANGO_SETTINGS_MODULE="chatplatform.settings"),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(child.stdout.strip().splitlines()[-1]) == here
    assert here["notifications_sent"] == 4


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"RETENTION_SENT_DAYS": "thirty"}, "RETENTION_SENT_DAYS"),
        ({"RETENTION_FAILED_DAYS": "0"}, "RETENTION_FAILED_DAYS"),
        ({"RETENTION_REFUSALS_DAYS": "-3"}, "RETENTION_REFUSALS_DAYS"),
        ({"RETENTION_BATCH_SIZE": "1e3"}, "RETENTION_BATCH_SIZE"),
        # Kept for less than the cap's period: the cap would count fewer emails than were sent.
        ({"RETENTION_SENT_DAYS": "1", "EMAIL_RECIPIENT_LIMIT": "20/day"}, "RETENTION_SENT_DAYS"),
        # Shorter than the reports' range: the Task health notebook would lose emails.
        ({"RETENTION_FAILED_DAYS": "20", "REPORTS_RANGE_DAYS": "30"}, "RETENTION_FAILED_DAYS"),
        ({"RETENTION_SECONDS": "0"}, "RETENTION_SECONDS"),
        ({"STORAGE_SECONDS": "often"}, "STORAGE_SECONDS"),
    ],
)
def test_a_malformed_retention_stops_the_start_naming_the_variable(
    overrides: dict, named: str
) -> None:
    result = testing.manage_check(**overrides)
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("django.core.exceptions.ImproperlyConfigured: ")
    assert named in message
