"""The end-to-end tests' Prometheus config: make up's rendering, pointed at their processes."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import yaml

import testing
from monitoring.prometheus import config as prometheus_config


def local_config(settings: Any, tmp_path: Path, targets: dict[str, str | list[dict]]) -> dict:
    """prometheus.yml as make up renders it, scraping every second, with `targets` as
    `render_config` takes them. /metrics wants a bearer token, as in production, and the web job
    sends it from a file. A job not given points at a port nobody listens on: not in that test."""
    settings.METRICS_BEARER_TOKEN = "e2e-metrics-token"
    token_file = tmp_path / "metrics-token"
    token_file.write_text(settings.METRICS_BEARER_TOKEN)
    unused = {job: f"127.0.0.1:{testing.free_port()}" for job in prometheus_config.JOBS}
    rendered = prometheus_config.render_config(
        {**unused, "celery-workers": [], **targets},
        scrape_interval="1s",
        web_token_file=token_file,
    )
    return yaml.safe_load(rendered)


def local_prometheus(
    settings: Any,
    tmp_path: Path,
    web_url: str,
    targets: dict[str, str | list[dict]],
    rule_files: list[Path] | None = None,
    extra_args: list[str] | None = None,
) -> testing.PrometheusProcess:
    """A Prometheus (not started) on a free port with `local_config`: the web job at `web_url`
    (the live_server), its own job at itself, the other `targets` as given. `rule_files` replace
    the real rules (e.g. a copy with shorter `for`)."""
    port = testing.free_port()
    web = f"127.0.0.1:{urllib.parse.urlsplit(web_url).port}"
    config = local_config(
        settings, tmp_path, {"web": web, "prometheus": f"127.0.0.1:{port}", **targets}
    )
    if rule_files is not None:
        config["rule_files"] = [str(path) for path in rule_files]
    return testing.PrometheusProcess(yaml.safe_dump(config), port=port, extra_args=extra_args)
