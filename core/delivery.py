"""The one delivery driver of the outbox (core.outbox): what every pipeline does the same way.

A pipeline (the admin emails, the live events) declares a `Delivery`: its outbox model, a send
function, how to classify a failure, its client timeout and attempt bound (both named settings,
read at call time). The driver then does the rest, identically for each:

- recording: `record` writes the rows in the caller's transaction and hands the pending ones over
  once it commits (to the pipeline's task, or to its own short path first);
- delivering: `deliver` claims a row (a lease computed here from the client timeout), sends it,
  and marks it done, releases it for a retry with backoff, fails it for good after a permanent
  error or its last attempt, or cancels it when the send says it must not happen any more
  (`Cancelled`: not a failure); `deliver_in_order` does that for a batch;
- the task: `delivery_task` makes the thin Celery task with the options every delivery shares
  (retry with backoff, the attempt count kept on the row, late acks).
"""

import contextlib
import enum
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction

from . import outbox, tracing
from .outbox import OutboxRow, OutboxStatus

logger = logging.getLogger(__name__)

# Exponential backoff with jitter, capped well below the broker's visibility timeout.
RETRY_BACKOFF = {"retry_backoff": 2, "retry_backoff_max": 60, "retry_jitter": True}


class TransientDeliveryError(Exception):
    """Worth retrying: the server was down, slow, or asked to come back later. The row is pending
    again; the task retries it with backoff (or the sweeper queues it again)."""


class DeliveryGaveUp(Exception):
    """Attempts exhausted: the row is `failed` with its error. The task fails so Flower and the
    failure metrics see it (not in the task's `autoretry_for`: a retry would find the failed row
    and skip it)."""


class Cancelled(Exception):
    """Raised by a pipeline's send: this row must not be sent any more (its recipient opted out
    since it was queued). Nothing failed: the row finishes with the delivery's
    `cancelled_status`, the reason (`str(exc)`) in its `last_error`, never retried; the task
    succeeds, and neither the failed total nor the alerts on it move."""


class Failure(enum.Enum):
    """What a pipeline's `classify` says of an exception its send raised."""

    TRANSIENT = "transient"
    PERMANENT = "permanent"  # recorded as failed at once, never retried; the task succeeds


