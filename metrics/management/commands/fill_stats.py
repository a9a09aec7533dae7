"""manage.py fill_stats [--since DATE]: fill the statistics now (what beat does every minute)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_date, parse_datetime

from metrics.jobs import run_fill


def parse_since(value: str) -> datetime:
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"--since: not a date or date-time: {value!r}")
        moment = datetime(day.year, day.month, day.day)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Fill the activity statistics' missing time slices. With --since, first delete and "
        "recount everything from that date/time (UTC) on: a backfill or a rebuild; --since all "
        "rebuilds from the first message."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="YYYY-MM-DD[THH:MM] (UTC), or 'all'")

    def handle(self, *args: object, since: str | None = None, **options: object) -> None:
        start = None if since in (None, "all") else parse_since(since)
        # Through beat's lock: a rebuild must not delete counts under a running fill.
        report = run_fill(since=start, rebuild=since is not None)
        if report is None:
            raise CommandError("another fill_stats run holds the lock; try again shortly")
        for name in sorted(report.slices):
            self.stdout.write(
                f"{name}: {report.slices[name]} slices, {report.rows.get(name, 0)} rows"
            )
        if report.redone:
            self.stdout.write(f"redone after an unfinished run: {', '.join(report.redone)}")
        if not report.slices:
            self.stdout.write("nothing to fill: every statistic is up to date")
