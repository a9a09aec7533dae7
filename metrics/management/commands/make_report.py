"""manage.py make_report: write a report folder now (what beat does every 5 minutes)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from metrics.jobs import recorded
from metrics.reports import make_report


class Command(BaseCommand):
    help = "Write a report (tables, charts, HTML) under REPORTS_DIR from the statistics."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dir", help="reports directory (default: settings.REPORTS_DIR)")
        parser.add_argument("--days", type=int, help="days covered (default: REPORTS_RANGE_DAYS)")

    def handle(self, *args: object, dir: str | None = None, days: int | None = None, **_: object):
        with recorded("make_report"):
            folder = make_report(reports_dir=dir, days=days)
        self.stdout.write(str(folder))
