"""manage.py make_report: write a report folder now (what beat does every 5 minutes)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.jobs import run_report


class Command(BaseCommand):
    help = "Write a report (tables, charts, HTML) under REPORTS_DIR from the statistics."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dir", help="reports directory (default: settings.REPORTS_DIR)")
        parser.add_argument("--days", type=int, help="days covered (default: REPORTS_RANGE_DAYS)")

    def handle(self, *args: object, dir: str | None = None, days: int | None = None, **_: object):
        folder = run_report(reports_dir=dir, days=days)  # through beat's lock
        if folder is None:
            raise CommandError("another make_report run holds the lock; try again shortly")
        self.stdout.write(str(folder))
