"""Write the chat-activity gauges of the past as OpenMetrics, for `promtool tsdb
create-blocks-from openmetrics` (scripts/run-prometheus.sh runs both before a first start)."""

from datetime import timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from observability.history import history_lines, history_range


class Command(BaseCommand):
    help = "Write the web app's chat-activity gauges since the first user as OpenMetrics."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", required=True, help="The OpenMetrics file to write.")
        parser.add_argument(
            "--instance", required=True, help="host:port of the web app, as Prometheus scrapes it."
        )
        parser.add_argument(
            "--job", default="web", help="The web app's scrape job (prometheus.yml)."
        )
        parser.add_argument("--step", type=int, default=120, help="Seconds between samples.")
        parser.add_argument("--days", type=int, default=30, help="At most this many days back.")

    def handle(self, *args: object, **options: object) -> None:
        output = Path(str(options["output"]))
        found = history_range(timezone.now(), int(options["days"]))
        if found is None:
            self.stdout.write("No users yet: no history to write.")
            return
        start, end = found
        lines = history_lines(
            start,
            end,
            timedelta(seconds=int(options["step"])),
            str(options["job"]),
            str(options["instance"]),
        )
        partial = output.with_name(output.name + ".partial")
        with partial.open("w", encoding="utf-8") as out:
            for line in lines:
                out.write(line + "\n")
        partial.replace(output)  # never half a file for promtool
        self.stdout.write(
            f"History from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC in {output}."
        )
