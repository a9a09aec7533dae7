"""Fill the statistics of `metrics.stats` incrementally from the raw tables (the write side).

This is the driver, the same for every statistic: when to fill, in which steps, and how a crash
is redone. What a step writes and deletes, where a first fill starts and which table holds the
rows is the statistic's own (`metrics.kinds`), so a new kind needs no change here.

Each statistic has a `FillState`: everything before `filled_until` is final. A run fills only
the slices from there to the last complete slice before `until`, a bounded step at a time, each
step reading the raw table through its time index (`created_at`, `date_joined`, `at`) with one
grouped `INSERT ... SELECT`, so its cost grows with the new rows, not with history. A step is:

1. mark the state STARTED (committed), so a crash is visible;
2. in one transaction: delete the step's rows, insert the new counts, move `filled_until`, mark
   DONE.

A step deletes every row from its start on (provisional rows of later slices included) and sets
`partial_until` back to its end, so partial rows never outlive the final ones they precede.

After the final steps, the run writes the slices still in progress, from `filled_until` to the
end of the slice holding `now`, as **partial** rows, in one transaction: delete from
`filled_until` on, write, set `partial_until`. They are recomputed on every run (beat: every
minute) until their slice is complete, when a normal step replaces them for good; readers tell
them apart by `FillState.filled_until` (final before it) and `partial_until` (partial rows end).
A crash there rolls back and leaves the previous run's partial rows, still marked partial.
The cost of a partial run is bounded by the slice and its statistic's window, never by history:
an hourly statistic reads the hour so far through the time index; the day's active users read
their window of UserDayActivity (for active_users_30d: 30 days of user-days, about users x 30
rows, each minute), an indexed range that grows with users, not with the weeks recorded.

A run that finds STARTED deletes every row of the statistic from `filled_until` on (partial rows
included) and redoes the step, so a crashed run is redone cleanly. A run after a long pause (beat
was down) fills the whole gap. Running twice gives the same rows: a slice is only ever written
whole. Zero counts are not stored. Statistics that depend on another (active users on user-day
activity) never run ahead of it: their partial rows end where the dependency's do.

Rows created with a time already filled (clock skew, a bulk import into the past) are counted
only by a rebuild: `rebuild_activity_counts(since=...)` or `manage.py fill_stats --since`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from core import tallies

from .kinds import Stat
from .models import FillState, HourlyCount
from .stats import all_stats
from .timeutil import floor_time

logger = logging.getLogger(__name__)

# Slices per step: a step is one transaction and one grouped INSERT ... SELECT (the counts never
# travel to Python). Big enough that a 90-day rebuild takes few steps, small enough that a step's
# transaction stays short.
STEP_SLICES = {timedelta(hours=1): 168, timedelta(days=1): 31}


@dataclass
class FillReport:
    """What one run did, per statistic: slices filled and rows written."""

    slices: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    redone: list[str] = field(default_factory=list)
    partial: dict[str, int] = field(default_factory=dict)  # provisional rows written


# A row is stamped when its transaction starts and visible only once it commits: a slice is
# counted only when it ended this long ago, so a late commit is never left out for good.
SETTLE = timedelta(minutes=2)


def _write_step(stat: Stat, start: datetime, end: datetime) -> int:
    """Write the statistic's rows for [start, end) (runs inside the step's transaction; the
    crash tests make it fail there). Returns the rows written."""
    return stat.write_rows(start, end)


def _write_partial(stat: Stat, start: datetime, end: datetime) -> int:
    """Write the provisional rows of [start, end) (inside the partial transaction; the crash
    tests make it fail there)."""
    return stat.write_rows(start, end)


def final_total_name(stat: str) -> str:
    """The running total of an hourly total's final rows (before its `filled_until`)."""
    return f"fill.final.{stat}"


