"""Prometheus as the end-to-end tests run it: the config `make up` renders, pointed at the test's
processes. Shared by the monitoring and observability tests, so it lives in the test tooling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from monitoring.prometheus import config as prometheus_config

from .processes import free_port


def local_config(settings: Any, tmp_path: Path, targets: dict[str, str | list[dict]]) -> dict:
    """prometheus.yml as make up renders it, scraping every second, with `targets` as
    `render_config` takes them. /metrics wants a bearer token, as in production, and the web job
    sends it from a file. A job not given points at a port nobody listens on: not in that test."""
    settings.METRICS_BEARER_TOKEN = "e2e-metrics-token"
    token_file = tmp_path / "metrics-token"
    token_file.write_text(settings.METRICS_BEARER_TOKEN)
    unused = {job: f"127.0.0.1:{free_port()}" for job in prometheus_config.JOBS}
    rendered = prometheus_config.render_config(
        {**unused, "celery-workers": [], **targets},
        scrape_interval="1s",
        web_token_file=token_file,
    )
    return yaml.safe_load(rendered)
