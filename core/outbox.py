"""The transactional outbox shared by emails and live events: the rows and their delivery.

An app's outbox model subclasses `OutboxRow` and adds what to deliver.

A service writes outbox rows in its transaction and calls `enqueue_after_commit`. A task claims a
row (`claim`), delivers it and marks it `done`; a transient failure `release`s it for a retry, a
permanent one marks it `failed`; a row that must not be sent any more (its email's recipient
opted out) finishes with a status of its model's own (`cancelled`, core.delivery.Cancelled). A
claim is a lease, so a row whose worker died is claimed again; rows that nobody touched for
`OUTBOX_STALE_SECONDS` (Redis was down, a worker was killed) are queued again by
`requeue_stale`, run by beat.

Nothing here scans history. Rows in flight (`IN_FLIGHT`) are few and counted through the
models' partial indexes; a row that finishes (`FINISHED`) adds one to its status's total
(core.tallies) in the transaction that finishes it, so finished rows can be pruned
(metrics.retention) without changing any total.
"""

import contextvars
import logging
from collections.abc import Sequence
from datetime import timedelta
from functools import lru_cache

from celery import Task, current_app
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.connection import ConnectionPool

from . import tallies, tracing
from .models import Tally

logger = logging.getLogger(__name__)


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class OutboxRow(models.Model):
    """Something to deliver after commit; the functions below claim, retry and sweep it."""

    status = models.CharField(
        max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # A claim expires, so a row whose worker died is delivered by the next one.
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # When it finished: sent, or given up on. Retention counts from here.
    done_at = models.DateTimeField(null=True, blank=True)
    # The W3C traceparent of the span that wrote it (core.tracing; "" with tracing off): its
    # delivery, whoever makes it and however late, continues that trace. A database default
    # too: rows written without the column (COPY, code of the previous release while a new one
    # rolls out) get "" rather than failing on NOT NULL.
    trace_context = models.CharField(max_length=64, blank=True, default="", db_default="")

    # The statuses a row may still leave, and those it never leaves. A model with statuses of
    # its own (a held email) extends both; each model indexes both sets (partial indexes), so a
    # count of what is in flight and the retention's oldest rows are index reads.
    IN_FLIGHT: tuple[str, ...] = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)
    FINISHED: tuple[str, ...] = (OutboxStatus.SENT.value, OutboxStatus.FAILED.value)

    class Meta:
        abstract = True
        ordering = ["-id"]


@lru_cache(maxsize=4)
def _handover_pool(url: str, timeout: float) -> ConnectionPool:
    """Broker connections for the hand-over: every Redis call waits at most `timeout`."""
    # max_retries 0: kombu would otherwise retry a failed (re)connection for seconds.
    options = {"socket_timeout": timeout, "socket_connect_timeout": timeout, "max_retries": 0}
    return current_app.connection_for_write(url, transport_options=options).Pool(limit=32)


def send_tasks(task: Task, ids: Sequence[int], *, together: bool = False) -> int:
    """Queue one task per id (or one for all ids, `together`); if the broker is down or does not
    answer within OUTBOX_HANDOVER_TIMEOUT, log it and leave the rows to the sweeper.

    One try, no retry loop: a request that called this after its commit answers in time even
    when Redis hangs (a SIGSTOPped or black-holed Redis accepts the connection and never replies).
    """
    batches = [list(ids)] if together else [[pk] for pk in ids]
    queued = 0
    pool = _handover_pool(settings.CELERY_BROKER_URL, settings.OUTBOX_HANDOVER_TIMEOUT)
    attributes = {"celery.task": task.name, "outbox.rows": len(ids)}
    with tracing.span("outbox hand-over", attributes) as span:
        try:
            with pool.acquire(block=True, timeout=settings.OUTBOX_HANDOVER_TIMEOUT) as connection:
                for batch in batches:
                    # In a copy of the context: the Celery instrumentation attaches its publish
                    # span before publishing and detaches it only after, so a publish that fails
                    # would leave it current for the rest of the request (its later spans
                    # orphaned under a span never sent). The copy keeps that leak here.
                    contextvars.copy_context().run(
                        task.apply_async, args=batch, connection=connection, retry=False
                    )
                    queued += len(batch)
        except Exception as exc:
            tracing.failed(span, exc)
            logger.warning(
                "could not queue %s (%d of %d queued), the sweeper will: %s",
                task.name,
                queued,
                len(ids),
                exc,
            )
        span.set_attribute("outbox.queued", queued)
    return queued


def enqueue_after_commit(task: Task, ids: list[int], *, together: bool = False) -> None:
    """Queue the delivery only once the rows are visible to a worker; a rollback queues nothing."""
    if ids:
        transaction.on_commit(lambda: send_tasks(task, ids, together=together))