def _final_sum(stat: Stat, start: datetime | None, end: datetime) -> int:
    rows = HourlyCount.objects.filter(stat=stat.name, chat_id__isnull=True, hour__lt=end)
    if start is not None:
        rows = rows.filter(hour__gte=start)
    return rows.aggregate(n=Sum("value"))["n"] or 0


def _start_final_total(stat: Stat, state: FillState) -> None:
    """Count an hourly total's final rows once (a first fill, an install from before the
    totals, a rebuild): from then on each step adds its own, so readers of "ever" (messages
    ever sent, on the 5-second path) read one row instead of summing every hour."""
    if stat.hourly_total and tallies.get(final_total_name(stat.name)) is None:
        with transaction.atomic():
            tallies.start(final_total_name(stat.name), _final_sum(stat, None, state.filled_until))


def _fill_step(state: FillState, stat: Stat, step_end: datetime) -> int:
    start = state.filled_until
    FillState.objects.filter(pk=state.pk).update(
        state=FillState.State.STARTED, updated_at=timezone.now()
    )
    with transaction.atomic():
        stat.delete_rows(start)  # from start on: the partial rows after step_end too
        written = _write_step(stat, start, step_end)
        if stat.hourly_total:
            tallies.add({final_total_name(stat.name): _final_sum(stat, start, step_end)})
        FillState.objects.filter(pk=state.pk).update(
            filled_until=step_end,
            partial_until=step_end,
            state=FillState.State.DONE,
            updated_at=timezone.now(),
        )
    state.filled_until, state.partial_until = step_end, step_end
    state.state = FillState.State.DONE
    return written


def _partial_end(stat: Stat, now: datetime) -> datetime:
    """The end of the slice holding `now`, never past a dependency's partial rows."""
    end = floor_time(now, stat.slice) + stat.slice
    for dependency in stat.depends_on:
        state = FillState.objects.filter(stat=dependency).first()
        if state is not None:
            end = min(end, state.partial_until or state.filled_until)
    return floor_time(end, stat.slice)


def _fill_partial(state: FillState, stat: Stat, now: datetime, unchanged: set[str]) -> int:
    """Rewrite the provisional rows from `filled_until` to the end of the slice holding `now`
    in one transaction (a crash leaves the previous ones); 0 when nothing is in progress.

    Left as they are (0, and `stat` joins `unchanged`) when they would come out the same:
    they cover the same slices, and no raw row of those slices was stamped since the previous
    write (less SETTLE, for a transaction that began before it and committed after), or, for
    a statistic computed from others, none of those was rewritten. With nothing new a run
    costs a few index probes, not a recount of the slice (or of a 30-day window of user-days).
    A row deleted from the slice in progress (a user's account) is seen when the slice becomes
    final, as a late row is: the partial rows are provisional."""
    start, end = state.filled_until, _partial_end(stat, now)
    stale = state.partial_until is not None and state.partial_until > start
    if end <= start and not stale:
        return 0
    end = max(start, end)
    if state.partial_until == end and end > start and state.state == FillState.State.DONE:
        if stat.depends_on:
            same = all(name in unchanged for name in stat.depends_on)
        else:
            same = not stat.raw_between(state.updated_at - SETTLE, end)
        if same:
            unchanged.add(stat.name)
            return 0
    with transaction.atomic():
        stat.delete_rows(start)
        written = _write_partial(stat, start, end) if end > start else 0
        FillState.objects.filter(pk=state.pk).update(partial_until=end, updated_at=now)
    state.partial_until, state.updated_at = end, now
    return written


def _fill_target(stat: Stat, until: datetime) -> datetime | None:
    """The end of the last complete slice before `until`, never past a dependency's fill
    (None: a dependency was never filled, so there is nothing to build on yet)."""
    target = floor_time(until, stat.slice)
    for dependency in stat.depends_on:
        filled = FillState.objects.filter(stat=dependency).values_list("filled_until", flat=True)
        if not filled:
            return None
        target = min(target, filled[0])
    return floor_time(target, stat.slice)


