"""Retention: delete what is older than settings.RETENTION_*, in small batches, keeping totals.

Beat runs `prune` every RETENTION_SECONDS (metrics.tasks.prune_task). It deletes finished outbox
rows (sent or folded after RETENTION_SENT_DAYS, failed after RETENTION_FAILED_DAYS) and the rate
limits' refusal rows (after RETENTION_REFUSALS_DAYS); report folders are bounded by the report
job itself (metrics.reports.folders). Every total shown anywhere stays as it was: finished rows
were added to their running totals when they finished (core.tallies), and what is deleted is
added to `retention.deleted.<table>`, exported as chatplatform_retention_deleted_total.

Each batch is one short statement of at most RETENTION_BATCH_SIZE rows found through an index
(the outbox's partial index on finished rows, oldest first; the refusals' hour index), so a run
never holds long locks nor scans the table, and never touches a row in flight: only finished
rows are selected, and the delete checks the status again.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Model, OuterRef, QuerySet
from django.utils import timezone

from chats.models import Notification, Publication
from core import tallies
from core.outbox import OutboxStatus
from ratelimits.models import RefusedAttempt

logger = logging.getLogger(__name__)

# What the job deletes, by the `table` label of chatplatform_retention_deleted_total.
TABLES = ("notifications", "publications", "refused_attempts", "reports")
# A run stops starting batches after this long (below the task's soft time limit); the next run
# goes on where it stopped.
RUN_SECONDS = 240


def deleted_name(table: str) -> str:
    return f"retention.deleted.{table}"


def deleted_totals() -> dict[str, int]:
    """Everything the retention deleted, ever, by table (the snapshot's `retention_deleted`)."""
    found = tallies.values(deleted_name(table) for table in TABLES)
    return {table: found[deleted_name(table)] for table in TABLES}


def count_deleted(deleted: dict[str, int]) -> None:
    tallies.add({deleted_name(table): n for table, n in deleted.items()})


def kept_days(status: str) -> int:
    """How long an outbox row that finished with `status` is kept."""
    return (
        settings.RETENTION_FAILED_DAYS
        if status == OutboxStatus.FAILED
        else settings.RETENTION_SENT_DAYS
    )


def delete_in_batches(table: str, rows: QuerySet, order: str, deadline: float) -> int:
    """Delete `rows`, oldest (`order`) first, a batch per transaction until none is left or the
    deadline passed, each batch added to the table's deleted total in its transaction; the
    number deleted."""
    deleted = 0
    while time.monotonic() < deadline:
        batch = rows.order_by(order).values_list("pk", flat=True)[: settings.RETENTION_BATCH_SIZE]
        ids = list(batch)
        if not ids:
            break
        with transaction.atomic():
            # The same conditions again: a row that changed since it was selected stays.
            count = rows.filter(pk__in=ids).delete()[1].get(rows.model._meta.label, 0)
            count_deleted({table: count})
        deleted += count
        if count == 0:
            break
    return deleted


def _finished(model: type[Model], status: str, now: datetime) -> QuerySet:
    """`model`'s rows that finished with `status` before their retention, through its partial
    index (status, done_at) on finished rows."""
    cutoff = now - timedelta(days=kept_days(status))
    rows = model.objects.filter(status=status, done_at__lt=cutoff)
    if model is Notification and status == OutboxStatus.SENT:
        # A digest goes after the held emails folded into it (on_delete=PROTECT); they finished
        # before it, so they are due first.
        rows = rows.exclude(Exists(Notification.objects.filter(digest_id=OuterRef("pk"))))
    return rows


def prune(now: datetime | None = None) -> dict[str, int]:
    """Delete what is past its retention; the rows deleted per table (added to the totals)."""
    now = now or timezone.now()
    deadline = time.monotonic() + RUN_SECONDS
    deleted = dict.fromkeys(TABLES[:-1], 0)
    # Folded emails before the digests that carried them, so a digest is never held back a run.
    outboxes = [
        (
            "notifications",
            Notification,
            [Notification.FOLDED, OutboxStatus.SENT, OutboxStatus.FAILED],
        ),
        ("publications", Publication, [OutboxStatus.SENT, OutboxStatus.FAILED]),
    ]
    for table, model, statuses in outboxes:
        for status in statuses:
            rows = _finished(model, status, now)
            deleted[table] += delete_in_batches(table, rows, "done_at", deadline)
    refusals_cutoff = now - timedelta(days=settings.RETENTION_REFUSALS_DAYS)
    refusals = RefusedAttempt.objects.filter(hour__lt=refusals_cutoff)
    deleted["refused_attempts"] = delete_in_batches("refused_attempts", refusals, "hour", deadline)
    if any(deleted.values()):
        logger.info("retention deleted %s", deleted)
    return deleted
