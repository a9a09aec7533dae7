"""Precomputed activity statistics: counts per time slice, fill progress, snapshot, job runs.

The raw tables (messages, users, membership events) are read only by the fill, one time slice at
a time through their time index; everything else (reports, /metrics, the live page) reads these
small tables. Zero counts are not stored: a missing row means 0. The live snapshot is kept in
Redis (metrics.snapshot), not here.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class HourlyCount(models.Model):
    """One statistic's value for one hour (`hour` is the slice's start, UTC).

    `chat_id` is null for a total and set for a per-chat statistic (`messages_sent_by_chat`).
    """

    stat = models.CharField(max_length=40)
    chat_id = models.BigIntegerField(null=True, blank=True)
    hour = models.DateTimeField()
    value = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stat", "hour"], condition=Q(chat_id__isnull=True), name="hourly_total_once"
            ),
            models.UniqueConstraint(
                fields=["stat", "chat_id", "hour"],
                condition=Q(chat_id__isnull=False),
                name="hourly_chat_once",
            ),
        ]
        indexes = [models.Index(fields=["stat", "hour"], name="hourlycount_stat_hour_idx")]

    def __str__(self) -> str:
        return f"{self.stat}[{self.chat_id}] {self.hour:%Y-%m-%d %H}h = {self.value}"


class DailyCount(models.Model):
    """One statistic's value for one UTC day (daily, 7-day and 30-day active users)."""

    stat = models.CharField(max_length=40)
    day = models.DateField()
    value = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stat", "day"], name="daily_stat_once")]

    def __str__(self) -> str:
        return f"{self.stat} {self.day} = {self.value}"


class UserDayActivity(models.Model):
    """Messages one user sent on one UTC day: the base of active users and cohort retention.

    Distinct users over a window cannot be summed from hourly totals, so this is the smallest
    table from which any window's distinct active users can be counted.
    """

    user_id = models.BigIntegerField()
    day = models.DateField()
    messages = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "user_id"], name="user_day_activity_once")
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} on {self.day}: {self.messages}"


class ChatFirstReply(models.Model):
    """When each chat got its first message, and its first message from someone else.

    Filled like a statistic, step by step: a step only sets missing values, so a redo clears what
    the step set (rows first seen in it are deleted, replies first seen in it are unset).
    """

    chat_id = models.BigIntegerField(primary_key=True)
    first_message_at = models.DateTimeField()
    first_author_id = models.BigIntegerField()
    first_reply_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The report reads the chats whose first message is in its range through the first;
        # each fill step (and each minute's partial rows) clears the replies it will write again
        # through the second, instead of scanning a row per chat ever.
        indexes = [
            models.Index(fields=["first_message_at"], name="first_reply_message_at_idx"),
            models.Index(fields=["first_reply_at"], name="first_reply_reply_at_idx"),
        ]

    def __str__(self) -> str:
        return f"chat {self.chat_id}: first {self.first_message_at}, reply {self.first_reply_at}"


class FillState(models.Model):
    """How far one statistic is filled, and whether the last step finished.

    Everything before `filled_until` is final. Rows from there to `partial_until` are partial:
    the slice(s) still in progress, recomputed on every run until complete (null or equal to
    `filled_until`: none). `STARTED` means a step beyond it began and did not finish (the process
    died): its rows, partial ones included, are deleted and the step is redone on the next run.
    """

    class State(models.TextChoices):
        DONE = "done", "Done"
        STARTED = "started", "Started"

    stat = models.CharField(max_length=40, unique=True)
    filled_until = models.DateTimeField()
    partial_until = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.DONE)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.stat} filled until {self.filled_until:%Y-%m-%d %H:%M} ({self.state})"


class JobRun(models.Model):
    """The last run of one periodic job, so an alert fires when beat or the worker stops."""

    job = models.CharField(max_length=40, unique=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_duration_seconds = models.FloatField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    successes = models.PositiveBigIntegerField(default=0)
    failures = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.job}: last success {self.last_success_at}"