def claim(model: type[OutboxRow], pk: int, lease_seconds: float) -> OutboxRow | None:
    """Take a row for delivery, or None when it is already done or another worker holds it."""
    now = timezone.now()
    claimable = Q(status=OutboxStatus.PENDING) | Q(
        status=OutboxStatus.SENDING, claimed_until__lt=now
    )
    taken = model.objects.filter(claimable, pk=pk).update(
        status=OutboxStatus.SENDING,
        claimed_until=now + timedelta(seconds=lease_seconds),
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    return model.objects.get(pk=pk) if taken else None


def done(row: OutboxRow) -> None:
    mark_done(type(row), [row.pk])


def tally_name(model: type[models.Model], status: str) -> str:
    """The running total of `model`'s rows that finished with `status`."""
    return f"{model._meta.label_lower}.{status}"


def finish(model: type[OutboxRow], rows: models.QuerySet, status: str, **changes: object) -> int:
    """Move `rows` that are still in flight to the finished `status` and add them to its total,
    in one transaction; a row already finished (by another worker) is neither moved nor counted.
    `status` is one of `model.FINISHED`: any other would be neither counted nor pruned."""
    if status not in model.FINISHED:
        raise ValueError(f"{status!r} is not a finished status of {model.__name__}")
    now = timezone.now()
    with transaction.atomic():
        moved = rows.filter(status__in=model.IN_FLIGHT).update(
            status=status, done_at=now, updated_at=now, claimed_until=None, **changes
        )
        tallies.add({tally_name(model, status): moved})
    return moved


def mark_done(model: type[OutboxRow], ids: Sequence[int]) -> None:
    """Delivered: never to be claimed or swept again. As `finish` does it, but on PostgreSQL in
    one statement: this runs after every live message (and every email) is delivered."""
    if connection.vendor == "postgresql":
        _finish_ids(model, list(ids), OutboxStatus.SENT, last_error="")
    else:
        finish(model, model.objects.filter(pk__in=ids), OutboxStatus.SENT, last_error="")


def _finish_ids(model: type[OutboxRow], ids: list[int], status: str, last_error: str) -> None:
    """`finish` of rows by id as one PostgreSQL statement (atomic on its own): the UPDATE of
    the rows still in flight, and the upsert adding their number to the status's total, instead
    of a transaction with a savepoint, six round trips. The row locks come before the total's,
    as in `finish`."""
    if not ids:
        return
    quote = connection.ops.quote_name
    table, tally = quote(model._meta.db_table), quote(Tally._meta.db_table)
    pk = quote(model._meta.pk.column)
    status_column, done_at, updated_at, claimed_until, error = (
        quote(model._meta.get_field(name).column) for name in _FINISH_COLUMNS
    )
    sql = (
        f"WITH moved AS (UPDATE {table} SET {status_column} = %s, {done_at} = %s, "  # noqa: S608 - names quoted from the models, values as parameters
        f"{updated_at} = %s, {claimed_until} = NULL, {error} = %s "
        f"WHERE {pk} = ANY(%s) AND {status_column} = ANY(%s) RETURNING 1) "
        f"INSERT INTO {tally} (name, value) SELECT %s, count(*) FROM moved HAVING count(*) > 0 "
        f"ON CONFLICT (name) DO UPDATE SET value = {tally}.value + EXCLUDED.value"
    )
    now = timezone.now()
    params = [status, now, now, last_error, ids, list(model.IN_FLIGHT), tally_name(model, status)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


_FINISH_COLUMNS = ("status", "done_at", "updated_at", "claimed_until", "last_error")


def release(row: OutboxRow, error: str) -> None:
    """A transient failure: back to pending so the retry (or the sweeper) can claim it. Only a
    row still being sent: one whose lease expired and that another worker finished stays
    finished (sent once, counted once)."""
    type(row).objects.filter(pk=row.pk, status=OutboxStatus.SENDING).update(
        status=OutboxStatus.PENDING,
        claimed_until=None,
        last_error=error[:2000],
        updated_at=timezone.now(),
    )


def fail(row: OutboxRow, error: str) -> None:
    """A permanent failure, or retries exhausted: recorded, never retried."""
    model = type(row)
    finish(model, model.objects.filter(pk=row.pk), OutboxStatus.FAILED, last_error=error[:2000])


def stale_ids(model: type[OutboxRow], limit: int = 1000) -> list[int]:
    """Rows that should have been delivered by now: never queued, or their worker died; the
    oldest first.

    Two reads of the partial index on rows in flight, each in its own order: one `ORDER BY id
    LIMIT` over both conditions could walk the primary key from the oldest row ever written
    when many rows wait (an outage), since they all sit at the newest ids.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.OUTBOX_STALE_SECONDS)
    pending = model.objects.filter(status=OutboxStatus.PENDING, updated_at__lt=cutoff)
    abandoned = model.objects.filter(status=OutboxStatus.SENDING, claimed_until__lt=now)
    ids = set(pending.order_by("updated_at").values_list("pk", flat=True)[:limit])
    ids.update(abandoned.order_by("updated_at").values_list("pk", flat=True)[:limit])
    return sorted(ids)[:limit]


def requeue_stale(model: type[OutboxRow], task: Task) -> int:
    """Queue stale rows again and touch them, so that the next sweep does not queue them twice."""
    ids = stale_ids(model)
    queued = send_tasks(task, ids)
    if queued:
        model.objects.filter(pk__in=ids[:queued], status=OutboxStatus.PENDING).update(
            updated_at=timezone.now()
        )
    return queued


def backlog(model: type[OutboxRow]) -> dict[str, int]:
    """Rows per status, for /metrics and the live page: those in flight counted through the
    partial index (they are few), the finished ones from their running totals."""
    counts = dict.fromkeys(model.IN_FLIGHT, 0)
    in_flight = model.objects.filter(status__in=model.IN_FLIGHT).order_by()
    # count(*), not count(id): the partial index alone answers it (an index-only scan).
    for status, n in in_flight.values_list("status").annotate(n=models.Count("*")):
        counts[status] = n
    finished = tallies.values(tally_name(model, status) for status in model.FINISHED)
    counts.update({status: finished[tally_name(model, status)] for status in model.FINISHED})
    return counts
