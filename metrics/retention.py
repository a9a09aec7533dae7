"""Retention: delete what is older than settings.RETENTION_*, in small batches, keeping totals.

Beat runs `prune` every RETENTION_SECONDS (metrics.tasks.prune_task). It deletes finished outbox
rows (sent, folded or cancelled after RETENTION_SENT_DAYS, failed after RETENTION_FAILED_DAYS)
and the rate limits' refusal rows (after RETENTION_REFUSALS_DAYS); report folders are bounded by
the report job itself (metrics.reports.folders). Every total shown anywhere stays as it was:
finished rows were added to their running totals when they finished (core.tallies), and what is
deleted is added to `retention.deleted.<table>`, exported as chatplatform_retention_deleted_total.

Each batch is one short statement of at most RETENTION_BATCH_SIZE rows found through an index
(the outbox's partial index on finished rows, oldest first; the refusals' hour index), so a run
never holds long locks nor scans the table, and never touches a row in flight: only finished
rows are selected, and the delete checks the status again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Model, OuterRef, QuerySet
from django.utils import timezone

from chats.models import Notification, Publication
from core import tallies
from ratelimits.models import RefusedAttempt

logger = logging.getLogger(__name__)

# A run stops starting batches after this long (below the task's soft time limit); the next run
# goes on where it stopped.
RUN_SECONDS = 240


@dataclass(frozen=True)
class Policy:
    """The rows one retention deletes, declared once: the prune job deletes them and the storage
    measurement (observability.storage) reports the oldest one's age. `table` and `status` are
    the exported labels (`table` as in chatplatform_retention_deleted_total)."""

    table: str
    status: str
    model: type[Model]
    field: str  # the time the retention counts from, indexed
    days_setting: str
    status_value: str | None = None  # None: every row of the table

    def days(self) -> int:
        return getattr(settings, self.days_setting)

    def rows(self) -> QuerySet:
        rows = self.model.objects.filter(**{f"{self.field}__isnull": False})
        return rows if self.status_value is None else rows.filter(status=self.status_value)

    def expired(self, now: datetime) -> QuerySet:
        """The rows past their retention at `now`, through the index on (status, field)."""
        rows = self.rows().filter(**{f"{self.field}__lt": now - timedelta(days=self.days())})
        if self.model is Notification:
            # A digest goes after the held emails folded into it (on_delete=PROTECT): they
            # finished before it, so they are due first, whatever the digest's own status.
            rows = rows.exclude(Exists(Notification.objects.filter(digest_id=OuterRef("pk"))))
        return rows

    def oldest(self) -> datetime | None:
        """The oldest row's time: the first entry of the index on (status, field)."""
        return self.rows().order_by(self.field).values_list(self.field, flat=True).first()


# In the order a run deletes them: folded emails before the digests that carried them. Every
# finished status of each outbox table has one (a test checks it): a cancelled email (its
# recipient no longer took email) is kept as long as a sent one, to answer "why did I get
# nothing?" as long as "did my email go out?".
POLICIES = (
    Policy("notifications", "folded", Notification, "done_at", "RETENTION_SENT_DAYS", "folded"),
    Policy(
        "notifications", "cancelled", Notification, "done_at", "RETENTION_SENT_DAYS", "cancelled"
    ),
    Policy("notifications", "sent", Notification, "done_at", "RETENTION_SENT_DAYS", "sent"),
    Policy("notifications", "failed", Notification, "done_at", "RETENTION_FAILED_DAYS", "failed"),
    Policy("publications", "sent", Publication, "done_at", "RETENTION_SENT_DAYS", "sent"),
    Policy("publications", "failed", Publication, "done_at", "RETENTION_FAILED_DAYS", "failed"),
    Policy("refused_attempts", "refused", RefusedAttempt, "hour", "RETENTION_REFUSALS_DAYS"),
)
PRUNED = tuple(dict.fromkeys(policy.table for policy in POLICIES))
# What chatplatform_retention_deleted_total counts: the pruned tables and the report folders
# (deleted by the report job, metrics.reports.folders).
TABLES = (*PRUNED, "reports")


def deleted_name(table: str) -> str:
    """The running total of what retention deleted from `table`."""
    return f"retention.deleted.{table}"


def deleted_totals() -> dict[str, int]:
    """Everything the retention deleted, ever, by table (the snapshot's `retention_deleted`)."""
    found = tallies.values(deleted_name(table) for table in TABLES)
    return {table: found[deleted_name(table)] for table in TABLES}


def add_deleted(deleted: dict[str, int]) -> None:
    """Add to the deleted totals, in the caller's transaction (the one that deleted)."""
    tallies.add({deleted_name(table): n for table, n in deleted.items()})


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
            add_deleted({table: count})
        deleted += count
        if count == 0:
            break
    return deleted


def prune(now: datetime | None = None) -> dict[str, int]:
    """Delete what is past its retention; the rows deleted per table (added to the totals)."""
    now = now or timezone.now()
    deadline = time.monotonic() + RUN_SECONDS
    deleted = dict.fromkeys(PRUNED, 0)
    for policy in POLICIES:
        rows = policy.expired(now)
        deleted[policy.table] += delete_in_batches(policy.table, rows, policy.field, deadline)
    if any(deleted.values()):
        logger.info("retention deleted %s", deleted)
    return deleted
