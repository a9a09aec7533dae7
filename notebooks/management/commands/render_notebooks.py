"""`manage.py render_notebooks`: execute the analysis notebooks on a report, render them to HTML.

`make notebooks` runs it on the latest report; beat does the same once a day.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from notebooks.render import RenderError, render, render_latest


class Command(BaseCommand):
    help = "Execute every notebook in notebooks/ on a report and write HTML to <report>/notebooks/."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--report-dir", default="", help="a report folder (default: latest)")
        parser.add_argument("--start", default="", help="first day, YYYY-MM-DD (default: report's)")
        parser.add_argument("--end", default="", help="last day, YYYY-MM-DD (default: report's)")

    def handle(
        self, *args: object, report_dir: str, start: str, end: str, **options: object
    ) -> None:
        try:
            if report_dir:
                paths = render(report_dir, start=start, end=end)
            else:  # the latest report, published at REPORTS_DIR/notebooks as beat's job does
                paths = render_latest(start=start, end=end)
        except (FileNotFoundError, ValueError, RenderError) as error:
            raise CommandError(str(error)) from error
        for path in paths:
            self.stdout.write(str(path))
