"""The live snapshot's shape, declared once: `SnapshotSerializer`.

The snapshot is the JSON beat computes every few seconds (metrics.snapshot), stores in Redis and
publishes to the live page; /api/stats/ and /metrics serve the stored copy. This one
declaration drives:

- what is produced: `build` renders the computed values through the serializer, so a declared
  key that is missing raises and an undeclared one is refused (beat fails loudly, not the page);
- the OpenAPI schema of GET /api/stats/ (`extend_schema(responses=SnapshotSerializer)`): each
  field's help text is its documentation;
- the Prometheus gauges: a field with a `metric` is exported by `observability.prometheus`, which
  walks the declaration and names no key itself;
- what the live page reads: `metrics/tests/test_contract.py` checks every key live.js and
  live.html read against this declaration.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from rest_framework import serializers


@dataclass(frozen=True)
class Family:
    """One Prometheus metric family (name without the `chatplatform_` prefix)."""

    name: str
    doc: str
    labels: tuple[str, ...] = ()
    counter: bool = False


@dataclass(frozen=True)
class Metric:
    """How a field is exported: its family, its own label values, its value as a float."""

    family: Family
    labels: dict[str, str] = field(default_factory=dict)
    value: Callable[[Any], float] = float


class _Exported:
    """A field that may carry a `metric` (kept by DRF's copies: it is a constructor argument)."""

    def __init__(self, *args: Any, metric: Metric | None = None, **kwargs: Any) -> None:
        self.metric = metric
        super().__init__(*args, **kwargs)


class _Labelled:
    """A container whose items are exported with their position as the label `label_name`."""

    def __init__(self, *args: Any, label_name: str, **kwargs: Any) -> None:
        self.label_name = label_name
        super().__init__(*args, **kwargs)


class Count(_Exported, serializers.IntegerField):
    pass


class Seconds(_Exported, serializers.FloatField):
    pass


class Moment(_Exported, serializers.DateTimeField):
    """An ISO 8601 string in UTC, passed through as the snapshot wrote it."""


class Ranked(_Labelled, serializers.ListField):
    """A list in rank order; an item's label is its 1-based rank."""


class Keyed(_Labelled, serializers.DictField):
    """An object keyed by name; an item's label is its key."""


def seconds_since(iso: str) -> float:
    """Age of an ISO 8601 moment at scrape time: the snapshot's age grows when beat stops."""
    return max(0.0, time.time() - datetime.fromisoformat(iso).timestamp())


ACTIVE = Family(
    "active_users",
    "Users who sent a message in the window (UTC days, today included).",
    ("window",),
)
NOTIFICATIONS = Family(
    "notifications",
    "Admin emails in flight by state (pending includes those being sent; held: over the"
    " per-inbox cap, waiting for a digest).",
    ("status",),
)
# Finished rows are counted as they finish (core.tallies): totals that never fall, not even when
# retention deletes the rows, so rules take increase() of them.
NOTIFICATIONS_DONE = Family(
    "notifications_done",
    "Admin emails finished, by how: sent, failed (given up on), folded into a digest, or"
    " cancelled (the recipient no longer took email when it was to be sent).",
    ("status",),
    counter=True,
)
PUBLICATIONS = Family(
    "publications",
    "Live events for Centrifugo in flight (pending includes those being sent).",
    ("status",),
)
PUBLICATIONS_DONE = Family(
    "publications_done",
    "Live events finished, by how: sent to Centrifugo or failed (given up on).",
    ("status",),
    counter=True,
)
RETENTION_DELETED = Family(
    "retention_deleted",
    "Rows (report folders for `reports`) deleted by the retention job, by table.",
    ("table",),
    counter=True,
)
JOB_SUCCESS = Family(
    "stats_job_last_success_timestamp_seconds",
    "Unix time of the statistics job's last successful run.",
    ("stats_job",),
)
JOB_DURATION = Family(
    "stats_job_duration_seconds",
    "Duration of the statistics job's last successful run.",
    ("stats_job",),
)
TOP_CHAT = Family(
    "top_chat_messages_last_day",
    "Messages in the last 24 hours of the busiest chats, by rank (1 = busiest).",
    ("rank",),
)


def _number(name: str, doc: str, counter: bool = False, **kwargs: Any) -> Count:
    """A number exported alone, its Prometheus HELP text the same as its documentation."""
    return Count(help_text=doc, metric=Metric(Family(name, doc, counter=counter)), **kwargs)


def _status(family: Family, status: str) -> Metric:
    return Metric(family, {"status": status})


class PublicationsSerializer(serializers.Serializer):
    """Live events (the Publication outbox) per delivery status."""

    pending = Count(help_text="Waiting for their first attempt or a retry.")
    sending = Count(help_text="Claimed by a worker now.")
    sent = Count(help_text="Delivered, ever.", metric=_status(PUBLICATIONS_DONE, "sent"))
    failed = Count(help_text="Given up on, ever.", metric=_status(PUBLICATIONS_DONE, "failed"))


def _deleted(table: str, doc: str) -> Count:
    return Count(help_text=doc, metric=Metric(RETENTION_DELETED, {"table": table}))


class RetentionSerializer(serializers.Serializer):
    """What the retention job (metrics.retention) deleted, ever: totals that only grow."""

    notifications = _deleted("notifications", "Finished admin emails deleted.")
    publications = _deleted("publications", "Finished live events deleted.")
    refused_attempts = _deleted("refused_attempts", "Rate-limit refusal rows deleted.")
    reports = _deleted("reports", "Report folders deleted.")


class MinuteSerializer(serializers.Serializer):
    minute = serializers.CharField(help_text='The minute, UTC: "YYYY-MM-DDTHH:MMZ".')
    messages = Count(help_text="Messages created in that minute.")


class TopChatSerializer(serializers.Serializer):
    chat_id = Count()
    title = serializers.CharField()
    messages = Count(help_text="Messages in the last 24 hours.", metric=Metric(TOP_CHAT))


class JobRunSerializer(serializers.Serializer):
    last_success_at = Moment(allow_null=True)
    last_success_timestamp = Seconds(
        allow_null=True,
        help_text="The same instant as last_success_at, as Unix seconds (for Prometheus).",
        metric=Metric(JOB_SUCCESS),
    )
    last_duration_seconds = Seconds(
        allow_null=True, help_text="How long the last run took.", metric=Metric(JOB_DURATION)
    )
    last_failure_at = Moment(allow_null=True)


class SnapshotSerializer(serializers.Serializer):
    """Live activity statistics; computed by beat every few seconds (see generated_at)."""

    users = _number("users", "Registered users.")
    chats = _number("chats", "Chats that exist.")
    messages_total = _number("messages", "Messages ever sent (deleted ones included).", True)
    messages_last_hour = _number("messages_last_hour", "Messages sent in the last 60 minutes.")
    active_users_1d = Count(
        help_text="Users who sent a message today (UTC).", metric=Metric(ACTIVE, {"window": "1d"})
    )
    active_users_7d = Count(
        help_text="Users who sent a message in the last 7 UTC days, today included.",
        metric=Metric(ACTIVE, {"window": "7d"}),
    )
    active_users_30d = Count(
        help_text="Users who sent a message in the last 30 UTC days, today included.",
        metric=Metric(ACTIVE, {"window": "30d"}),
    )
    new_users_last_day = _number("new_users_last_day", "Accounts created in the last 24 hours.")
    notifications_pending = Count(
        help_text="Admin emails waiting: pending plus being sent.",
        metric=_status(NOTIFICATIONS, "pending"),
    )
    notifications_sent = Count(
        help_text="Admin emails delivered, ever (deleted rows included).",
        metric=_status(NOTIFICATIONS_DONE, "sent"),
    )
    notifications_failed = Count(
        help_text="Admin emails given up on, ever (deleted rows included).",
        metric=_status(NOTIFICATIONS_DONE, "failed"),
    )
    notifications_folded = Count(
        help_text="Held admin emails folded into a digest, ever (deleted rows included).",
        metric=_status(NOTIFICATIONS_DONE, "folded"),
    )
    notifications_cancelled = Count(
        help_text="Admin emails not sent because their recipient no longer took email when "
        "their turn came (deactivated, all email off, address changed or not confirmed, account "
        "deleted), ever (deleted rows included). An opt-out, not a failure: not in "
        "notifications_failed.",
        metric=_status(NOTIFICATIONS_DONE, "cancelled"),
    )
    notifications_held = Count(
        help_text="Admin emails over a recipient's EMAIL_RECIPIENT_LIMIT, waiting to be folded "
        "into that inbox's digest (chats.emails.digest); a rise means someone floods an inbox.",
        metric=_status(NOTIFICATIONS, "held"),
    )
    publications_pending = Count(
        help_text="Live events waiting: publications.pending + publications.sending (derived "
        "from `publications`, kept flat like notifications_pending).",
        metric=_status(PUBLICATIONS, "pending"),
    )
    publications_failed = Count(
        help_text="Live events given up on (Centrifugo refused them PUBLICATION_MAX_ATTEMPTS "
        "times): publications.failed, kept flat like notifications_failed for the live page."
    )
    publications = PublicationsSerializer(help_text="Live events for Centrifugo per status.")
    retention_deleted = RetentionSerializer(
        help_text="Rows and report folders the retention job deleted, ever."
    )
    tasks_failed_last_hour = Count(
        allow_null=True,
        help_text="Celery tasks that failed in the last 60 minutes, all workers (null when "
        "Redis did not answer). Flower counts the same failures per task for operators.",
        metric=Metric(
            Family(
                "tasks_failed_last_hour",
                "Celery tasks that failed in the last 60 minutes (all workers).",
            )
        ),
    )
    online_users = Count(
        allow_null=True,
        help_text="Users connected to Centrifugo now (null when Centrifugo does not answer).",
        metric=Metric(Family("online_users", "Users connected to Centrifugo now.")),
    )
    messages_per_minute = serializers.ListField(
        child=MinuteSerializer(), help_text="The last 60 minutes, oldest first, zeros included."
    )
    top_chats = Ranked(
        child=TopChatSerializer(),
        label_name="rank",
        help_text="Up to 5 chats with the most messages in the last 24 hours, busiest first.",
    )
    jobs = Keyed(
        child=JobRunSerializer(),
        label_name="stats_job",
        help_text="The last run of each periodic statistics job, by job name.",
    )
    generated_at = Moment(
        help_text="When beat computed this snapshot (UTC).",
        metric=Metric(
            Family("snapshot_age_seconds", "Seconds since beat computed the statistics snapshot."),
            value=seconds_since,
        ),
    )


DECLARED = SnapshotSerializer()


def objects(
    serializer: serializers.Serializer, data: Mapping, labels: dict[str, str]
) -> Iterator[tuple[serializers.Serializer, Mapping, dict[str, str]]]:
    """Each object in `data` with its serializer and the labels its position gives (a rank, a
    job's name): the snapshot first, then nested objects, list items and dict values."""
    yield serializer, data, labels
    for name, declared in serializer.fields.items():
        value = data.get(name)
        if isinstance(declared, serializers.Serializer) and value is not None:
            yield from objects(declared, value, labels)
        elif isinstance(declared, serializers.ListField) and isinstance(
            declared.child, serializers.Serializer
        ):
            for rank, item in enumerate(value or [], start=1):
                label = {declared.label_name: str(rank)} if isinstance(declared, Ranked) else {}
                yield from objects(declared.child, item, {**labels, **label})
        elif isinstance(declared, Keyed):
            for key in sorted(value or {}):
                yield from objects(declared.child, value[key], {**labels, declared.label_name: key})


def mismatched_keys(snapshot: Mapping) -> list[str]:
    """Keys (at any depth) the snapshot has and the declaration does not name, or the reverse:
    a nullable field left out would otherwise pass as null."""
    found = []
    for serializer, data, _ in objects(DECLARED, snapshot, {}):
        name = type(serializer).__name__
        found += [f"undeclared {name}.{key}" for key in set(data) - set(serializer.fields)]
        found += [f"missing {name}.{key}" for key in set(serializer.fields) - set(data)]
    return sorted(found)


def build(values: Mapping) -> dict[str, Any]:
    """The snapshot as declared: raises if a declared key is missing or an undeclared one is
    given (at any depth), so what beat stores is what the schema documents."""
    mismatched = mismatched_keys(values)
    if mismatched:
        raise ValueError(f"snapshot keys differ from the declaration: {', '.join(mismatched)}")
    return dict(SnapshotSerializer(values).data)


def _leaf_fields(serializer: serializers.Serializer) -> Iterator[serializers.Field]:
    """The leaf fields of the declaration, depth first (a list's or dict's items included)."""
    for declared in serializer.fields.values():
        nested = getattr(declared, "child", declared)
        if isinstance(nested, serializers.Serializer):
            yield from _leaf_fields(nested)
        else:
            yield declared


@cache  # the declaration is fixed: walk it once, not on every scrape
def families() -> tuple[Family, ...]:
    """Every metric family the declaration exports, once, in declaration order."""
    found = {
        leaf.metric.family.name: leaf.metric.family
        for leaf in _leaf_fields(DECLARED)
        if getattr(leaf, "metric", None)
    }
    return tuple(found.values())