def _state_for(stat: Stat, target: datetime) -> FillState:
    state = FillState.objects.filter(stat=stat.name).first()
    if state is not None:
        return state
    first = stat.first_raw_time()
    start = target if first is None else min(floor_time(first, stat.slice), target)
    state, _ = FillState.objects.get_or_create(stat=stat.name, defaults={"filled_until": start})
    return state


def fill_stat(
    stat: Stat,
    until: datetime,
    report: FillReport | None = None,
    now: datetime | None = None,
    unchanged: set[str] | None = None,
) -> FillReport:
    """Fill one statistic up to the last complete slice before `until`, then its partial rows
    up to the end of the slice holding `now` (default: `until` + SETTLE). `unchanged` collects
    the statistics whose partial rows this run left as they were."""
    report = report or FillReport()
    unchanged = set() if unchanged is None else unchanged
    target = _fill_target(stat, until)
    if target is None:
        return report
    state = _state_for(stat, target)
    _start_final_total(stat, state)
    if state.state == FillState.State.STARTED:
        deleted = stat.delete_rows(state.filled_until)
        logger.warning(
            "%s: redoing an unfinished step from %s (%d rows deleted)",
            stat.name,
            state.filled_until,
            deleted,
        )
        FillState.objects.filter(pk=state.pk).update(
            state=FillState.State.DONE, partial_until=state.filled_until
        )
        state.partial_until = state.filled_until
        report.redone.append(stat.name)
    step = stat.slice * STEP_SLICES[stat.slice]
    while state.filled_until < target:
        step_end = min(state.filled_until + step, target)
        slices = round((step_end - state.filled_until) / stat.slice)
        written = _fill_step(state, stat, step_end)
        report.slices[stat.name] = report.slices.get(stat.name, 0) + slices
        report.rows[stat.name] = report.rows.get(stat.name, 0) + written
    written = _fill_partial(state, stat, now or until + SETTLE, unchanged)
    if written:
        report.partial[stat.name] = written
    return report


def fill_activity_counts(
    until: datetime | None = None, stats: list[str] | None = None, now: datetime | None = None
) -> FillReport:
    """Fill every statistic (or the named ones) up to `until` (default: SETTLE before `now`),
    and the slices in progress up to `now` as partial rows (default: `until` + SETTLE, so a
    run at a given `until` always writes the same rows)."""
    if until is None:
        now = now or timezone.now()
        until = now - SETTLE
    now = now or until + SETTLE
    report, unchanged = FillReport(), set[str]()
    for name, stat in all_stats().items():
        if stats is None or name in stats:
            fill_stat(stat, until, report, now, unchanged)
    return report


def rebuild_activity_counts(
    since: datetime | None = None, until: datetime | None = None
) -> FillReport:
    """Recount from `since` (default: from the first raw row), then fill up to `until`.

    Deletes each statistic's rows from `since` on and moves its FillState back, then runs the
    normal fill; windowed statistics are recomputed for every day from `since` on too.
    """
    stats = all_stats()
    with transaction.atomic():
        # Recounted from the rows that remain on the next fill.
        tallies.drop(final_total_name(name) for name, stat in stats.items() if stat.hourly_total)
        if since is None:
            for model in dict.fromkeys(stat.output_model for stat in stats.values()):
                model.objects.all().delete()  # the whole table: rows of a retired name too
            FillState.objects.all().delete()
        else:
            for stat in stats.values():
                start = floor_time(since, stat.slice)
                stat.delete_rows(start)
                FillState.objects.filter(stat=stat.name, filled_until__gt=start).update(
                    filled_until=start, state=FillState.State.DONE, updated_at=timezone.now()
                )
                FillState.objects.filter(stat=stat.name, partial_until__gt=start).update(
                    partial_until=start  # the partial rows after it were deleted too
                )
    return fill_activity_counts(until=until)
