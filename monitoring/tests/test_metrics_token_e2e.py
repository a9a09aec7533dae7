"""make up's rendered Prometheus config against a web app whose /metrics wants a bearer token:
a real Prometheus scrapes it with the token file the config names, and is refused without."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest
import yaml

import testing
from testing.prometheus import local_config

LATENCY = "chatplatform_http_request_duration_seconds"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_prometheus_scrapes_with_the_rendered_token_and_not_without(
    redis_service, live_server, settings, tmp_path: Path
) -> None:
    """The config make up renders sends the token: the web target is up and its numbers are
    queryable; the same target scraped without the token is down."""
    port = testing.free_port()
    web = f"127.0.0.1:{urllib.parse.urlsplit(live_server.url).port}"
    config = local_config(settings, tmp_path, {"web": web, "prometheus": f"127.0.0.1:{port}"})
    jobs = config["scrape_configs"]
    without = {**next(j for j in jobs if j["job_name"] == "web"), "job_name": "web-no-token"}
    without.pop("authorization")
    jobs.append(without)
    with testing.PrometheusProcess(yaml.safe_dump(config), port=port) as prometheus:
        query = prometheus.query
        testing.wait_until(lambda: query('up{job="web"} == 1'), 30, "the web job up")
        testing.wait_until(
            lambda: query(f'{LATENCY}_count{{job="web", view="metrics"}}'), 30, "its numbers"
        )
        down = testing.wait_until(lambda: query('up{job="web-no-token"}'), 30, "a scrape")
        assert down[0]["value"][1] == "0"
        assert not query(f'{LATENCY}_count{{job="web-no-token"}}')