def describe_exception(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class Delivery:
    """One outbox pipeline: what to send and how its failures count.

    `send(row, after)` delivers one claimed row and raises on failure; anything it must close
    once the row's state is recorded (an SMTP connection to QUIT) it registers on `after`, an
    ExitStack the driver unwinds after `done`, `release` or `fail`. `classify` maps a failure to
    TRANSIENT or PERMANENT; `describe` turns it into the text kept in the row's `last_error`.
    A send that raises `Cancelled` is not classified: the row finishes `cancelled_status`, a
    finished status of the model's own (a pipeline that declares none cannot be cancelled, and
    such a row is failed like any permanent error).
    """

    model: type[OutboxRow]
    send: Callable[[OutboxRow, contextlib.ExitStack], None]
    timeout_setting: str  # the client's timeout, e.g. "EMAIL_TIMEOUT"
    max_attempts_setting: str  # e.g. "NOTIFICATION_MAX_ATTEMPTS"
    done_result: str = "sent"
    cancelled_status: str | None = None  # one of model.FINISHED, e.g. "cancelled"
    classify: Callable[[Exception], Failure] = lambda exc: Failure.TRANSIENT
    describe: Callable[[Exception], str] = describe_exception
    # What a row's delivery span says of it beyond its id (chat.id, message.id): what staff
    # search traces by (core.tracing.annotate's naming: chat_id -> chat.id).
    trace_attributes: Callable[[OutboxRow], dict[str, str | int | None]] = lambda row: {}

    def __post_init__(self) -> None:
        # A status outside FINISHED would be neither counted (outbox.backlog) nor pruned.
        if self.cancelled_status is not None and self.cancelled_status not in self.model.FINISHED:
            raise ValueError(
                f"cancelled_status {self.cancelled_status!r} is not one of "
                f"{self.model.__name__}.FINISHED {self.model.FINISHED}"
            )

    @property
    def name(self) -> str:
        return self.model._meta.verbose_name

    def lease_seconds(self) -> float:
        """How long a claim holds: three client timeouts and a margin, with the default timeouts
        longer than the task's hard time limit (a test checks it), so a row is claimed again
        only once its worker is surely gone."""
        return getattr(settings, self.timeout_setting) * 3 + 30

    def deliver(self, pk: int) -> str:
        """Deliver one row at most once: "skipped" when it is done or held by another worker,
        `done_result` when delivered, "cancelled" when the send withdrew it (`Cancelled`),
        "failed" after a permanent error."""
        row = outbox.claim(self.model, pk, lease_seconds=self.lease_seconds())
        if row is None:
            return "skipped"
        # The delivery continues the trace of the request that wrote the row, however it got
        # here (its task, a retry, the sweeper); the first attempt shows the wait since then.
        model_name = self.model._meta.model_name
        attributes = {
            "outbox.model": self.model._meta.label_lower,
            "outbox.attempt": row.attempts,
            **tracing.attributes_of({f"{model_name}_id": row.pk, **self.trace_attributes(row)}),
        }
        with tracing.continued(
            row.trace_context,
            f"deliver {model_name}",
            attributes,
            waited_since=row.created_at if row.attempts == 1 else None,
        ) as span:
            result = self._deliver_claimed(row)
            span.set_attribute("outbox.result", result)
        return result

    def _deliver_claimed(self, row: OutboxRow) -> str:
        pk = row.pk
        # The row counts every attempt, the sweeper's re-queues included (a task's own count
        # restarts with each re-queue), so it alone decides which attempt is the last.
        final_attempt = row.attempts >= getattr(settings, self.max_attempts_setting)
        with contextlib.ExitStack() as after:
            try:
                self.send(row, after)
            except Cancelled as exc:
                if self.cancelled_status is None:
                    return self._fail(row, describe_exception(exc))
                reason = str(exc)
                outbox.finish(
                    self.model,
                    self.model.objects.filter(pk=row.pk),
                    self.cancelled_status,
                    last_error=reason[:2000],
                )
                logger.info("%s %s cancelled: %s", self.name, pk, reason)
                return "cancelled"
            except Exception as exc:
                kind, error = self.classify(exc), self.describe(exc)
                if kind is Failure.PERMANENT:
                    return self._fail(row, error)
                if final_attempt:
                    self._fail(row, error)
                    raise DeliveryGaveUp(error) from exc
                outbox.release(row, error)
                raise TransientDeliveryError(error) from exc
            # Recorded before `after` unwinds: a worker killed between the server's "accepted"
            # and this update delivers again when the claim expires; keep that window short.
            outbox.done(row)
        return self.done_result

    def _fail(self, row: OutboxRow, error: str) -> str:
        outbox.fail(row, error)
        logger.warning("%s %s failed: %s", self.name, row.pk, error)
        return "failed"

    def deliver_in_order(self, ids: Iterable[int]) -> list[str]:
        """Deliver in order; a transient failure stops the batch (the rest stay pending,
        unclaimed) and raises, so the task's retry takes the batch again and skips what is
        already done or failed. One that gives up does not stop the others; the task fails
        after them."""
        results, gave_up = [], []
        for pk in ids:
            try:
                results.append(self.deliver(pk))
            except DeliveryGaveUp as exc:
                results.append("failed")
                gave_up.append(f"{pk}: {exc}")
        if gave_up:
            raise DeliveryGaveUp("; ".join(gave_up))
        return results


def delivery_task(
    delivery: Delivery,
    *,
    name: str,
    soft_time_limit: float,
    time_limit: float,
    batch: bool = False,
):
    """The thin Celery task of a delivery with the shared retry policy: one id in, `deliver`;
    or, with `batch`, any number of ids in, `deliver_in_order`.

    The row's attempts bound the retries (each retry claims the row, counting an attempt, and
    the last one raises DeliveryGaveUp), so the task has no `max_retries` of its own: its count
    restarts with every sweeper re-queue. Late acks are safe: a claimed or done row is skipped.
    """

    def run_one(pk: int) -> str:
        return delivery.deliver(pk)

    def run_batch(*ids: int) -> list[str]:
        return delivery.deliver_in_order(ids)

    run = run_batch if batch else run_one

    run.__name__ = run.__qualname__ = name.rpartition(".")[2]
    run.__doc__ = f"Deliver {delivery.model._meta.verbose_name_plural} by id."
    return shared_task(
        name=name,
        autoretry_for=(TransientDeliveryError,),  # not DeliveryGaveUp: the last attempt fails
        max_retries=None,
        soft_time_limit=soft_time_limit,
        time_limit=time_limit,
        acks_late=True,
        reject_on_worker_lost=True,
        **RETRY_BACKOFF,
    )(run)


def record(
    task: Task,
    rows: Sequence[OutboxRow],
    *,
    together: bool = False,
    hand_over: Callable[[list[OutboxRow]], object] | None = None,
) -> list[OutboxRow]:
    """Write a pipeline's rows in the caller's transaction (one INSERT) and, once it commits,
    hand the pending ones over: to `task` (one task per row, or one for all, `together`), or to
    `hand_over`, a short path that delivers them from this process and falls back to the task.
    A rollback hands over nothing. Rows written with another status (held) are not queued."""
    if not rows:
        return []
    # Each delivery continues the trace of the span writing the rows (the request's).
    traceparent = tracing.current_traceparent()
    for row in rows:
        row.trace_context = traceparent
    created = type(rows[0]).objects.bulk_create(rows)
    pending = [row for row in created if row.status == OutboxStatus.PENDING]
    if pending:
        if hand_over is None:
            outbox.enqueue_after_commit(task, [row.pk for row in pending], together=together)
        else:
            transaction.on_commit(lambda: hand_over(pending))
    return created
