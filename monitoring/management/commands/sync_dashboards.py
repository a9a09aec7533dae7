"""manage.py sync_dashboards: push every dashboard (and the datasource if missing) to Grafana."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from monitoring.grafana.client import SyncError, sync


class Command(BaseCommand):
    help = (
        "Create or update every Chat Platform dashboard in a running Grafana through its HTTP "
        "API, creating the Prometheus datasource (fixed uid) first if Grafana lacks it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--url", required=True, help="Grafana's base URL, e.g. http://127.0.0.1:3000"
        )
        parser.add_argument(
            "--token", required=True, help="a Grafana service account token (Editor)"
        )
        parser.add_argument(
            "--prometheus-url",
            default=settings.PROMETHEUS_URL,
            help="the URL Grafana reaches Prometheus at, used only when creating the datasource "
            "(default: PROMETHEUS_URL, %(default)s)",
        )
        parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")

    def handle(
        self, *args, url: str, token: str, prometheus_url: str, timeout: float, **options
    ) -> None:
        try:
            report = sync(url.rstrip("/"), token, prometheus_url, timeout=timeout)
        except SyncError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"datasource {report.datasource}")
        for title in report.created:
            self.stdout.write(f"created {title}")
        for title in report.updated:
            self.stdout.write(f"updated {title}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(report.created)} created, {len(report.updated)} updated at {url}"
            )
        )
