"""/metrics as an outsider sees it: labels a client cannot multiply, a bearer token when one is
set (and a real Prometheus that sends it), and no start without one when DEBUG is off."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import urllib.parse
from http import HTTPStatus
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

import testing
from dashboards import prometheus_config

LATENCY = "chatplatform_http_request_duration_seconds"
TOKEN = "test-metrics-bearer-token"


def latency_label_values(text: str, label: str) -> set[str]:
    """Every value `label` takes in the request-latency histogram of a /metrics text."""
    return {
        sample.labels[label]
        for family in text_string_to_metric_families(text)
        if family.name == LATENCY
        for sample in family.samples
    }


@pytest.mark.django_db
def test_made_up_methods_and_statuses_add_no_series(client, settings) -> None:
    settings.METRICS_BEARER_TOKEN = ""
    for number in range(40):
        client.generic(f"FOO{number}", "/api/chats/")
        client.generic(f"FOO{number}", f"/no-such-page-{number}/")
    text = client.get("/metrics").content.decode()
    methods = latency_label_values(text, "method")
    assert "other" in methods
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
    views = latency_label_values(text, "view")
    assert "unmatched" in views
    assert not [view for view in views if "no-such-page" in view]
    standard = {str(status.value) for status in HTTPStatus}
    assert latency_label_values(text, "status") <= standard | {"other"}


@pytest.mark.django_db
def test_a_set_token_is_required(client, settings) -> None:
    settings.METRICS_BEARER_TOKEN = TOKEN
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 403
    basic = client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}")
    assert basic.status_code == 401
    for refused in (missing, wrong, basic):
        assert b"chatplatform_" not in refused.content
    right = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert right.status_code == 200
    assert LATENCY.encode() in right.content


@pytest.mark.django_db
def test_an_empty_token_leaves_metrics_open(client, settings) -> None:
    settings.METRICS_BEARER_TOKEN = ""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert LATENCY.encode() in response.content


def manage_check(**env: str) -> subprocess.CompletedProcess[str]:
    """`manage.py check` in a child process with DEBUG off and every other secret valid."""
    values = {
        "DJANGO_DEBUG": "false",
        "PUBLIC_BASE_URL": "https://chat.example.com",
        **{
            name: secrets.token_urlsafe(32)
            for name in (
                "DJANGO_SECRET_KEY",
                "CENTRIFUGO_HTTP_API_KEY",
                "CENTRIFUGO_TOKEN_HMAC_SECRET_KEY",
                "FLOWER_PASSWORD",
            )
        },
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=prometheus_config.BASE_DIR,
        env={**os.environ, **values},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_debug_off_refuses_to_start_without_a_token() -> None:
    for refused in ("", "change-me"):
        result = manage_check(METRICS_BEARER_TOKEN=refused)
        assert result.returncode != 0
        assert "METRICS_BEARER_TOKEN" in result.stderr
    started = manage_check(METRICS_BEARER_TOKEN=secrets.token_urlsafe(32))
    assert "METRICS_BEARER_TOKEN" not in started.stdout + started.stderr


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_prometheus_scrapes_with_the_rendered_token_and_not_without(
    redis_service, live_server, settings, tmp_path: Path
) -> None:
    """The config make up renders sends the token: the web target is up and its numbers are
    queryable; the same target scraped without the token is down."""
    settings.METRICS_BEARER_TOKEN = TOKEN
    token_file = tmp_path / "metrics-token"
    token_file.write_text(TOKEN)
    web = f"127.0.0.1:{urllib.parse.urlsplit(live_server.url).port}"
    port = testing.free_port()
    config = yaml.safe_load(
        prometheus_config.render_config(
            {
                "web": web,
                "flower": f"127.0.0.1:{testing.free_port()}",  # not part of this test
                "centrifugo": f"127.0.0.1:{testing.free_port()}",
                "prometheus": f"127.0.0.1:{port}",
                "celery-workers": [],
            },
            scrape_interval="1s",
            web_token_file=token_file,
        )
    )
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
